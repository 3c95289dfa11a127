"""The audit chain: intact runs verify; every kind of tampering is found and named; audit rows are append-only."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import DBAPIError
from store_helpers import save_tiny, scalar, sql

from matcher.cli import cli
from matcher.store.db import open_store


def verify(url: str):
    return CliRunner().invoke(cli, ["audit", "verify", "--db", url])


@pytest.fixture
def three_runs(store_url, ok_small, ok_in_kind) -> str:
    """Runs 1 and 2 of ok-small (one snapshot), run 3 of ok-in-kind: audit entries 1..5."""
    save_tiny(store_url, ok_small)
    save_tiny(store_url, ok_small)
    save_tiny(store_url, ok_in_kind)
    return store_url


def drop_append_only_triggers(url: str) -> None:
    """What an attacker with full database rights would do first."""
    if url.startswith("postgresql"):
        sql(url, "DROP TRIGGER audit_entry_no_change ON audit_entry")
    else:
        sql(url, "DROP TRIGGER audit_entry_no_update", "DROP TRIGGER audit_entry_no_delete")


def test_intact_store_verifies(three_runs):
    out = verify(three_runs)
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("ok: 5 audit entries, 3 runs, 2 scenario snapshots intact; head ")


def test_empty_store_verifies(store_url):
    open_store(store_url).dispose()  # created, nothing saved yet
    out = verify(store_url)
    assert out.exit_code == 0
    assert out.stdout == f"ok: 0 audit entries, 0 runs, 0 scenario snapshots intact; head {'0' * 64}\n"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("UPDATE run_allocation SET amount = amount - 1 WHERE run_id = 2",
         "audit entry 3 (run_saved, run 2): the stored allocations of run 2 changed since it was recorded"),
        ("UPDATE run_outcome SET funded = 0, status = 'unfunded' WHERE run_id = 2 AND request = 'MLI-1'",
         "audit entry 3 (run_saved, run 2): the stored outcomes of run 2 changed since it was recorded"),
        ("UPDATE run_reason SET text = 'fine' WHERE outcome_id = (SELECT max(id) FROM run_outcome)",
         "audit entry 5 (run_saved, run 3): the stored outcomes of run 3 changed since it was recorded"),
        ("UPDATE run SET params_json = replace(params_json, '1000', '2000') WHERE id = 2",  # node_limit
         "audit entry 3 (run_saved, run 2): the stored params of run 2 changed since it was recorded"),
        ("UPDATE run SET note = 'approved' WHERE id = 3",
         "audit entry 5 (run_saved, run 3): the stored run of run 3 changed since it was recorded"),
        ("UPDATE run_term SET value = 30 WHERE run_id = 1 AND term = 'coverage'",
         "audit entry 2 (run_saved, run 1): the stored objective of run 1 changed since it was recorded"),
        ("UPDATE scenario_snapshot SET canonical_json = replace(canonical_json, '500000', '900000') WHERE id = 1",
         "audit entry 1 (scenario_imported, scenario 1): the stored snapshot of scenario snapshot 1 changed "
         "since it was recorded"),
        ("UPDATE run_stage SET bound = bound + 1 WHERE run_id = 2 AND position = 0",
         "audit entry 3 (run_saved, run 2): the stored stages of run 2 changed since it was recorded"),
        ("UPDATE run_donor SET allocated = 0 WHERE run_id = 3 AND donor = 'EXP'",
         "audit entry 5 (run_saved, run 3): the stored donors of run 3 changed since it was recorded"),
        ("DELETE FROM run WHERE id = 2",
         "audit entry 3 (run_saved, run 2): run 2 is missing; it was deleted"),
    ],
    ids=["allocation", "outcome", "reason", "params", "note", "objective", "snapshot", "stage", "donor", "delete-run"],
)
def test_tampering_is_found_and_named(three_runs, edit, message):
    sql(three_runs, edit)
    out = verify(three_runs)
    assert out.exit_code == 1
    assert out.stderr == f"Error: audit verify failed: {message}\n"
    assert out.stdout == ""


def test_reordered_entries_are_found(three_runs):
    drop_append_only_triggers(three_runs)
    sql(three_runs, "UPDATE audit_entry SET seq = -seq WHERE seq IN (2, 3)",
        "UPDATE audit_entry SET seq = 3 WHERE seq = -2", "UPDATE audit_entry SET seq = 2 WHERE seq = -3")
    out = verify(three_runs)
    assert out.exit_code == 1
    assert out.stderr == ("Error: audit verify failed: audit entry 2 (run_saved, run 2): does not follow the entry "
                          "before it; entries were removed or reordered\n")


def test_removed_entry_is_found(three_runs):
    drop_append_only_triggers(three_runs)
    sql(three_runs, "DELETE FROM audit_entry WHERE seq = 4")
    out = verify(three_runs)
    assert out.exit_code == 1
    assert out.stderr == ("Error: audit verify failed: audit entry 5: expected entry 4 here; entries were removed "
                          "or renumbered\n")


def test_edited_entry_is_found(three_runs):
    drop_append_only_triggers(three_runs)
    sql(three_runs, "UPDATE audit_entry SET by = 'someone else' WHERE seq = 2")
    out = verify(three_runs)
    assert out.stderr == ("Error: audit verify failed: audit entry 2 (run_saved, run 1): the entry itself was "
                          "edited (its hash does not match)\n")


def test_run_written_outside_matcher_is_found(three_runs):
    sql(three_runs, "INSERT INTO run (created_at, by, note, scenario_id, scenario_name, input_sha256, params_json, "
        "status, currency, engine, ortools_version, matcher_version, seed, threads, solve_seconds) "
        "SELECT created_at, by, note, scenario_id, scenario_name, input_sha256, params_json, status, currency, "
        "engine, ortools_version, matcher_version, seed, threads, solve_seconds FROM run WHERE id = 1")
    out = verify(three_runs)
    assert out.stderr == "Error: audit verify failed: run 4 has no audit entry; it was written outside matcher\n"


@pytest.mark.parametrize("statement", ["UPDATE audit_entry SET by = 'x'", "DELETE FROM audit_entry"])
def test_the_database_refuses_to_change_audit_rows(three_runs, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        sql(three_runs, statement)
    assert verify(three_runs).exit_code == 0


def test_postgresql_refuses_truncate(three_runs):
    if not three_runs.startswith("postgresql"):
        pytest.skip("TRUNCATE is PostgreSQL's")
    with pytest.raises(DBAPIError, match="append-only"):
        sql(three_runs, "TRUNCATE audit_entry")


def test_no_run_is_saved_against_an_edited_snapshot(three_runs, ok_small):
    """An honest run of a file whose stored snapshot was edited is not tied to the edited content
    (it was, silently, and then showed no warning)."""
    sql(three_runs, "UPDATE scenario_snapshot SET canonical_json = replace(canonical_json, '400000', '300000') "
                    "WHERE id = 1")
    with pytest.raises(Exception, match=r"scenario snapshot 1 \(ok-small\) was changed after it was saved"):
        save_tiny(three_runs, ok_small)
    assert scalar(three_runs, "SELECT count(*) FROM run") == 3


def test_a_deleted_runs_id_is_never_given_again(three_runs, ok_small):
    """SQLite handed the id of a deleted last run to the next one, which the chain then reported as
    run 3 "changed after it was saved", and the deletion itself went unnamed."""
    sql(three_runs, "DELETE FROM run WHERE id = 3")
    run_id, _ = save_tiny(three_runs, ok_small)
    assert run_id == 4
    out = verify(three_runs)
    assert out.exit_code == 1
    assert "run 3 is missing; it was deleted" in out.output


def test_reading_commands_leave_a_sqlite_copy_byte_for_byte(tmp_path, ok_small):
    """An auditor checksums a copy (VACUUM INTO, rollback journal), then verifies it: every reading
    command switched it to WAL, so the checksum changed."""
    import hashlib
    import sqlite3

    url = f"sqlite:///{tmp_path / 'store.db'}"
    save_tiny(url, ok_small)
    copy = tmp_path / "copy.db"
    with sqlite3.connect(tmp_path / "store.db") as conn:
        conn.execute(f"VACUUM INTO '{copy}'")
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    for args in (["audit", "verify"], ["runs"], ["show", "1"]):
        out = CliRunner().invoke(cli, [*args, "--db", str(copy)])
        assert out.exit_code == 0, out.output
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]

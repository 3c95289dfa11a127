"""The audit chain: intact runs verify; every kind of tampering is found and named; audit rows are append-only."""

from __future__ import annotations

import sqlite3

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
        (
            "UPDATE run_allocation SET amount = amount - 1 WHERE run_id = 2",
            "audit entry 3 (run_saved, run 2): the stored allocations of run 2 changed since it was recorded",
        ),
        (
            "UPDATE run_outcome SET funded = 0, status = 'unfunded' WHERE run_id = 2 AND request = 'MLI-1'",
            "audit entry 3 (run_saved, run 2): the stored outcomes of run 2 changed since it was recorded",
        ),
        (
            "UPDATE run_reason SET text = 'fine' WHERE outcome_id = (SELECT max(id) FROM run_outcome)",
            "audit entry 5 (run_saved, run 3): the stored outcomes of run 3 changed since it was recorded",
        ),
        (
            "UPDATE run SET params_json = replace(params_json, '1000', '2000') WHERE id = 2",  # node_limit
            "audit entry 3 (run_saved, run 2): the stored params of run 2 changed since it was recorded",
        ),
        (
            "UPDATE run SET note = 'approved' WHERE id = 3",
            "audit entry 5 (run_saved, run 3): the stored run of run 3 changed since it was recorded",
        ),
        (
            "UPDATE run_term SET value = 30 WHERE run_id = 1 AND term = 'coverage'",
            "audit entry 2 (run_saved, run 1): the stored objective of run 1 changed since it was recorded",
        ),
        (
            "UPDATE scenario_snapshot SET canonical_json = replace(canonical_json, '500000', '900000') WHERE id = 1",
            "audit entry 1 (scenario_imported, scenario 1): the stored snapshot of scenario snapshot 1 changed "
            "since it was recorded",
        ),
        (
            "UPDATE run_stage SET bound = bound + 1 WHERE run_id = 2 AND position = 0",
            "audit entry 3 (run_saved, run 2): the stored stages of run 2 changed since it was recorded",
        ),
        (
            "UPDATE run_donor SET allocated = 0 WHERE run_id = 3 AND donor = 'EXP'",
            "audit entry 5 (run_saved, run 3): the stored donors of run 3 changed since it was recorded",
        ),
        ("DELETE FROM run WHERE id = 2", "audit entry 3 (run_saved, run 2): run 2 is missing; it was deleted"),
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
    sql(
        three_runs,
        "UPDATE audit_entry SET seq = -seq WHERE seq IN (2, 3)",
        "UPDATE audit_entry SET seq = 3 WHERE seq = -2",
        "UPDATE audit_entry SET seq = 2 WHERE seq = -3",
    )
    out = verify(three_runs)
    assert out.exit_code == 1
    assert out.stderr == (
        "Error: audit verify failed: audit entry 2 (run_saved, run 2): does not follow the entry "
        "before it; entries were removed or reordered\n"
    )


def test_removed_entry_is_found(three_runs):
    drop_append_only_triggers(three_runs)
    sql(three_runs, "DELETE FROM audit_entry WHERE seq = 4")
    out = verify(three_runs)
    assert out.exit_code == 1
    assert out.stderr == (
        "Error: audit verify failed: audit entry 5: expected entry 4 here; entries were removed or renumbered\n"
    )


def test_edited_entry_is_found(three_runs):
    drop_append_only_triggers(three_runs)
    sql(three_runs, "UPDATE audit_entry SET by = 'someone else' WHERE seq = 2")
    out = verify(three_runs)
    assert out.stderr == (
        "Error: audit verify failed: audit entry 2 (run_saved, run 1): the entry itself was "
        "edited (its hash does not match)\n"
    )


def test_run_written_outside_matcher_is_found(three_runs):
    sql(
        three_runs,
        "INSERT INTO run (created_at, by, note, scenario_id, scenario_name, input_sha256, params_json, "
        "status, currency, engine, ortools_version, matcher_version, seed, threads, solve_seconds) "
        "SELECT created_at, by, note, scenario_id, scenario_name, input_sha256, params_json, status, currency, "
        "engine, ortools_version, matcher_version, seed, threads, solve_seconds FROM run WHERE id = 1",
    )
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
    sql(
        three_runs,
        "UPDATE scenario_snapshot SET canonical_json = replace(canonical_json, '400000', '300000') WHERE id = 1",
    )
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


def sqlite_cli(url: str, statement: str) -> None:
    """Edit the file as the sqlite3 shell would: foreign keys are not enforced there."""
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute(statement)
    conn.commit()
    conn.close()


def test_rows_planted_for_the_next_run_are_never_sealed_into_it(three_runs, ok_small):
    """SQLite does not enforce the run foreign keys: a grant inserted for run 4 before run 4 was saved was
    hashed into run 4's audit entry, so verify passed and `show 4` listed it (PostgreSQL refuses such rows)."""
    if three_runs.startswith("postgresql"):
        with pytest.raises(DBAPIError):
            sql(
                three_runs,
                "INSERT INTO run_allocation (run_id, position, donor, request, amount, kind, committed) "
                "VALUES (4, 99, 'DEU', 'MLI-1', 999999, 'funds', 0)",
            )
        return
    sqlite_cli(
        three_runs,
        "INSERT INTO run_allocation (run_id, position, donor, request, amount, kind, committed) "
        "VALUES (4, 99, 'DEU', 'MLI-1', 999999, 'funds', 0)",
    )
    run_id, result = save_tiny(three_runs, ok_small)
    assert run_id == 5  # the planted id is skipped
    assert scalar(three_runs, "SELECT count(*) FROM run_allocation WHERE run_id = 5") == len(result.allocations)
    out = verify(three_runs)
    assert out.stderr == (
        "Error: audit verify failed: run_allocation holds rows of run 4, which no saved run owns; "
        "they were written outside matcher\n"
    )


def test_reasons_planted_for_an_outcome_to_come_stop_the_save(three_runs, ok_small):
    if three_runs.startswith("postgresql"):
        pytest.skip("PostgreSQL enforces the outcome foreign key")
    sqlite_cli(
        three_runs,
        "INSERT INTO run_reason (outcome_id, position, code, text) "
        "SELECT max(id) + 1, 0, 'budget_spent', 'planted' FROM run_outcome",
    )
    with pytest.raises(Exception, match="run_reason already holds reasons of the outcomes of run 4"):
        save_tiny(three_runs, ok_small)
    assert scalar(three_runs, "SELECT count(*) FROM run") == 3
    assert "run_reason holds reasons of outcome" in verify(three_runs).stderr


def test_a_check_reads_the_store_as_of_its_start(three_runs, ok_small):
    """verify read the chain, then the runs: on PostgreSQL a run saved in between showed as "written outside
    matcher" (2 of 4 verifies during a stream of saves). A check now reads one snapshot."""
    from sqlmodel import Session, select

    from matcher.store.audit import one_snapshot
    from matcher.store.models import AuditEntry, Run

    engine = open_store(three_runs, create=False, reading=True)  # as verify opens it
    with Session(engine) as session:
        one_snapshot(session)
        assert len(list(session.exec(select(AuditEntry)))) == 5
        save_tiny(three_runs, ok_small)  # committed by another connection meanwhile
        assert set(session.exec(select(Run.id))) == {1, 2, 3}
    engine.dispose()
    assert verify(three_runs).exit_code == 0


def test_show_names_an_edited_replay_entry_instead_of_failing(three_runs):
    """A replay entry's record edited into something that is not JSON made `show` fail ("unexpected
    JSONDecodeError ... rerun with --debug")."""
    assert CliRunner().invoke(cli, ["replay", "1", "--db", three_runs]).exit_code == 0
    drop_append_only_triggers(three_runs)
    sql(three_runs, "UPDATE audit_entry SET parts_json = '{broken' WHERE kind = 'run_replayed'")
    out = CliRunner().invoke(cli, ["show", "1", "--db", three_runs])
    assert out.exit_code == 0, out.output
    assert "entry 6 edited: its record is not JSON (`matcher audit verify` names it)" in out.stdout
    assert "audit entry 6 (run_replayed, run 1): the entry itself was edited" in verify(three_runs).stderr


def _rewrite_chain(url: str) -> None:
    """What someone with write access and this source could do: edit run 1, then recompute every entry
    (the chain has no key). Verify alone passes afterwards; only a head kept outside shows it."""
    from sqlmodel import Session, col, select

    from matcher.scenario_io import canonical_json
    from matcher.store import audit
    from matcher.store.models import AuditEntry

    sqlite_cli(url, "UPDATE run_allocation SET amount = amount + 1000 WHERE run_id = 1 AND position = 0")
    engine = open_store(url)
    with Session(engine) as session:
        entries = list(session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))))
        prev, rows = audit.GENESIS, []
        for e in entries:
            parts = (
                audit.run_parts(session, e.run_id)
                if e.kind == audit.RUN_SAVED
                else audit.snapshot_parts(session, e.scenario_id)
            )
            e.parts_json = canonical_json(parts)
            e.content_sha256, e.prev_sha256 = audit.sha256_text(e.parts_json), prev
            prev = e.entry_sha256 = audit.entry_hash(e)
            rows.append((e.parts_json, e.content_sha256, e.prev_sha256, e.entry_sha256, e.id))
        session.rollback()
    engine.dispose()
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute("UPDATE audit_entry SET prev_sha256 = 'p' || id, entry_sha256 = 'e' || id")
    conn.executemany(
        "UPDATE audit_entry SET parts_json = ?, content_sha256 = ?, prev_sha256 = ?, entry_sha256 = ? WHERE id = ?",
        rows,
    )
    conn.commit()
    conn.close()


def test_a_head_kept_outside_finds_a_rebuilt_chain(three_runs, ok_small):
    head = verify(three_runs).stdout.split("head ")[1].strip()
    save_tiny(three_runs, ok_small)  # the chain grows: the kept head stays in it
    later = CliRunner().invoke(cli, ["audit", "verify", "--db", three_runs, "--expect-head", head[:12]])
    assert later.exit_code == 0 and later.stdout.strip().endswith("; the head you kept is entry 5")
    if three_runs.startswith("postgresql"):
        return  # the rebuild below edits the SQLite file directly
    drop_append_only_triggers(three_runs)
    _rewrite_chain(three_runs)
    assert verify(three_runs).exit_code == 0  # the design limit: a rebuilt chain verifies on its own
    out = CliRunner().invoke(cli, ["audit", "verify", "--db", three_runs, "--expect-head", head])
    assert out.exit_code == 1
    assert out.stderr == (
        f"Error: audit verify failed: the head you kept ({head[:12]}...) is not in the chain: the "
        "entries up to it were rewritten, or the chain was cut back before it\n"
    )

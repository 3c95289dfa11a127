"""Migrations: from an empty database to head equals SQLModel.metadata; `matcher db upgrade`."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect
from sqlmodel import SQLModel

from matcher.cli import cli
from matcher.store import models  # noqa: F401  (the tables)
from matcher.store.db import alembic_config, head_revision, make_engine, open_store, upgrade


def test_upgrade_from_empty_matches_the_models(store_url):
    engine = make_engine(store_url)
    assert upgrade(engine) == (None, head_revision())
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_empty_and_up_again(store_url):
    engine = make_engine(store_url)
    upgrade(engine)
    cfg = alembic_config(engine)
    command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert "audit_entry" in inspect(engine).get_table_names()
    engine.dispose()


def test_first_use_creates_the_schema(store_url):
    engine = open_store(store_url)
    assert {"run", "audit_entry", "scenario_snapshot"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_db_upgrade_command(store_url):
    runner = CliRunner()
    first = runner.invoke(cli, ["db", "upgrade", "--db", store_url])
    assert first.exit_code == 0
    assert first.stdout.endswith(f": schema {head_revision()} (was empty)\n")
    again = runner.invoke(cli, ["db", "upgrade", "--db", store_url])
    assert again.stdout.endswith(f": schema {head_revision()} (already current)\n")


def test_a_database_from_a_newer_matcher_is_refused(store_url):
    engine = open_store(store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    out = CliRunner().invoke(cli, ["runs", "--db", store_url])
    assert out.exit_code == 1
    assert out.stderr == "Error: the database is at schema 9999, newer than this matcher knows; upgrade matcher\n"


def test_unreachable_database_is_one_error_line(tmp_path):
    out = CliRunner().invoke(cli, ["runs", "--db", str(tmp_path / "no" / "such" / "m.db")])
    assert out.exit_code == 1
    assert out.stderr.startswith(f"Error: --db sqlite:///{tmp_path}/no/such/m.db: folder ")
    pg = CliRunner().invoke(cli, ["runs", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/none"])
    assert pg.exit_code == 1
    assert pg.stderr.startswith("Error: cannot open the database postgresql+psycopg://postgres@127.0.0.1:1/none: ")


def test_db_defaults_to_matcher_db_and_honours_matcher_db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "[default: ./matcher.db]" in CliRunner().invoke(cli, ["runs", "--help"]).stdout
    assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert (tmp_path / "matcher.db").exists()
    assert CliRunner().invoke(cli, ["runs"]).exit_code == 0
    monkeypatch.setenv("MATCHER_DB", str(tmp_path / "other.db"))
    assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert (tmp_path / "other.db").exists()


@pytest.mark.parametrize("command", [["runs"], ["show", "1"], ["replay", "1"], ["audit", "verify"]])
def test_a_command_that_only_reads_does_not_create_a_store_at_a_mistyped_path(tmp_path, command):
    typo = tmp_path / "matcehr.db"
    out = CliRunner().invoke(cli, [*command, "--db", str(typo)])
    assert out.exit_code == 1
    assert out.stderr == (
        f"Error: no store at {typo}: the file does not exist; check --db or MATCHER_DB (a store is "
        "created by `matcher run` or `matcher sweep --save`)\n"
    )
    assert not typo.exists()


def test_upgrade_to_0002_keeps_the_runs_of_0001_as_solves(store_url):
    """A store made at revision 0001 (runs had no kind) upgrades in place; its runs become solves."""
    engine = make_engine(store_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        assert "kind" not in {c["name"] for c in inspect(conn).get_columns("run")}
        conn.exec_driver_sql(
            "INSERT INTO scenario_snapshot (name, sha256, canonical_json, imported_at, imported_by) "
            "VALUES ('s', 'abc', '{}', 't', 'me')"
        )
        conn.exec_driver_sql(
            "INSERT INTO run (created_at, by, note, scenario_id, scenario_name, input_sha256, params_json, status, "
            "currency, engine, ortools_version, matcher_version, seed, threads, solve_seconds) VALUES "
            "('t', 'me', '', 1, 's', 'abc', '{}', 'optimal', 'USD', 'e', '9', '0.1.0', 0, 1, 0.5)"
        )
    assert upgrade(engine) == ("0001", head_revision())
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, kind FROM run").all() == [(1, "solve")]
    engine.dispose()


def test_a_solve_is_hashed_as_before_sweeps_existed(store_url, ok_small):
    """Entries written before revision 0002 still verify: a solve's audit parts did not change."""
    from sqlmodel import Session
    from store_helpers import save_tiny

    from matcher.store.audit import run_parts

    run_id, _ = save_tiny(store_url, ok_small)
    engine = open_store(store_url)
    with Session(engine) as session:
        parts = run_parts(session, run_id)
    engine.dispose()
    assert set(parts) == {
        "run",
        "params",
        "versions",
        "timings",
        "snapshot",
        "objective",
        "stages",
        "allocations",
        "outcomes",
        "donors",
    }


def test_a_command_that_only_reads_refuses_a_database_without_a_store(store_url):
    """An empty database (PostgreSQL created with createdb, or an empty SQLite file): reading it does not
    create the tables and call the store intact."""
    if store_url.startswith("sqlite"):
        path = store_url.removeprefix("sqlite:///")
        open(path, "wb").close()
    out = CliRunner().invoke(cli, ["audit", "verify", "--db", store_url])
    assert out.exit_code == 1
    assert out.stderr.startswith("Error: no store in ")
    assert "the database holds no matcher tables" in out.stderr
    engine = make_engine(store_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_db_upgrade_of_a_store_newer_than_this_matcher_is_one_error_line(tmp_path):
    """It was "unexpected CommandError: Can't locate revision"; the other commands already said this."""
    from click.testing import CliRunner
    from sqlalchemy import create_engine, text

    from matcher.cli import cli

    url = f"sqlite:///{tmp_path / 'm.db'}"
    assert CliRunner().invoke(cli, ["db", "upgrade", "--db", url]).exit_code == 0
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    out = CliRunner().invoke(cli, ["db", "upgrade", "--db", url])
    assert out.exit_code == 1
    assert out.stderr == "Error: the database is at schema 0099, newer than this matcher knows; upgrade matcher\n"

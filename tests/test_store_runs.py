"""Saving, listing, showing and replaying runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import re

import ortools
import pytest
from click.testing import CliRunner
from conftest import SCENARIOS
from sqlalchemy import create_engine, inspect
from store_helpers import PARAMS, save_tiny, scalar, sql, write_yaml

from matcher import __version__
from matcher.cli import cli
from matcher.scenario_io import canonical_json, input_sha256, load_scenario, parse_scenario, scenario_data
from matcher.store.db import open_store
from matcher.store.runs import list_runs, load_run


@pytest.mark.parametrize("fixture", ["ok_small", "ok_in_kind"])
def test_round_trip_gives_back_the_same_result_scenario_and_params(store_url, fixture, request):
    data = request.getfixturevalue(fixture)
    run_id, result = save_tiny(store_url, data, note="draft 1", by="alice")
    engine = open_store(store_url)
    stored = load_run(engine, run_id=run_id)
    engine.dispose()
    assert stored.result == result
    assert stored.result.to_json_data() == result.to_json_data()
    assert canonical_json(scenario_data(stored.scenario)) == canonical_json(scenario_data(parse_scenario(data)))
    assert stored.params == PARAMS.public()
    assert (stored.run.by, stored.run.note, stored.run.seed) == ("alice", "draft 1", 0)
    assert stored.run.input_sha256 == input_sha256(parse_scenario(data))
    assert any(o.reason_codes for o in stored.result.requests)  # reasons survive the trip


def test_one_snapshot_per_scenario_content(store_url, ok_small):
    save_tiny(store_url, ok_small)
    save_tiny(store_url, ok_small)
    changed = {**ok_small, "name": "ok-small-b"}
    save_tiny(store_url, changed)
    assert scalar(store_url, "SELECT count(*) FROM scenario_snapshot") == 2
    engine = open_store(store_url)
    assert [r.id for r in list_runs(engine, scenario="ok-small")] == [1, 2]
    assert [r.id for r in list_runs(engine, scenario="ok-small-b")] == [3]
    engine.dispose()


def test_cli_run_prints_the_run_id_and_show_json_is_the_solve_json(store_url, ok_small, tmp_path):
    f = write_yaml(tmp_path / "s.yaml", ok_small)
    runner = CliRunner()
    args = ["run", str(f), "--db", store_url, "--note", "first", "--by", "bob", "--node-limit", "1000"]
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert out.stdout == "1\n"
    assert out.stderr == "saved run 1: ok-small, optimal, coverage 24, volume 650,000, grants 2\n"
    shown = runner.invoke(cli, ["show", "1", "--db", store_url, "--format", "json"])
    solved = runner.invoke(cli, ["solve", str(f), "--format", "json", "--node-limit", "1000"])
    assert shown.exit_code == 0
    a, b = json.loads(shown.stdout), json.loads(solved.stdout)
    record = a.pop("run")  # the saved run's record, on top of the solve's own document
    assert {k: record[k] for k in ("id", "kind", "by", "note", "intact", "changed", "replays")} == {
        "id": 1,
        "kind": "solve",
        "by": "bob",
        "note": "first",
        "intact": True,
        "changed": None,
        "replays": [],
    }
    assert record["input_sha256"] == b["solver"]["input_sha256"] and record["params"]["node_limit"] == 1000
    for doc in (a, b):  # timings differ between two solves; everything else must not
        doc["solver"].pop("seconds")
        for st in doc["solver"]["stages"]:
            st.pop("seconds")
    assert a == b
    table = runner.invoke(cli, ["show", "1", "--db", store_url])
    assert table.exit_code == 0 and "by bob" in table.stdout and "note: first" in table.stdout
    csv_out = runner.invoke(cli, ["show", "1", "--db", store_url, "--format", "csv"])
    assert csv_out.stdout.splitlines()[1].startswith("NER-1,NER,africa,stockpile,5,400000,400000,USD,funded")


def test_cli_runs_lists_and_filters_by_scenario(store_url, ok_small):
    save_tiny(store_url, ok_small, note="a")
    save_tiny(store_url, {**ok_small, "name": "other"}, note="b")
    runner = CliRunner()
    out = runner.invoke(cli, ["runs", "--db", store_url, "--scenario", "other", "--format", "json"])
    assert out.exit_code == 0
    rows = json.loads(out.stdout)
    assert [(r["id"], r["scenario"], r["note"], r["coverage"]) for r in rows] == [(2, "other", "b", 24.0)]
    table = runner.invoke(cli, ["runs", "--db", store_url])
    assert table.stdout.splitlines()[0].split() == [
        "id",
        "kind",
        "created_at",
        "by",
        "scenario",
        "status",
        "coverage",
        "volume",
        "note",
    ]
    assert len(table.stdout.splitlines()) == 3


def test_show_of_a_missing_run_is_one_error_line(store_url):
    open_store(store_url).dispose()  # an empty store
    out = CliRunner().invoke(cli, ["show", "7", "--db", store_url])
    assert out.exit_code == 1
    assert out.stderr == "Error: run 7: no such run; `matcher runs` lists the saved runs\n"


def test_bad_input_writes_nothing(store_url, tmp_path, ok_small):
    bad = {**ok_small, "requests": [{**ok_small["requests"][0], "theme": "stockpiles"}]}
    f = write_yaml(tmp_path / "bad.yaml", bad)
    out = CliRunner().invoke(cli, ["run", str(f), "--db", store_url])
    assert out.exit_code == 1
    line = next(n for n, text in enumerate(f.read_text().splitlines(), 1) if "theme: stockpiles" in text)
    assert out.stderr.startswith(f"Error: {f}:{line}: requests[0].theme:")
    if store_url.startswith("sqlite"):
        assert not (tmp_path / "matcher.db").exists()
    else:  # not even the schema (plain SQLAlchemy: open_store would create it)
        engine = create_engine(store_url)
        assert inspect(engine).get_table_names() == []
        engine.dispose()


def test_replay_identical_exits_0(store_url, ok_in_kind):
    run_id, _ = save_tiny(store_url, ok_in_kind)
    out = CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url])
    assert out.exit_code == 0, out.output
    assert out.stdout == "run 1: replay identical (3 allocations, 4 requests)\n"
    assert out.stderr == ""
    assert scalar(store_url, "SELECT kind FROM audit_entry ORDER BY seq DESC LIMIT 1") == "run_replayed"


def test_replay_that_differs_exits_5_with_the_diff(store_url, ok_small):
    run_id, _ = save_tiny(store_url, ok_small)
    sql(
        store_url,
        "UPDATE run_allocation SET amount = 300000 WHERE request = 'NER-1'",
        "UPDATE run_outcome SET funded = 300000, status = 'partial' WHERE request = 'NER-1'",
    )
    out = CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url])
    assert out.exit_code == 5
    assert out.stdout.splitlines() == [
        "run 1 was changed after it was saved: audit entry 2 (run_saved, run 1): the stored allocations, outcomes of "
        "run 1 changed since it was recorded",
        "allocation DEU -> NER-1 (funds): 300000 -> 400000",
        "request NER-1: partial 300000/400000 -> funded 400000/400000",
    ]
    # the objective terms as stored (the edit left them alone), and no claim that the records are intact
    assert out.stderr == "objective: coverage 24, volume 650,000, grants 2\nrun 1: replay differs in 3 places\n"


def test_a_replay_that_differs_on_intact_records_says_so_and_compares_the_objective(store_url, ok_small, monkeypatch):
    """What an auditor asks of a differing replay: was the run changed, and is the new answer as good?"""
    import matcher.store.replay as replay_module

    run_id, _ = save_tiny(store_url, ok_small)
    real = replay_module.solve

    def another_machine(scenario, params):  # as if the re-solve had stopped elsewhere: one grant fewer
        r = real(scenario, params)
        return r.model_copy(
            update={
                "allocations": r.allocations[:-1],
                "objective": {**r.objective, "grants": r.objective["grants"] - 1},
            }
        )

    monkeypatch.setattr(replay_module, "solve", another_machine)
    out = CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url])
    assert out.exit_code == 5
    assert out.stderr.splitlines()[-2:] == [
        "objective: coverage 24, volume 650,000, grants 2 -> 1; the run's records match its audit entry",
        "run 1: replay differs in 1 place",
    ]


def test_replay_of_a_run_changed_with_its_scenario_is_not_identical(store_url, ok_small):
    """Records changed together with the stored scenario replay to the same allocation: the audit
    entry, not the re-solve, shows the change."""
    run_id, _ = save_tiny(store_url, ok_small)
    sql(
        store_url,
        "UPDATE scenario_snapshot SET canonical_json = replace(canonical_json, '400000', '300000')",
        "UPDATE run_allocation SET amount = 300000 WHERE request = 'NER-1'",
        "UPDATE run_outcome SET amount = 300000, funded = 300000 WHERE request = 'NER-1'",
    )
    out = CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url])
    assert out.exit_code == 5
    assert out.stdout.startswith("run 1 was changed after it was saved: audit entry 2 (run_saved, run 1): the stored ")
    shown = CliRunner().invoke(cli, ["show", str(run_id), "--db", store_url])
    assert shown.exit_code == 0
    assert shown.stderr.startswith("Warning: run 1 was changed after it was saved (audit entry 2 (run_saved, run 1)")


def test_replay_warns_when_versions_differ(store_url, ok_small, monkeypatch):
    run_id, _ = save_tiny(store_url, ok_small)
    monkeypatch.setattr(ortools, "__version__", "9.99.0")  # this matcher now runs on a newer OR-Tools
    out = CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url])
    assert out.exit_code == 0
    assert out.stderr.startswith(f"Warning: run 1 was solved with matcher {__version__} and OR-Tools ")
    assert f"this is matcher {__version__} and OR-Tools 9.99.0" in out.stderr


def test_a_differing_replay_names_the_wall_clock_searches_of_the_run(store_url, ok_small):
    """A run saved with --polish (wall time) or that took most of its time limit may replay
    differently without anyone changing it: when the replay differs, the warning says so."""
    run_id, _ = save_tiny(store_url, ok_small)
    params = json.dumps({**PARAMS.public(), "node_limit": None, "polish_seconds": 5.0}, sort_keys=True)
    sql(store_url, f"UPDATE run SET params_json = '{params}', node_limit = NULL, solve_seconds = 50, time_limit = 60")
    out = CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url])
    assert out.exit_code == 5  # the records changed after saving: a difference, whatever the clock did
    warnings = [line for line in out.stderr.splitlines() if line.startswith("Warning: ")]
    assert warnings[0] == (
        "Warning: run 1 was solved with --polish 5, a search for fewer grants in wall time, so "
        "its grants may differ on another machine or under another load"
    )
    assert warnings[1].startswith("Warning: run 1 took 50.0 s of its 60 s time limit: where the limit stopped a step")


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_replay_identical_on_every_bundled_scenario(store_url, path):
    """The README's scenarios, saved with the defaults, replay to the same allocation: nothing but the
    time limit depends on the clock (the grants stage is work-limited), so the replay is exact."""
    url = store_url
    runner = CliRunner()
    saved = runner.invoke(cli, ["run", str(path), "--db", url, "--time-limit", "120"])
    assert saved.exit_code in (0, 3), saved.output
    out = runner.invoke(cli, ["replay", saved.stdout.strip(), "--db", url])
    assert out.exit_code == 0, out.output
    assert out.stderr == ""  # an identical replay needs no excuse, even of a run not proven optimal
    listed = json.loads(runner.invoke(cli, ["runs", "--db", url, "--format", "json"]).stdout)
    assert listed[0]["scenario"] == load_scenario(path).name


@pytest.mark.parametrize("edit", ["UPDATE run SET status = 'checked'", "UPDATE run SET params_json = '{\"bogus\": 1}'"])
def test_a_run_changed_into_unreadable_records_replays_as_changed(store_url, ok_small, edit):
    """It was "unexpected ValidationError/TypeError" (exit 1), and the change itself went unreported."""
    run_id, _ = save_tiny(store_url, ok_small)
    sql(store_url, edit)
    out = CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url])
    assert out.exit_code == 5
    lines = out.stdout.splitlines()
    assert lines[0].startswith("run 1 was changed after it was saved: audit entry 2 (run_saved, run 1)")
    assert lines[1].startswith("run 1: its stored records cannot be read (")
    shown = CliRunner().invoke(cli, ["show", str(run_id), "--db", store_url])
    assert shown.exit_code == 1
    assert shown.stderr.splitlines()[-1].startswith("Error: run 1: its stored records cannot be read (")


def test_a_replay_that_differs_in_reason_wording_shows_the_wording(store_url, ok_small):
    """The line read "unfunded 0/450000 [budget_spent] -> unfunded 0/450000 [budget_spent]"."""
    run_id, _ = save_tiny(store_url, ok_small)
    sql(store_url, "UPDATE run_reason SET text = 'edited reason' WHERE text IS NOT NULL")
    out = CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url])
    assert out.exit_code == 5
    worded = [line for line in out.stdout.splitlines() if line.startswith("request ")]
    assert worded and all(' reasons ["edited reason' in line and "] -> [" in line for line in worded)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://auditor:S3cret@db.example/matcher",
            "Error: --db mysql://auditor:***@db.example/matcher: mysql is not supported",
        ),
        ("postgresql+psycopg://auditor:S3cret@127.0.0.1:notaport/m", "Error: --db: not a valid URL (invalid literal"),
        pytest.param(
            "postgresql+psycopg2://auditor:S3cret@127.0.0.1/m",
            "Error: --db postgresql+psycopg2://auditor:***@127.0.0.1/m: the driver 'psycopg2' is not installed; "
            "write the URL as postgresql+psycopg://",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("psycopg2") is not None, reason="psycopg2 is installed here"
            ),
        ),
    ],
)
def test_a_bad_database_url_is_one_line_without_the_password(url, message):
    out = CliRunner().invoke(cli, ["runs", "--db", url])
    assert out.exit_code == 1
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1
    assert "S3cret" not in out.stderr


def test_a_run_id_beyond_any_store_is_a_usage_error(store_url):
    out = CliRunner().invoke(cli, ["show", "9223372036854775808", "--db", store_url])
    assert out.exit_code == 2
    assert "is not in the range 1<=x<=2147483647" in out.stderr


def test_a_name_on_several_lines_is_refused_before_anything_is_saved(store_url, ok_small, tmp_path):
    """--by went into show's header as given: a newline in it faked a note and a replay verdict."""
    path = write_yaml(tmp_path / "s.yaml", ok_small)
    out = CliRunner().invoke(cli, ["run", str(path), "--db", store_url, "--by", "clerk\nnote: approved"])
    assert out.exit_code == 2 and "give a name on one line" in out.stderr
    assert scalar(store_url, "SELECT count(*) FROM run") == 0


def test_a_note_with_newlines_stays_on_its_line(store_url, ok_small, tmp_path):
    """A note could add a fake "params:" line to `show`'s header and break the `runs` table."""
    path = tmp_path / "s.yaml"
    write_yaml(path, ok_small)
    note = "draft\nparams: method=auto, node_limit=2000"
    assert CliRunner().invoke(cli, ["run", str(path), "--db", store_url, "--note", note]).exit_code == 0
    shown = CliRunner().invoke(cli, ["show", "1", "--db", store_url]).stdout.splitlines()
    assert shown[1] == "note: draft\\nparams: method=auto, node_limit=2000"
    assert [line for line in shown if line.startswith("params:")] == [shown[2]]
    listed = CliRunner().invoke(cli, ["runs", "--db", store_url]).stdout.splitlines()
    assert len(listed) == 2 and listed[1].endswith("draft\\nparams: method=auto, node_limit=2000")
    as_json = json.loads(CliRunner().invoke(cli, ["runs", "--db", store_url, "--format", "json"]).stdout)
    assert as_json[0]["note"] == note  # the data keeps it as written


def test_show_lists_the_runs_replays_and_their_verdicts(store_url, ok_small):
    """A replay was recorded only as hashes: nobody could see later that a run once replayed differently."""
    run_id, _ = save_tiny(store_url, ok_small)
    assert CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url, "--by", "auditor"]).exit_code == 0
    sql(store_url, "UPDATE run_allocation SET amount = 300000 WHERE request = 'NER-1'")
    assert CliRunner().invoke(cli, ["replay", str(run_id), "--db", store_url, "--by", "auditor"]).exit_code == 5
    shown = CliRunner().invoke(cli, ["show", str(run_id), "--db", store_url]).stdout.splitlines()
    line = next(x for x in shown if x.startswith("replays: "))
    assert re.fullmatch(r"replays: \S+Z by auditor: identical; \S+Z by auditor: differs in 2 places", line)


def test_run_warns_when_it_saves_a_wall_clock_search(store_url, ok_small, tmp_path):
    """sweep --save said a stopped sweep would not replay exactly; run said nothing."""
    path = write_yaml(tmp_path / "s.yaml", ok_small)
    out = CliRunner().invoke(cli, ["run", str(path), "--db", store_url, "--polish", "1"])
    assert out.exit_code == 0
    assert (
        "Warning: --polish 1 searched for fewer grants in wall time; a replay may end with other grants" in out.stderr
    )
    quiet = CliRunner().invoke(cli, ["run", str(path), "--db", store_url])
    assert "Warning" not in quiet.stderr


def test_a_replay_on_a_store_it_cannot_write_keeps_its_verdict(store_url, ok_small, monkeypatch):
    """Read-only access (an auditor's role): the replay re-solved, then failed on the INSERT of its audit
    entry and never said whether the run was identical."""
    run_id, _ = save_tiny(store_url, ok_small)
    url = store_url
    if store_url.startswith("postgresql"):  # a role that may only read
        url = store_url + "?options=-c%20default_transaction_read_only%3Don"
    else:  # as root this process writes any file: make the write fail as a read-only file would
        from sqlalchemy.exc import OperationalError

        import matcher.store.replay as replay_module

        def refuse(*_args):
            raise OperationalError("INSERT", {}, Exception("attempt to write a readonly database"))

        monkeypatch.setattr(replay_module, "_record", refuse)
    out = CliRunner().invoke(cli, ["replay", str(run_id), "--db", url])
    assert out.exit_code == 0, out.output
    assert "replay identical" in out.stdout
    assert "Warning: this replay could not be recorded in the audit chain" in out.stderr


def test_compare_and_report_take_a_saved_run_as_it_was_saved(store_url, ok_small, tmp_path):
    """A regional centre compares a saved run with a what-if on it, without solving the saved one again: its
    column is the stored allocation (an edit to the stored rows shows up there, with a warning)."""
    f = write_yaml(tmp_path / "s.yaml", ok_small)
    runner = CliRunner()
    assert runner.invoke(cli, ["run", str(f), "--db", store_url]).exit_code == 0
    sql(store_url, "UPDATE run_outcome SET funded = 1 WHERE request = 'NER-1'")
    out = runner.invoke(cli, ["compare", "1", "--set", "donors[0].budget*=0.5", "--db", store_url, "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["options"] == ["run 1", "run 1 [donors[0].budget*=0.5]"]
    assert "Warning: run 1 was changed after it was saved" in out.stderr
    assert list(doc["warnings"]) == ["run 1"]  # in the document too, not on the terminal alone
    page = tmp_path / "r.html"
    out = runner.invoke(cli, ["report", "1", "--db", store_url, "-o", str(page)])
    assert out.exit_code == 0, out.output
    assert "<b>Warning:</b> run 1 was changed after it was saved" in page.read_text(encoding="utf-8")
    missing = runner.invoke(cli, ["report", "9", "--db", store_url, "-o", str(tmp_path / "x.html")])
    assert (missing.exit_code, missing.output.strip()) == (
        1,
        "Error: run 9: no such run; `matcher runs` lists the saved runs",
    )
    assert not (tmp_path / "x.html").exists()


def test_a_what_if_on_a_saved_run_is_solved_with_the_runs_own_parameters(store_url, ok_small, tmp_path, monkeypatch):
    """compare 1 --set ... once solved the what-if with compare's defaults: a change that does nothing showed
    other grants (a run saved with --polish 5 --node-limit 200 against none of it)."""
    import matcher.options

    f = write_yaml(tmp_path / "s.yaml", ok_small)
    runner = CliRunner()
    assert runner.invoke(cli, ["run", str(f), "--db", store_url, "--node-limit", "7", "--gap", "0.01"]).exit_code == 0
    seen = []
    real = matcher.options.solve
    monkeypatch.setattr(matcher.options, "solve", lambda s, p=None: seen.append(p) or real(s, p))
    out = runner.invoke(cli, ["compare", "1", "--set", "donors[0].budget*=1", "--db", store_url, "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [(p.node_limit, p.relative_gap) for p in seen] == [(7, 0.01)]

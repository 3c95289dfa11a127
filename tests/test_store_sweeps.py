"""Saved sweeps (issue 7, item 6): one run record with its draws, shown, replayed and audited, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import signal

import pytest
from click.testing import CliRunner
from helpers import two_uncertain_donors
from sqlalchemy import create_engine, inspect
from store_helpers import matcher_process, scalar, sql, write_yaml
from test_store_durability import TABLES, wait_for

from matcher.cli import cli
from matcher.store.runs import PAUSE_ENV

SWEEP_TABLES = (*TABLES, "run_sweep", "run_draw")


@pytest.fixture
def uncertain() -> dict:
    """JPN (confidence 0.7) alone can fund NER-1; NOR's pledge arrives as 50,000..100,000 for PER-1."""
    return {
        "name": "one-uncertain",
        "currency": "USD",
        "donors": [
            {"id": "JPN", "budget": 200000, "confidence": 0.7, "countries": ["NER"]},
            {"id": "NOR", "budget": 100000, "countries": ["PER"], "budget_range": [50000, 100000]},
        ],
        "requests": [
            {"id": "NER-1", "country": "NER", "theme": "stockpile", "amount": 200000, "priority": 5},
            {"id": "PER-1", "country": "PER", "theme": "legislation", "amount": 100000, "min_funding": 0},
        ],
    }


def sweep(path, url: str, *args: str):
    return CliRunner().invoke(
        cli, ["sweep", str(path), "--quiet", "--workers", "2", "--node-limit", "100", "--db", url, *args]
    )


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def saved(store_url, uncertain, tmp_path) -> tuple[str, str]:
    """Run 1: a saved sweep of 40 draws (seed 3) with a note; (database url, the sweep's JSON output)."""
    f = write_yaml(tmp_path / "round.yaml", uncertain)
    out = sweep(
        f,
        store_url,
        "--draws",
        "40",
        "--seed",
        "3",
        "--format",
        "json",
        "--save",
        "--note",
        "JPN at 70%",
        "--by",
        "desk",
        "--gap",
        "1e-5",
    )
    assert out.exit_code == 0, out.output
    assert out.stderr == "saved run 1: sweep of one-uncertain, 40 solves\n"
    return store_url, out.stdout


def test_a_saved_sweep_is_one_run_with_its_draws(saved):
    url, printed = saved
    assert scalar(url, "SELECT count(*) FROM run") == 1
    assert scalar(url, "SELECT kind FROM run") == "sweep"
    assert scalar(url, "SELECT count(*) FROM run_draw") == 40  # every draw differs (NOR's budget range)
    assert scalar(url, "SELECT count(*) FROM run_allocation") == 0
    listed = json.loads(invoke("runs", "--db", url, "--format", "json").stdout)
    assert [(r["id"], r["kind"], r["by"], r["note"], r["status"]) for r in listed] == [
        (1, "sweep", "desk", "JPN at 70%", "optimal")
    ]
    spec = json.loads(scalar(url, "SELECT spec_json FROM run_sweep"))
    assert (spec["draws"], spec["seed"], spec["params"]["node_limit"]) == (40, 3, 100)
    assert spec["params"]["relative_gap"] == 1e-5  # --gap reaches every solve, and the replay
    draws = sorted(d for text in _column(url, "SELECT draws_json FROM run_draw") for d in json.loads(text))
    assert draws == list(range(40))
    assert json.loads(printed)["points"][0]["draws"] == 40


def _column(url: str, statement: str) -> list:
    from matcher.store.db import open_store

    engine = open_store(url)
    with engine.connect() as conn:
        values = [row[0] for row in conn.exec_driver_sql(statement)]
    engine.dispose()
    return values


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_show_prints_what_the_sweep_printed(saved, uncertain, tmp_path, fmt):
    url, _ = saved
    f = write_yaml(tmp_path / "round.yaml", uncertain)
    again = CliRunner().invoke(
        cli, ["sweep", str(f), "--quiet", "--node-limit", "100", "--draws", "40", "--seed", "3", "--format", fmt]
    )
    shown = invoke("show", "1", "--db", url, "--format", fmt)
    assert shown.exit_code == 0, shown.output
    if fmt == "table":
        head, _, body = shown.stdout.partition("\n\n")
        assert head.splitlines()[0].startswith("run 1 · sweep · ")
        assert "note: JPN at 70%" in head and "sweep: draws=40, seed=3, threshold=0.9" in head
        assert body == again.stdout
    elif fmt == "json":  # the sweep's document, with the saved run's record under "run"
        doc = json.loads(shown.stdout)
        record = doc.pop("run")
        assert doc == json.loads(again.stdout)
        assert (record["id"], record["kind"], record["note"], record["intact"]) == (1, "sweep", "JPN at 70%", True)
    else:
        assert shown.stdout == again.stdout


def test_replay_of_a_sweep_is_identical_and_recorded(saved):
    url, _ = saved
    out = invoke("replay", "1", "--db", url, "--workers", "1")
    assert out.exit_code == 0, out.output
    assert out.stdout == "run 1: replay identical (sweep, 40 solves)\n"
    assert out.stderr == ""
    assert scalar(url, "SELECT kind FROM audit_entry ORDER BY seq DESC LIMIT 1") == "run_replayed"
    assert invoke("audit", "verify", "--db", url).exit_code == 0


def test_replay_of_a_changed_sweep_exits_5_and_names_the_solve(saved):
    url, _ = saved
    sql(url, "UPDATE run_draw SET grants = 7 WHERE position = 0")
    out = invoke("replay", "1", "--db", url)
    assert out.exit_code == 5
    lines = out.stdout.splitlines()
    assert lines[0] == (
        "run 1 was changed after it was saved: audit entry 2 (run_saved, run 1): the stored draws of "
        "run 1 changed since it was recorded"
    )
    assert lines[1].startswith("solve 1 (point 1, draw 0): grants 7 -> ")
    assert out.stderr == "run 1: replay differs in 2 places\n"


def test_a_sweep_changed_with_its_options_does_not_replay_as_identical(saved):
    """The threshold changed in the stored options and in the stored output alike: running those
    options again gives that output, so only the audit entry shows the change, and the replay
    says so; `show` warns before printing the changed sweep."""
    url, _ = saved
    sql(
        url,
        "UPDATE run_sweep SET spec_json = replace(spec_json, '\"threshold\"\\:0.9', '\"threshold\"\\:0.3'), "
        "output_json = replace(output_json, '\"threshold\"\\:0.9', '\"threshold\"\\:0.3')",
    )  # \\: no bind
    assert "0.3" in scalar(url, "SELECT spec_json FROM run_sweep")
    out = invoke("replay", "1", "--db", url, "--workers", "1")
    assert out.exit_code == 5
    assert out.stdout.splitlines()[0] == (
        "run 1 was changed after it was saved: audit entry 2 (run_saved, run 1): "
        "the stored sweep of run 1 changed since it was recorded"
    )
    shown = invoke("show", "1", "--db", url)
    assert shown.exit_code == 0
    assert shown.stderr.startswith("Warning: run 1 was changed after it was saved")


def test_a_sweep_whose_records_cannot_be_read_gives_one_error_line(saved):
    """show: one Error line; replay: the change is the difference (exit 5), not a failure to read."""
    url, _ = saved
    sql(url, "UPDATE run_sweep SET spec_json = '{bad'")
    out = invoke("show", "1", "--db", url)
    assert out.exit_code == 1
    assert out.stderr.splitlines()[-1].startswith("Error: run 1: its stored records cannot be read (")
    assert "matcher audit verify" in out.stderr
    out = invoke("replay", "1", "--db", url)
    assert out.exit_code == 5
    lines = out.stdout.splitlines()
    assert lines[0].startswith("run 1 was changed after it was saved: audit entry ")
    assert lines[1].startswith("run 1: its stored records cannot be read (")
    assert out.stderr == "run 1: replay differs in 2 places\n"


@pytest.mark.parametrize(
    ("edit", "part"),
    [
        ("UPDATE run_draw SET placed = placed + 1 WHERE position = 3", "draws"),
        ("UPDATE run_draw SET outcome_json = replace(outcome_json, 'funded', 'partial') WHERE position = 5", "draws"),
        ("DELETE FROM run_draw WHERE position = 7", "draws"),
        ("UPDATE run_sweep SET output_json = replace(output_json, 'NER-1', 'NER-2')", "sweep"),
        ("UPDATE run_sweep SET spec_json = replace(spec_json, '40', '400')", "sweep"),
        ("UPDATE run SET kind = 'solve'", "kind"),
    ],
    ids=["draw", "outcome", "delete-draw", "summary", "spec", "kind"],
)
def test_tampering_with_a_saved_sweep_is_found_and_named(saved, edit, part):
    url, _ = saved
    sql(url, edit)
    out = invoke("audit", "verify", "--db", url)
    assert out.exit_code == 1
    assert out.stderr == (
        f"Error: audit verify failed: audit entry 2 (run_saved, run 1): the stored {part} of run 1 "
        "changed since it was recorded\n"
    )


def test_draws_hung_on_a_solve_are_found(store_url, uncertain, tmp_path, saved):
    url, _ = saved
    f = write_yaml(tmp_path / "round.yaml", uncertain)
    assert invoke("run", str(f), "--db", url, "--node-limit", "100").exit_code == 0  # run 2, a solve
    sql(url, "UPDATE run_draw SET run_id = 2 WHERE position = 0")
    out = invoke("audit", "verify", "--db", url)
    assert out.exit_code == 1
    assert "audit entry 2 (run_saved, run 1): the stored draws of run 1 changed" in out.stderr


def test_a_grid_sweep_saves_and_replays(store_url, uncertain, tmp_path):
    f = write_yaml(tmp_path / "round.yaml", uncertain)
    out = sweep(f, store_url, "--vary", "donors[NOR].budget=50000,100000", "--format", "csv", "--save")
    assert out.exit_code == 0, out.output
    assert scalar(store_url, "SELECT count(*) FROM run_draw") == 2
    assert invoke("show", "1", "--db", store_url, "--format", "csv").stdout == out.stdout
    replay = invoke("replay", "1", "--db", store_url)
    assert replay.exit_code == 0, replay.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--draws", "5", "--vary", "donors[XX].budget=1,2"],
            "Error: --vary 'donors[XX].budget=1,2': 'donors[XX].budget': no donors entry with id 'XX' "
            "(known: JPN, NOR)",
        ),
        (["--draws", "5", "--note", "x"], "Error: --note and --by are kept with a saved sweep; add --save"),
    ],
)
def test_bad_input_with_save_writes_nothing(store_url, uncertain, tmp_path, args, message):
    f = write_yaml(tmp_path / "round.yaml", uncertain)
    save = [] if "--note" in args else ["--save"]
    out = sweep(f, store_url, *args, *save)
    assert out.exit_code == 1
    assert out.stderr == message + "\n"
    if store_url.startswith("sqlite"):
        assert not (tmp_path / "matcher.db").exists()
    else:  # not even the schema: plain SQLAlchemy, since open_store would create it
        engine = create_engine(store_url)
        assert inspect(engine).get_table_names() == []
        engine.dispose()


def test_sweep_killed_inside_its_save_leaves_nothing(store_url, uncertain, tmp_path):
    f = write_yaml(tmp_path / "round.yaml", uncertain)
    assert invoke("db", "upgrade", "--db", store_url).exit_code == 0
    marker = tmp_path / "paused"
    proc = matcher_process(
        "sweep",
        str(f),
        "--draws",
        "10",
        "--workers",
        "1",
        "--node-limit",
        "100",
        "--quiet",
        "--save",
        "--db",
        store_url,
        env={PAUSE_ENV: str(marker)},
    )
    wait_for(marker)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert {t: scalar(store_url, f"SELECT count(*) FROM {t}") for t in SWEEP_TABLES} == dict.fromkeys(SWEEP_TABLES, 0)
    assert invoke("audit", "verify", "--db", store_url).exit_code == 0


def test_a_sweep_with_a_failed_draw_is_not_stored_as_optimal():
    from types import SimpleNamespace

    from matcher.store.sweeps import sweep_status
    from matcher.sweep.run import SolvedDraw
    from matcher.sweep.work import Outcome

    def draw(status):
        return SolvedDraw(0, {}, [0], Outcome(status, None, 0, 0, {}, {}, {}, {}, 0.0))

    assert sweep_status(SimpleNamespace(solved=[draw("optimal"), draw("optimal")])) == "optimal"
    assert sweep_status(SimpleNamespace(solved=[draw("optimal"), draw("error")])) == "feasible"


def test_show_keeps_how_often_the_safe_list_held_together(store_url, tmp_path):
    """show read a saved sweep back without the share of draws in which all the safe requests were funded
    together (null in JSON, the line gone from the table)."""
    data = two_uncertain_donors()
    f = write_yaml(tmp_path / "two.yaml", data)
    out = sweep(f, store_url, "--draws", "60", "--seed", "1", "--format", "json", "--save")
    assert out.exit_code == 0, out.output
    printed = json.loads(out.stdout)["points"][0]
    assert len(printed["safe"]) == 2 and printed["safe_together"] is not None
    shown = invoke("show", "1", "--db", store_url, "--format", "json")
    assert json.loads(shown.stdout)["points"][0]["safe_together"] == printed["safe_together"]
    assert "fully funded together in" in " ".join(invoke("show", "1", "--db", store_url).stdout.split())


def test_an_exact_sweep_saves_shows_and_replays(store_url, tmp_path):
    data = {
        "name": "two-sure",
        "currency": "USD",
        "donors": [
            {"id": "JPN", "budget": 200000, "confidence": 0.7, "countries": ["NER"]},
            {"id": "NOR", "budget": 100000, "confidence": 0.8, "countries": ["PER"]},
        ],
        "requests": [
            {"id": "NER-1", "country": "NER", "theme": "stockpile", "amount": 200000, "priority": 5},
            {"id": "PER-1", "country": "PER", "theme": "legislation", "amount": 100000},
        ],
    }
    f = write_yaml(tmp_path / "round.yaml", data)
    out = sweep(f, store_url, "--exact", "--format", "json", "--save")
    assert out.exit_code == 0, out.output
    assert scalar(store_url, "SELECT count(*) FROM run_draw") == 4  # the four combinations, each solved once
    assert json.loads(invoke("show", "1", "--db", store_url, "--format", "json").stdout)["exact"] is True
    replay = invoke("replay", "1", "--db", store_url)
    assert replay.exit_code == 0, replay.output
    assert "replay identical" in replay.output


def test_a_sweep_saved_before_exact_existed_still_replays_identical(saved):
    """Sweeps saved by 0.3.1 have no "exact" key in their summary; the replay once read it as null against
    false and called every such sweep changed (exit 5)."""
    import dataclasses

    from matcher.store.db import open_store
    from matcher.store.sweep_replay import sweep_differences
    from matcher.store.sweeps import load_sweep, stored_result

    url, _output = saved
    engine = open_store(url, create=False, reading=True)
    stored = load_sweep(engine, run_id=1)
    engine.dispose()
    before = dataclasses.replace(stored, output={k: v for k, v in stored.output.items() if k != "exact"})
    assert sweep_differences(before, stored_result(stored)) == []

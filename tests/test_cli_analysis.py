"""CLI: compare, explain, value, graph and report; exact exit codes and Error: lines."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml
from analysis_fixtures import two_countries
from click.testing import CliRunner

from matcher.cli import cli

FAST = ["--time-limit", "10"]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(two_countries()), encoding="utf-8")
    (tmp_path / "more.yaml").write_text(
        yaml.safe_dump({"base": "base.yaml", "set": ["donors[A].budget+=150"]}), encoding="utf-8"
    )
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_compare_two_files_as_json(files):
    res = run("compare", str(files / "base.yaml"), str(files / "more.yaml"), "--format", "json", *FAST)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["options"] == ["base", "more"]
    assert doc["measures"]["more"]["money_placed"] == 550


def test_compare_one_file_and_set_as_csv(files):
    res = run("compare", str(files / "base.yaml"), "--set", "donors[A].budget+=150", "--format", "csv", *FAST)
    assert res.exit_code == 0, res.output
    table = list(csv.reader(io.StringIO(res.stdout)))
    assert table[0] == ["section", "key", "base", "base [donors[A].budget+=150]"]


def test_compare_needs_two_options(files):
    res = run("compare", str(files / "base.yaml"), *FAST)
    assert res.exit_code == 1
    assert res.stderr == (
        "Error: compare needs two options or more: give two files or saved runs, or one and --set PATH=V\n"
    )


def test_compare_bad_set_names_the_fix(files):
    res = run("compare", str(files / "base.yaml"), "--set", "donors[Z].budget=1", *FAST)
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: 'donors[Z].budget': no donors entry with id 'Z' (known: A, B)")


def test_compare_refuses_options_in_different_currencies(files):
    """2,000,000 EUR was shown under "Options compared (USD)" and compared with USD one to one."""
    (files / "eur.yaml").write_text(yaml.safe_dump({**two_countries(), "currency": "EUR"}), encoding="utf-8")
    for command in (["compare"], ["report", "-o", str(files / "r.html")]):
        res = run(*command, str(files / "base.yaml"), str(files / "eur.yaml"), *FAST)
        assert res.exit_code == 1
        assert res.stderr.startswith("Error: the options are in different currencies (")
        assert res.stderr.count("\n") == 1
    assert not (files / "r.html").exists()


def test_an_infeasible_option_has_no_figures_and_says_why(files):
    """It showed coverage 0, every request unfunded and a "lowest country", as if it were an allocation."""
    res = run(
        "compare",
        str(files / "base.yaml"),
        "--set",
        "donors[A].budget=0",  # B funds marking only
        "--set",
        "requests[R1].must_fund=true",
        "--format",
        "json",
        *FAST,
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    other = doc["options"][1]
    m = doc["measures"][other]
    assert m["status"] == "infeasible"
    assert m["coverage"] is None and m["money_placed"] is None and m["coverage_by_region"] == {}
    assert doc["changes"] == []  # nothing to compare a request's funding with
    assert f"Note: option {other} is infeasible. The hard rules admit no allocation" in res.stderr


def test_explain_table_and_json(files):
    res = run("explain", str(files / "base.yaml"), "R4", *FAST)
    assert res.exit_code == 0, res.output
    assert (
        "Binding rule: eligible donors' budgets (A) spent on requests with as much or more priority weight per "
        "USD requested: R1, R3" in res.stdout
    )
    assert "150 USD more from A funds it in full (149 does not)" in res.stdout
    res = run("explain", str(files / "base.yaml"), "R4", "--format", "json", "--no-what-if", *FAST)
    assert json.loads(res.stdout)["binding"]["code"] == "budget_spent"


def test_explain_unknown_request(files):
    res = run("explain", str(files / "base.yaml"), "R9", *FAST)
    assert res.exit_code == 1
    assert res.stderr == "Error: no request 'R9' in scenario 'two-countries' (known: R1, R2, R3, R4)\n"


def test_value_json(files):
    res = run("value", str(files / "base.yaml"), "--step", "150", "--format", "json", *FAST)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["levers"][0]["target"] == "A" and doc["levers"][0]["gain"] == pytest.approx(2)


def test_graph_table(files):
    res = run("graph", str(files / "base.yaml"))
    assert res.exit_code == 0, res.output
    assert "orphan requests (no donor may fund them): none" in res.stdout


def test_report_writes_one_file(files):
    out = files / "report.html"
    res = run("report", str(files / "base.yaml"), str(files / "more.yaml"), "-o", str(out), *FAST)
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert res.stderr == f"wrote {out}: 2 options\n"


def test_report_with_a_bad_input_writes_nothing(files):
    (files / "bad.yaml").write_text(
        "name: x\ncurrency: USD\ndonors: []\nrequests: [{id: R, country: XXX, theme: ddr, amount: 1}]\n"
    )
    out = files / "report.html"
    res = run("report", str(files / "base.yaml"), str(files / "bad.yaml"), "-o", str(out), *FAST)
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: ") and "requests[0].country" in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("command", ["compare", "explain", "value", "graph", "report"])
def test_every_command_has_an_example(command):
    res = run(command, "--help")
    assert res.exit_code == 0 and "Example:" in res.output


def test_compare_says_when_options_weigh_coverage_differently(files):
    """An option with other weights showed a priority-weighted coverage on another scale (108 beside 74),
    as if it were better; the note says which option and what to compare instead."""
    same = run("compare", str(files / "base.yaml"), str(files / "more.yaml"), *FAST)
    assert same.exit_code == 0 and "weigh" not in same.stderr
    other = two_countries()
    other.setdefault("policy", {})["priority_weights"] = {5: 64}
    (files / "weighed.yaml").write_text(yaml.safe_dump(other), encoding="utf-8")
    res = run("compare", str(files / "base.yaml"), str(files / "weighed.yaml"), *FAST)
    assert res.exit_code == 0, res.output
    assert res.stderr == (
        "Note: weighed weighs priorities or agendas differently from base, so its "
        "priority-weighted coverage is on another scale; compare money placed, requests funded "
        "and the share of the maximum instead.\n"
    )

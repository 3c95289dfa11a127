"""The independent validator checks what a result reports, not only its allocations: request statuses,
every request and donor listed once, and donor totals. `matcher export --result` refuses a result that
breaks a rule or misreports (it was edited after the solve)."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from helpers import scenario, solved

from matcher.cli import cli
from matcher.result import RequestOutcome
from matcher.validate import solution_problems

DONORS = [{"id": "DEU", "budget": 100, "max_grant": 60}]
REQUESTS = [
    {"id": "A", "country": "NER", "theme": "stockpile", "amount": 80, "min_funding": 0},
    {"id": "B", "country": "MLI", "theme": "marking", "amount": 50, "min_funding": 0},
]


@pytest.fixture
def solved_round():
    s = scenario(DONORS, REQUESTS)
    return s, solved(s)


def test_a_valid_result_has_no_problems(solved_round):
    s, r = solved_round
    assert solution_problems(s, r) == []


def test_a_relabelled_status_is_found(solved_round):
    s, r = solved_round
    partial = next(o for o in r.requests if o.status == "partial")
    edited = r.model_copy(
        update={"requests": [o.model_copy(update={"status": "funded"}) if o is partial else o for o in r.requests]}
    )
    assert solution_problems(s, edited) == [
        f"request {partial.id}: reported as funded ({partial.funded} of {partial.amount}), the scenario and "
        f"allocations give partial ({partial.funded} of {partial.amount})"
    ]


def test_a_missing_request_and_a_wrong_donor_total_are_found(solved_round):
    s, r = solved_round
    donors = [d.model_copy(update={"allocated": 5, "budget": 999}) for d in r.donors]
    edited = r.model_copy(update={"requests": r.requests[:1], "donors": donors})
    problems = solution_problems(s, edited)
    assert "requests: the outcomes do not list the scenario's requests once each, in its order" in problems
    assert any(p.startswith("donor DEU: reported budget 999, allocated 5") for p in problems)
    extra = r.model_copy(
        update={"requests": [*r.requests, RequestOutcome(id="Z", amount=1, funded=0, status="unfunded")]}
    )
    assert solution_problems(s, extra)[0].startswith("requests: the outcomes do not list")


def test_export_refuses_a_result_edited_over_the_budget(tmp_path):
    data = {"name": "v1", "currency": "USD", "donors": DONORS, "requests": REQUESTS}
    f = tmp_path / "v1.yaml"
    f.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = tmp_path / "v1.json"
    assert CliRunner().invoke(cli, ["solve", str(f), "--format", "json", "-o", str(res)]).exit_code == 0
    doc = json.loads(res.read_text(encoding="utf-8"))
    doc["allocations"][0]["amount"] = 90  # over the budget and max_grant; the outcomes no longer add up
    res.write_text(json.dumps(doc), encoding="utf-8")
    out = CliRunner().invoke(
        cli, ["export", str(f), "--result", str(res), "--format", "csv", "-o", str(tmp_path / "out")]
    )
    assert out.exit_code == 1
    assert out.stderr.startswith(f"Error: {res}: breaks the rules of {f}: rule 2: DEU gives 140 over its budget 100")
    assert out.stderr.rstrip().endswith("it was changed after the solve: solve again")
    assert not (tmp_path / "out").exists()

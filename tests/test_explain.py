"""explain: binding rule, donors, and what-ifs verified by independent re-solves."""

from __future__ import annotations

import pytest
from analysis_fixtures import two_countries

from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError
from matcher.explain import explain, to_text, with_extra_budget
from matcher.scenario_io import parse_scenario

PARAMS = SolveParams(time_limit=10)


def status_of(scenario, request_id: str) -> str:
    return next(o.status for o in solve(scenario, PARAMS).requests if o.id == request_id)


@pytest.fixture(scope="module")
def ok_small_scenario():
    from conftest import ok_small

    return parse_scenario(ok_small.__wrapped__())


@pytest.fixture(scope="module")
def bfa(ok_small_scenario) -> dict:
    return explain(ok_small_scenario, "BFA-1", PARAMS)


def test_binding_rule_and_donors(bfa):
    assert bfa["status"] == "unfunded"
    assert bfa["binding"]["code"] == "budget_spent"
    deu = next(d for d in bfa["donors"] if d["donor"] == "DEU")
    jpn = next(d for d in bfa["donors"] if d["donor"] == "JPN")
    assert deu["eligible"] and deu["budget"] == 540000  # 500,000 EUR at 1.08
    assert deu["grants"] == [{"request": "NER-1", "amount": 400000}] and deu["left"] == 140000
    assert not jpn["eligible"] and "themes earmark" in jpn["excluded_by"]


def test_smallest_extra_budget_verified_by_two_resolves(ok_small_scenario, bfa):
    (extra,) = bfa["extra_budget"]
    assert extra["donor"] == "DEU" and extra["found"]
    n = extra["extra"]
    assert status_of(with_extra_budget(ok_small_scenario, "DEU", n), "BFA-1") == "funded"
    assert status_of(with_extra_budget(ok_small_scenario, "DEU", n - 1), "BFA-1") != "funded"
    # By hand: funding BFA (weight 2) and MLI at 75% (8 x 0.75) ties the coverage 24 of NER + MLI
    # at 887,500 USD of money, 47,500 USD more; 43,982 EUR is the first whole EUR that converts to it.
    assert n == 43982


def test_forcing_in_names_displaced_requests_and_cost(bfa):
    forced = bfa["forced"]
    assert forced["feasible"]
    assert forced["displaced"] == [{"request": "MLI-1", "before": 250000, "after": 140000}]
    # MLI loses 8 x 110/250 = 3.52, BFA adds 2
    assert forced["coverage_cost"] == pytest.approx(1.52)


def test_orphan_has_no_extra_budget_and_cannot_be_forced(ok_small_scenario):
    doc = explain(ok_small_scenario, "PER-1", PARAMS)
    assert doc["binding"]["code"] == "no_eligible_donor"
    assert doc["extra_budget"] == []
    assert doc["forced"] == {
        "feasible": False,
        "status": "infeasible",
        "text": "cannot be funded in full under the hard rules, whatever else gives way",
    }


def test_funded_request_has_no_what_if():
    s = parse_scenario(two_countries())
    doc = explain(s, "R1", PARAMS)
    assert doc["binding"]["code"] == "funded"
    assert "extra_budget" not in doc and "forced" not in doc


def test_extra_budget_on_the_hand_fixture():
    s = parse_scenario(two_countries())
    doc = explain(s, "R4", PARAMS)
    (a,) = doc["extra_budget"]  # only A may fund legislation
    assert a["extra"] == 150 and a["solves"] > 2  # R4 needs 150 more; 149 buys nothing
    assert a["coverage_after"] == pytest.approx(30)
    assert "150 USD more from A funds it in full (149 does not)" in to_text(doc)


def test_unknown_request_is_a_clear_error():
    with pytest.raises(MatcherError, match="no request 'R9' in scenario 'two-countries'"):
        explain(parse_scenario(two_countries()), "R9", PARAMS)


def test_out_of_time_what_ifs_say_so_and_claim_no_figure():
    s = parse_scenario(two_countries())
    doc = explain(s, "R4", PARAMS, what_if_seconds=1e-9)
    (a,) = doc["extra_budget"]
    assert not a["exact"] and not a["found"] and "not tried" in a["text"]
    assert doc["what_if"]["solves"] == 1  # forcing it in still answers


def test_what_ifs_skip_the_grants_stage_and_keep_the_answer(ok_small_scenario, bfa):
    from matcher.extra_budget import money_terms_only

    assert list(money_terms_only(ok_small_scenario).policy.objective) == ["coverage", "volume"]
    assert bfa["extra_budget"][0]["exact"] and bfa["forced"]["proven"]


def test_a_mistyped_request_gets_the_nearest_id():
    with pytest.raises(MatcherError, match=r"no request 'R01' in scenario 'two-countries'; did you mean 'R1'\?"):
        explain(parse_scenario(two_countries()), "R01", PARAMS)


def test_forcing_in_names_the_requests_that_gain_too():
    """West Africa's NGA-COMM-01 forced in displaces BFA-DDR-01 and frees money that funds GHA-REC-01: the
    explanation named only the loser, so its cost (0.08) could not be reconciled with the loss (-2.08)."""
    from pathlib import Path

    from matcher.scenario_io import load_scenario

    s = load_scenario(Path(__file__).resolve().parent.parent / "examples" / "west-africa.yaml")
    params = SolveParams(time_limit=30, node_limit=200)
    forced = explain(s, "NGA-COMM-01", params, solve(s, params))["forced"]
    assert [d["request"] for d in forced["displaced"]] == ["BFA-DDR-01"]
    assert forced["gains"] == [{"request": "GHA-REC-01", "before": 0, "after": 150000}]
    assert "funds GHA-REC-01 more" in forced["text"]


def test_extra_budget_that_cannot_help_says_so_without_a_search_figure():
    """A partner's project cap binds: the search doubled the extra budget until it gave up, and the last
    figure (e.g. "up to 341,336,064 EUR") read as if it meant something."""
    s = parse_scenario(
        {
            "name": "cap",
            "currency": "USD",
            "partners": [{"id": "P", "type": "ngo", "max_projects": 1}],
            "donors": [{"id": "D", "budget": 100}],
            "requests": [
                {"id": "R1", "country": "NER", "theme": "marking", "amount": 60, "partner": "P", "priority": 5},
                {"id": "R2", "country": "MLI", "theme": "marking", "amount": 30, "partner": "P"},
            ],
        }
    )
    params = SolveParams(time_limit=20, node_limit=200)
    doc = explain(s, "R2", params, solve(s, params))
    (extra,) = doc["extra_budget"]
    assert not extra["found"]
    assert extra["text"] == "no extra budget from D funds it in full, however large (another rule binds)"


def test_a_first_re_solve_left_unproven_claims_no_figure(monkeypatch):
    """Under too tight limits the first what-if re-solve proves nothing: no "up to 0" figure, only what to raise."""
    import matcher.extra_budget as extra_budget

    monkeypatch.setattr(extra_budget, "money_proven", lambda result: False)
    doc = explain(parse_scenario(two_countries()), "R4", PARAMS)
    (a,) = doc["extra_budget"]
    assert not a["found"] and a["tried_up_to"] is None
    assert a["text"] == (
        "A: unknown: the re-solve with 150 USD more was not proven optimal within its limits "
        "(raise --node-limit or --time-limit)"
    )


def _equals(budget: int) -> dict:
    """One donor; P of priority 5 and two requests of priority 3 with equal weight per unit requested."""
    ask = {"country": "NER", "theme": "stockpile", "amount": 100}
    return {
        "name": "equals",
        "currency": "USD",
        "donors": [{"id": "D", "budget": budget}],
        "requests": [
            {"id": "P", "priority": 5, **ask},
            {"id": "R", "priority": 3, **ask},
            {"id": "Q", "priority": 3, **ask},
        ],
    }


def test_a_request_left_out_among_equals_needs_no_extra_money():
    """200 funds P and one of R and Q: the other is an equal choice, not held back by any rule."""
    s = parse_scenario(_equals(200))
    left_out = next(o.id for o in solve(s, PARAMS).requests if o.id in ("R", "Q") and o.status != "funded")
    doc = explain(s, left_out, PARAMS)
    assert doc["no_extra_needed"] and doc["extra_budget"] == []
    assert doc["binding"]["code"] == "equal_choice" and doc["forced"]["coverage_cost"] == pytest.approx(0, abs=1e-9)
    assert "no extra money: an allocation as good as this one funds it in full" in to_text(doc)


def test_extra_budget_is_checked_with_solve_when_the_extra_makes_a_tie():
    """With 100 more, R and Q tie for it: the figure is where an allocation as good funds R (99 does not), and
    the answer says what `solve` itself gave R with it."""
    s = parse_scenario(_equals(100))
    doc = explain(s, "R", PARAMS)
    (d,) = doc["extra_budget"]
    assert d["exact"] and d["extra"] == 100
    solved = next(o for o in solve(with_extra_budget(s, "D", 100), PARAMS).requests if o.id == "R")
    assert d["solve_funds"] == (solved.status == "funded") and d["solve_funded"] == solved.funded
    assert ("mark it must_fund: true" in d["text"]) == (not d["solve_funds"])
    assert d["others_less"] == []  # the extra money takes nothing from P


def _one_donor_each(budget: int) -> dict:
    """R may have one donor; P (marking, priority 5) comes first."""
    return {
        "name": "one-donor-each",
        "currency": "USD",
        "policy": {"max_donors_per_request": 1},
        "donors": [{"id": "A", "budget": budget}, {"id": "B", "budget": budget, "themes": ["marking", "stockpile"]}],
        "requests": [
            {"id": "P", "country": "NER", "theme": "marking", "amount": 100, "priority": 5},
            {"id": "R", "country": "NER", "theme": "stockpile", "amount": 300, "priority": 3, "min_funding": 0.1},
        ],
    }


def test_a_rule_named_as_a_reason_is_binding_only_when_lifting_it_gives_more():
    """PAN-BORD-01 was said to be held back by "the maximum of 2 donors", and with 3 it got the same."""
    spent = explain(parse_scenario(_one_donor_each(100)), "R", PARAMS)  # every budget is used: the limit is idle
    assert spent["reasons"][0]["code"] == "max_donors"
    assert [n["code"] for n in spent["not_binding"]] == ["max_donors"] and spent["not_binding"][0]["without_it"] == 100
    assert spent["binding"]["code"] == "budget_spent"
    assert (
        "not binding: already has the maximum of 1 donor per request (lifted alone, it still gets 100 USD)"
        in to_text(spent)
    )
    room = explain(parse_scenario(_one_donor_each(200)), "R", PARAMS)  # 100 left with a donor R may not add
    assert room["binding"]["code"] == "max_donors" and room["binding"]["lifted_alone"] == 300
    assert room["not_binding"] == []


def test_time_running_out_between_a_probes_two_re_solves_says_so(monkeypatch):
    """The first probe's re-solve gave the money to an equal; the time ran out before the must_fund check."""
    import matcher.extra_budget as extra_budget

    calls = iter([True])
    monkeypatch.setattr(extra_budget.Budget, "can_start", lambda self: next(calls, False))
    s = parse_scenario(_equals(100))
    probe = solve(with_extra_budget(s, "D", 100), PARAMS)
    if next(o for o in probe.requests if o.id == "R").status == "funded":
        pytest.skip("the re-solve funds R itself: no second re-solve to run out of time for")
    doc = explain(s, "R", PARAMS)
    (d,) = doc["extra_budget"]
    assert not d["found"] and d["text"] == (
        "D: unknown: the time for what-ifs ran out during its first re-solves (raise --what-if-seconds)"
    )


def test_when_no_named_rule_binds_alone_explain_says_so_instead_of_naming_one():
    from types import SimpleNamespace

    from matcher.explain import _checked_binding
    from matcher.extra_budget import Budget

    s = parse_scenario(_one_donor_each(100))  # every budget used: lifting the donor limit changes nothing
    request = next(r for r in s.requests if r.id == "R")
    outcome = SimpleNamespace(
        reason_codes=["max_donors"], reasons=["already has the maximum of 1 donors"], funded=100, status="partial"
    )
    binding, not_binding = _checked_binding(s, request, outcome, PARAMS, Budget(None))
    assert binding["code"] == "rules_together" and [n["code"] for n in not_binding] == ["max_donors"]

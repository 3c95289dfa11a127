"""Marginal values: each gain is the difference of two honest re-solves."""

from __future__ import annotations

import pytest
from analysis_fixtures import two_countries

from matcher.engine import SolveParams, solve
from matcher.scenario_io import parse_scenario
from matcher.value import levers, marginal_values
from matcher.variants import apply_sets, vary

PARAMS = SolveParams(time_limit=10)


def with_limits() -> dict:
    """two_countries with a partner limit, a country cap and a region floor that all bind."""
    data = two_countries()
    data["partners"] = [{"id": "P", "max_projects": 1}]
    data["requests"][0]["partner"] = "P"
    data["requests"][2]["partner"] = "P"
    return apply_sets(data, ["donors[A].budget=450", "policy.max_country_share=0.6"])


def by_target(doc: dict) -> dict:
    return {(e["kind"], e["target"]): e for e in doc["levers"]}


def test_levers_cover_every_budget_and_limit():
    data = with_limits()
    data["policy"]["region_floors"] = {"americas": 0.2}
    s = parse_scenario(data)
    kinds = {(lv.kind, lv.target): lv.assignment for lv in levers(s, step=100)}
    assert kinds[("donor_budget", "A")] == "donors[A].budget+=100"
    assert kinds[("partner_capacity", "P")] == "partners[P].max_projects+=1"
    assert kinds[("country_cap", "max_country_share")] == "policy.max_country_share=0.61"
    assert kinds[("region_floor", "americas")] == 'policy.region_floors={"americas": 0.19}'


def test_donor_budget_gain_equals_two_resolves():
    s = parse_scenario(two_countries())
    doc = marginal_values(s, PARAMS, step=150)
    a = by_target(doc)[("donor_budget", "A")]
    before = solve(s, PARAMS).objective["coverage"]
    after = solve(vary(s, ["donors[A].budget+=150"]), PARAMS).objective["coverage"]
    assert a["gain"] == pytest.approx(after - before) == pytest.approx(2)  # R4 (weight 2) gets funded
    assert by_target(doc)[("donor_budget", "B")]["gain"] == pytest.approx(0)  # B has nothing left to fund
    assert doc["levers"][0]["target"] == "A"  # largest gain first


def test_limit_gains_equal_two_resolves():
    s = parse_scenario(with_limits())
    doc = by_target(marginal_values(s, PARAMS, step=100))
    before = solve(s, PARAMS).objective["coverage"]
    for key, edit in [
        (("partner_capacity", "P"), "partners[P].max_projects+=1"),
        (("country_cap", "max_country_share"), "policy.max_country_share=0.61"),
    ]:
        after = solve(vary(s, [edit]), PARAMS).objective["coverage"]
        assert doc[key]["gain"] == pytest.approx(after - before)
        assert doc[key]["gain"] >= -1e-6  # loosening a limit never loses coverage
    assert doc[("partner_capacity", "P")]["gain"] > 0  # R3 shares partner P with R1: one more project funds it


def test_foreign_currency_step_is_at_least_the_step():
    data = two_countries()
    data["fx"] = {"EUR": 1.08}
    data["donors"][0]["currency"] = "EUR"
    s = parse_scenario(data)
    (lever,) = [lv for lv in levers(s, step=100_000) if lv.target == "A"]
    assert lever.assignment == "donors[A].budget+=92593"  # ceil(100000 / 1.08)


def test_the_header_says_when_the_allocation_gave_up_a_millionth_of_its_coverage():
    """value read 200.2300 for Sahel and solve 200.2298 (the grants tie-break keeps coverage within 1e-6)."""
    from matcher.cli.analysis import _value_text

    doc = {"scenario": "s", "coverage": 200.23, "allocation_coverage": 200.22982, "status": "optimal", "levers": []}
    assert _value_text(doc).splitlines()[0] == (
        "s: priority-weighted coverage 200.2300 (optimal; the allocation's "
        "own 200.2298: a later stage may give up a millionth of it)"
    )
    same = {**doc, "allocation_coverage": 200.23}
    assert _value_text(same).splitlines()[0] == "s: priority-weighted coverage 200.2300 (optimal)"
    base = marginal_values(parse_scenario(two_countries()), PARAMS)
    assert base["allocation_coverage"] == pytest.approx(base["coverage"], rel=1e-6)

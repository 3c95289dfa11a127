"""The eligibility graph: components, orphans, idle donors, and a flow bound never below the solve."""

from __future__ import annotations

import pytest
from analysis_fixtures import two_countries

from matcher.engine import SolveParams, solve
from matcher.generate import generate_round
from matcher.graph import analyse, eligibility_graph
from matcher.scenario_io import parse_scenario

PARAMS = SolveParams(time_limit=10)


def split() -> dict:
    """two_countries with A earmarked to Africa, a donor C for the Americas and one idle donor."""
    data = two_countries()
    data["donors"][0]["regions"] = ["africa"]
    data["donors"].append({"id": "C", "budget": 100, "regions": ["americas"]})
    data["donors"].append({"id": "IDLE", "budget": 50, "countries": ["FRA"]})
    data["requests"].append({"id": "R5", "country": "IND", "theme": "data", "amount": 70})
    return data


def test_components_orphans_and_idle_donors():
    doc = analyse(parse_scenario(split()))
    assert [c["donors"] for c in doc["components"]] == [["A", "B"], ["C"]]
    assert [c["requests"] for c in doc["components"]] == [["R1", "R2", "R3"], ["R4"]]
    assert doc["orphan_requests"] == ["R5"]
    assert doc["idle_donors"] == ["IDLE"]
    assert doc["separable"] is True


def test_flow_bound_by_hand():
    comps = analyse(parse_scenario(split()))["components"]
    # Africa: A 300 + B 200 reach R1 200, R2 100, R3 100, but B only R2: 300 + 100 = 400 = demand
    assert (comps[0]["demand"], comps[0]["reachable"], comps[0]["shortfall"]) == (400, 400, 0)
    # Americas: C 100 against R4 150
    assert (comps[1]["demand"], comps[1]["reachable"], comps[1]["shortfall"]) == (150, 100, 50)


def test_country_cap_makes_components_not_separable():
    data = split()
    data["policy"]["max_country_share"] = 0.5
    assert analyse(parse_scenario(data))["separable"] is False


def test_edge_caps_follow_max_grant():
    data = two_countries()
    data["donors"][0]["max_grant"] = 120
    g = eligibility_graph(parse_scenario(data))
    assert g.edges[("donor", "A"), ("request", "R1")]["cap"] == 120


@pytest.mark.parametrize("make", [split, lambda: generate_round(12, 3, 7)], ids=["split", "generated"])
def test_bound_never_below_solved_volume(make):
    s = parse_scenario(make())
    doc = analyse(s)
    result = solve(s, PARAMS)
    funded = {o.id: o.funded for o in result.requests}
    for c in doc["components"]:
        assert c["reachable"] >= sum(funded[r] for r in c["requests"])
    assert doc["reachable"] >= result.objective["volume"]
    assert all(funded[r] == 0 for r in doc["orphan_requests"])

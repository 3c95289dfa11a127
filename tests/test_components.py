"""Independent parts: found by hand on tiny fixtures, solved apart and merged to the whole's answer."""

from __future__ import annotations

import pytest
from helpers import funded, req, scenario

from matcher.engine import SolveParams, solve
from matcher.engine import components as comp

PARAMS = SolveParams(time_limit=10)


def two_regions(**policy):
    """DEU funds only Africa (NER, MLI), JPN only Asia (PHL, IDN); PER is an orphan, NOR funds nothing."""
    return scenario(
        [
            {"id": "DEU", "budget": 150, "regions": ["africa"]},
            {"id": "JPN", "budget": 120, "regions": ["asia"], "min_grant": 20},
            {"id": "NOR", "budget": 50, "regions": ["oceania"]},
        ],
        [
            req("NER-1", "NER", amount=100, priority=5),
            req("PHL-1", "PHL", amount=80, priority=4),
            req("MLI-1", "MLI", amount=90, priority=3, min_funding=0.5),
            req("IDN-1", "IDN", amount=70, priority=2),
            req("PER-1", "PER", amount=60, priority=5),
        ],
        policy=policy,
    )


@pytest.fixture
def always_split(monkeypatch):
    monkeypatch.setattr(comp, "MIN_PAIRS_TO_SPLIT", 0)


def test_parts_by_hand():
    parts = comp.parts_of(two_regions())
    # Africa with the loose ones (NOR, PER) joined to the first part; Asia apart
    assert parts == [([0, 2], [0, 2, 4]), ([1], [1, 3])]


def test_a_prerequisite_across_parts_joins_them():
    s = two_regions()
    linked = s.model_copy(
        update={"requests": [*s.requests[:3], s.requests[3].model_copy(update={"requires": ["NER-1"]}), s.requests[4]]}
    )
    assert len(comp.parts_of(linked)) == 1


def test_shares_of_all_money_couple_every_part(always_split):
    assert comp.coupled(two_regions(max_country_share=0.5))
    assert comp.coupled(two_regions(region_floors={"africa": 0.2}))
    assert not comp.coupled(two_regions(region_floors={"africa": 0.0}))
    assert comp.solve_in_parts(two_regions(max_country_share=0.5), PARAMS, solve) is None


def test_not_split_by_default_nor_below_the_threshold(monkeypatch):
    assert comp.MIN_PAIRS_TO_SPLIT is None  # measured not faster yet: see benchmarks/RESULTS.md
    assert comp.solve_in_parts(two_regions(), PARAMS, solve) is None
    monkeypatch.setattr(comp, "MIN_PAIRS_TO_SPLIT", 10)
    assert comp.solve_in_parts(two_regions(), PARAMS, solve) is None  # 2 pairs


def test_split_equals_whole(always_split):
    s = two_regions()
    split = solve(s, PARAMS)
    assert split.solver.engine.endswith("in 2 parts")
    whole = solve(s, SolveParams(time_limit=10, method="full"))  # the full method is never split
    assert "parts" not in whole.solver.engine
    assert funded(split) == funded(whole) == {"NER-1": 100, "PHL-1": 80, "MLI-1": 50, "IDN-1": 0, "PER-1": 0}
    for term in ("coverage", "volume", "grants"):
        assert split.objective[term] == pytest.approx(whole.objective[term])
    by_term = {st.term: st for st in split.solver.stages}
    assert by_term["coverage"].bound >= by_term["coverage"].value - 1e-9  # a max term: bound above
    assert by_term["grants"].bound <= by_term["grants"].value + 1e-9  # a min term: bound below
    assert split.status == "optimal" and by_term["coverage"].gap == pytest.approx(0, abs=1e-6)
    # merged reasons are the whole scenario's: the orphan names every donor that excludes it
    per = next(o for o in split.requests if o.id == "PER-1")
    assert per.reason_codes == ["no_eligible_donor"] and all(d in per.reasons[0] for d in ("DEU", "JPN", "NOR"))
    assert [a.donor for a in split.allocations] == sorted((a.donor for a in split.allocations), key="DEU JPN".index)


def test_an_infeasible_part_makes_the_whole_infeasible(always_split):
    s = two_regions()
    must = s.model_copy(
        update={"requests": [*s.requests[:3], s.requests[3].model_copy(update={"must_fund": True}), s.requests[4]]}
    )
    # IDN-1 (70) must be funded, but JPN's 120 then cannot also fund PHL-1 (80): still feasible
    assert solve(must, PARAMS).status == "optimal"
    starved = must.model_copy(update={"donors": [must.donors[0], must.donors[1].model_copy(update={"budget": 60})]})
    result = solve(starved, PARAMS)
    assert result.status == "infeasible" and result.allocations == []

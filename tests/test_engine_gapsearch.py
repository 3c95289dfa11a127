"""The start search for generalized-assignment rounds (matcher/engine/gapsearch.py) and its use by
the engine: which rounds it recognises, its knapsack pricing, and that the exact model keeps its
assignment (or a better one) and the true bound."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from matcher.engine import SolveParams, assign, solve
from matcher.engine import gapsearch as gs
from matcher.engine.compile import compile_problem
from matcher.gap import read_gap
from matcher.scenario_io import parse_scenario
from matcher.validate import violations

GAP = Path(__file__).resolve().parent.parent / "data" / "gap"


def gap_round(name: str):
    return parse_scenario(read_gap(GAP / name))


def arrays(data: dict) -> gs.GapArrays | None:
    s = parse_scenario(data)
    return gs.gap_arrays(compile_problem(s), list(s.policy.objective))


def test_an_imported_gap_instance_is_recognised_with_its_costs_units_and_capacities() -> None:
    data = read_gap(GAP / "cattrysse1994" / "gap1-0")
    g = arrays(data)
    assert g is not None
    assert g.cost.shape == (15, 5)
    first = data["offers"][0]  # agent A1, item I1
    assert (g.cost[0, 0], g.units[0, 0]) == (first["cost"], first["units"])
    assert g.capacity.tolist() == [d["capacity"] for d in data["donors"]]


@pytest.mark.parametrize(
    "change",
    [
        "a request that may go unfunded",
        "an objective without cost",
        "an offer worth part of its request",
        "a funds donor that can fund a request",
    ],
)
def test_rounds_that_are_not_a_plain_gap_are_left_to_the_exact_model(change: str) -> None:
    data = read_gap(GAP / "cattrysse1994" / "gap1-0")
    if change == "a request that may go unfunded":
        data["requests"][3]["must_fund"] = False
    elif change == "an objective without cost":
        data["policy"]["objective"] = ["coverage"]
    elif change == "an offer worth part of its request":
        for r in data["requests"]:
            r["amount"] = 2
    else:
        data["donors"].append({"id": "FUND", "kind": "funds", "budget": 10, "currency": "USD"})
    assert arrays(data) is None


def test_every_agents_knapsack_is_solved_exactly() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, m = 8, 3
        profit = rng.integers(-20, 60, size=(n, m)).astype(float)
        units = rng.integers(1, 15, size=(n, m))
        capacity = rng.integers(5, 40, size=m)
        chosen, best = gs._knapsacks(profit, units, capacity)
        for a in range(m):
            brute = max(
                sum(profit[i, a] for i in subset)
                for k in range(n + 1)
                for subset in itertools.combinations(range(n), k)
                if sum(units[i, a] for i in subset) <= capacity[a]
            )
            assert best[a] == pytest.approx(brute)
            assert units[chosen[:, a], a].sum() <= capacity[a]
            assert profit[chosen[:, a], a].sum() == pytest.approx(brute)


@pytest.mark.parametrize(("name", "optimum"), [("cattrysse1994/gap1-1", 269), ("cattrysse1994/gap5-0", 403)])
def test_the_search_finds_a_feasible_assignment_no_cheaper_than_the_optimum(name: str, optimum: int) -> None:
    s = gap_round(name)
    g = gs.gap_arrays(compile_problem(s), list(s.policy.objective))
    x = gs.best_assignment(g, seed=0, deadline=None)
    assert x is not None and g.fits(x)
    assert g.total(x) >= optimum  # an assignment cheaper than the optimum would be a broken rule
    assert g.total(x) <= optimum * 1.02


def test_the_tabu_search_repairs_an_assignment_that_breaks_capacities() -> None:
    s = gap_round("cattrysse1994/gap1-1")
    g = gs.gap_arrays(compile_problem(s), list(s.policy.objective))
    cheapest = g.cost.argmin(axis=1)  # every item at its cheapest agent: over capacity
    assert not g.fits(cheapest)
    x = gs.tabu(g, cheapest, 2000, np.random.default_rng(0), None)
    assert x is not None and g.fits(x)


def test_the_engine_starts_the_exact_model_from_the_search_and_keeps_the_true_bound(monkeypatch) -> None:
    monkeypatch.setattr(assign, "AUTO_MAX_OFFERS", 0)  # small instance, but on the HiGHS path
    said: list[str] = []
    s = gap_round("cattrysse1994/gap5-0")
    result = solve(s, SolveParams(time_limit=None, on_log=said.append))  # no limit: no short HiGHS try first
    assert any(line.startswith("assignment search: cost") for line in said)
    assert result.solver.engine == "mathopt-highs-full"
    assert result.objective["cost"] == 403
    cost = next(st for st in result.solver.stages if st.term == "cost")
    assert cost.bound <= 403 <= cost.value
    assert not violations(s, result.allocations)


def test_a_work_limit_gives_the_same_allocation_twice(monkeypatch) -> None:
    monkeypatch.setattr(assign, "AUTO_MAX_OFFERS", 0)
    s = gap_round("cattrysse1994/gap1-1")
    params = SolveParams(time_limit=None, node_limit=50, seed=3)
    one, two = solve(s, params), solve(s, params)
    assert one.allocations == two.allocations


def test_a_round_highs_proves_at_once_needs_no_search(monkeypatch) -> None:
    monkeypatch.setattr(assign, "AUTO_MAX_OFFERS", 0)
    said: list[str] = []
    result = solve(gap_round("cattrysse1994/gap5-0"), SolveParams(time_limit=60, on_log=said.append))
    assert result.status == "optimal" and result.objective["cost"] == 403
    assert not any(line.startswith("assignment search") for line in said)

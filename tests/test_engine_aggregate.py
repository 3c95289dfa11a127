"""The aggregate model's small-amount inequalities (aggregate._crumbs): still a relaxation of the
full model, and tighter where a plan would fund a request with a donor's leftover below its minimum."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.math_opt.python import mathopt

from matcher.engine import SolveParams, solve
from matcher.engine.aggregate import Arcs, build_aggregate
from matcher.engine.compile import compile_problem
from matcher.engine.model import term_expression
from matcher.generate import generate_round
from matcher.scenario_io import parse_scenario
from tests.helpers import req, scenario


def _aggregate_coverage(s, crumbs: bool) -> float:
    p = compile_problem(s)
    m = build_aggregate(p, Arcs.of(p), crumbs)
    m.mo.maximize(term_expression(p, m, "coverage"))
    result = mathopt.solve(m.mo, mathopt.SolverType.HIGHS)
    assert result.termination.reason == mathopt.TerminationReason.OPTIMAL
    return result.objective_value()


def _leftover_round():
    """ADA (no minimum) can fund only R1 or the pair R2/R3; BIG (minimum grant 100) only R2/R3.
    BIG's 150 covers R2 and leaves 50 it cannot grant: without the small-amount rows the aggregate
    gives those 50 to R3, which may be partly funded (a plan no whole grants can follow)."""
    donors = [
        {"id": "ADA", "budget": 100, "themes": ["stockpile", "marking"]},
        {"id": "BIG", "budget": 150, "min_grant": 100, "themes": ["marking"]},
    ]
    requests = [
        req("R1", amount=100, priority=5),  # stockpile: ADA only, and worth most per dollar
        req("R2", amount=100, priority=1, theme="marking"),
        req("R3", amount=100, priority=1, theme="marking", min_funding=0.01),
    ]
    return scenario(donors, requests, policy={"objective": ["coverage", "volume"]})


def test_leftover_below_a_minimum_grant_funds_nothing() -> None:
    s = _leftover_round()
    light, tight = _aggregate_coverage(s, crumbs=False), _aggregate_coverage(s, crumbs=True)
    best = solve(s, SolveParams(method="full", time_limit=10))
    assert best.status == "optimal"
    assert {r.id: r.funded for r in best.requests} == {"R1": 100, "R2": 100, "R3": 0}
    assert tight < light  # the light plan's R3 gets BIG's 50
    assert abs(tight - best.objective["coverage"]) < 1e-9  # the tight bound is the true optimum here
    fast = solve(s, SolveParams(method="decomposed", time_limit=10))
    assert fast.status == "optimal" and fast.objective == best.objective
    # proven by the tighter plan itself: no repair and full model after it
    assert fast.solver.engine == "mathopt-highs-decomposed"
    assert fast.bound["coverage"] == best.objective["coverage"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(4, 16), m=st.integers(2, 5), seed=st.integers(0, 10_000))
def test_small_amount_rows_keep_the_aggregate_a_relaxation(n: int, m: int, seed: int) -> None:
    data = generate_round(n, m, seed)
    data["policy"]["objective"] = ["coverage", "volume"]
    s = parse_scenario(data)
    full = solve(s, SolveParams(method="full", time_limit=30))
    if full.status != "optimal":
        return  # tiny rounds can be infeasible (a commitment against a region floor)
    light, tight = _aggregate_coverage(s, crumbs=False), _aggregate_coverage(s, crumbs=True)
    optimum = full.objective["coverage"]
    assert tight <= light + 1e-6 * max(1.0, light)
    assert tight >= optimum - 1e-6 * max(1.0, optimum)  # still a bound on every whole allocation

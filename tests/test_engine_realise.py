"""The grant MIPs of realise.py: whole grants always come back (solve_whole); the MIP over all funded
requests keeps the flow's rule-keeping grants (restricted_grants)."""

from __future__ import annotations

from ortools.math_opt.python import mathopt

from matcher.engine import SolveParams
from matcher.engine.compile import compile_problem
from matcher.engine.exchange import breaking
from matcher.engine.realise import donor_slots, restricted_grants, solve_whole
from tests.helpers import req, scenario


def test_a_fractional_grant_is_made_whole_and_solved_again() -> None:
    mo = mathopt.Model(name="fractional")
    x = {7: mo.add_variable(lb=0, ub=5), 9: mo.add_variable(lb=0, ub=5)}
    mo.add_linear_constraint(2 * x[7] <= 3)  # not a transportation row: its vertex is x = 1.5
    mo.add_linear_constraint(x[9] == 2)
    mo.maximize(x[7] + x[9])
    _result, grants = solve_whole(mo, x, SolveParams(time_limit=10), 10.0)
    assert grants == {7: 1, 9: 2}
    assert x[7].integer and not x[9].integer  # only the value that came back fractional


def test_no_solution_is_none() -> None:
    mo = mathopt.Model(name="none")
    x = {0: mo.add_variable(lb=0, ub=1)}
    mo.add_linear_constraint(x[0] >= 2)
    result, grants = solve_whole(mo, x, SolveParams(time_limit=10), 10.0)
    assert grants is None
    assert result.termination.reason == mathopt.TerminationReason.INFEASIBLE


def _small_grant_round():
    """BIG (minimum grant 50) and two donors with smaller minimums, every donor eligible everywhere."""
    donors = [
        {"id": "BIG", "budget": 100, "min_grant": 50},
        {"id": "ADA", "budget": 200, "min_grant": 10},
        {"id": "CAL", "budget": 150, "min_grant": 10},
    ]
    requests = [req("R1", amount=120), req("R2", amount=80)] + [req(f"R{n}", amount=60) for n in range(3, 7)]
    return scenario(donors, requests, policy={"objective": ["coverage", "volume"]})


def test_restricted_grants_mend_the_small_grant_and_keep_the_other_grants() -> None:
    s = _small_grant_round()
    p = compile_problem(s)
    need = [r.amount for r in s.requests]
    big, ada, cal = (p.donor_index[d] for d in ("BIG", "ADA", "CAL"))
    # BIG's 20 to R1 is below its minimum; every other grant keeps the rules
    plan = {
        (big, 0): 20,
        (ada, 0): 100,
        (big, 1): 80,
        (ada, 2): 60,
        (cal, 3): 60,
        (cal, 4): 60,
        (ada, 5): 20,
        (cal, 5): 40,
    }
    flow = {p.pair_index(i, j): v for (i, j), v in plan.items()}
    slots = donor_slots(p, set())
    assert breaking(p, flow, slots) == [p.pair_index(big, 0)]
    grants = restricted_grants(p, need, slots, flow, SolveParams(time_limit=10), 10.0)
    assert grants is not None and not breaking(p, grants, slots)
    got = [0] * len(need)
    for k, v in grants.items():
        got[int(p.pair_request[k])] += v
    assert got == need
    # the search keeps the flow's donors: every grant that kept the rules is still there (it may
    # change amounts, and R1's BIG grant is either raised to 50 or dropped)
    assert {k for k in flow if k != p.pair_index(big, 0)} <= set(grants)


def test_restricted_grants_none_when_no_grants_can_keep_the_rules() -> None:
    s = scenario(
        [{"id": "BIG", "budget": 100, "min_grant": 50}],
        [req("R1", amount=30), req("R2", amount=70)],
        policy={"objective": ["coverage", "volume"]},
    )
    p = compile_problem(s)
    flow = {p.pair_index(0, 0): 30, p.pair_index(0, 1): 70}  # R1's 30 is below BIG's minimum
    assert restricted_grants(p, [30, 70], donor_slots(p, set()), flow, SolveParams(time_limit=10), 10.0) is None


def test_every_donor_a_request_can_take_finds_grants_the_restriction_misses() -> None:
    """The restriction offers R1 the flow's donor A and the two that can give most (BIG and HUGE): with
    A's minimum of 10 and their minimums of 95 (at most 96) no whole split of 100 exists among them.
    With every eligible donor, D and E make splits possible (A + D + E, or BIG + E); the MIP keeps
    the flow's grant where it can, so A stays."""
    s = scenario(
        [
            {"id": "A", "budget": 30, "min_grant": 10},
            {"id": "BIG", "budget": 1000, "min_grant": 95, "max_grant": 96},
            {"id": "HUGE", "budget": 900, "min_grant": 95, "max_grant": 96},
            {"id": "D", "budget": 40},
            {"id": "E", "budget": 40},
        ],
        [req("R1", amount=100)],
        policy={"objective": ["coverage", "volume"]},
    )
    p = compile_problem(s)
    slots = donor_slots(p, set())
    a = p.donor_index["A"]
    flow = {p.pair_index(a, 0): 100}  # more than A's budget: the grants must be split again
    params = SolveParams(time_limit=10)
    assert restricted_grants(p, [100], slots, flow, params, 10.0) is None
    grants = restricted_grants(p, [100], slots, flow, params, 10.0, everyone=True)
    assert grants is not None and not breaking(p, grants, slots)
    assert sum(grants.values()) == 100
    by_donor = {s.donors[int(p.pair_donor[k])].id: v for k, v in grants.items()}
    assert set(by_donor) == {"A", "D", "E"} and by_donor["A"] >= 20  # D and E give at most 40 each
    assert all(v <= s.donors[p.donor_index[d]].budget for d, v in by_donor.items())

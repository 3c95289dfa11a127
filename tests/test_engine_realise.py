"""Grant MIPs with continuous grant variables (realise.solve_whole): whole grants always come back."""

from __future__ import annotations

from ortools.math_opt.python import mathopt

from matcher.engine import SolveParams
from matcher.engine.realise import solve_whole


def test_a_fractional_grant_is_made_whole_and_solved_again() -> None:
    mo = mathopt.Model(name="fractional")
    x = {7: mo.add_variable(lb=0, ub=5), 9: mo.add_variable(lb=0, ub=5)}
    mo.add_linear_constraint(2 * x[7] <= 3)  # not a transportation row: its vertex is x = 1.5
    mo.add_linear_constraint(x[9] == 2)
    mo.maximize(x[7] + x[9])
    solved = solve_whole(mo, x, SolveParams(time_limit=10), 10.0)
    assert solved is not None
    _result, grants = solved
    assert grants == {7: 1, 9: 2}
    assert x[7].integer and not x[9].integer  # only the value that came back fractional


def test_no_solution_is_none() -> None:
    mo = mathopt.Model(name="none")
    x = {0: mo.add_variable(lb=0, ub=1)}
    mo.add_linear_constraint(x[0] >= 2)
    assert solve_whole(mo, x, SolveParams(time_limit=10), 10.0) is None

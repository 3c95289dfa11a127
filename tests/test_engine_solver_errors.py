"""A HiGHS failure inside a solve: retried without the solution hint, else one clear error; an "optimal" that
its own bound does not prove: solved again within the time limit, else reported as feasible."""

from __future__ import annotations

import time

import pytest
from ortools.math_opt.python import mathopt

from matcher.engine import params as P
from matcher.errors import MatcherError


def _model():
    mo = mathopt.Model(name="tiny")
    x = mo.add_binary_variable()
    mo.maximize(x)
    hint = mathopt.ModelSolveParameters(solution_hints=[mathopt.SolutionHint(variable_values={x: 0})])
    return mo, hint


def test_a_failed_solve_with_a_hint_is_solved_again_without_it(monkeypatch):
    real, calls = mathopt.solve, []

    def flaky(model, solver, *, params, model_params=None, msg_cb=None):
        calls.append(model_params is not None)
        if model_params is not None:
            raise RuntimeError("internal HiGHS error")
        return real(model, solver, params=params, msg_cb=msg_cb)

    monkeypatch.setattr(P.mathopt, "solve", flaky)
    mo, hint = _model()
    result = P.solve_highs(mo, P.highs_parameters(P.SolveParams(), 5.0), hint)
    assert calls == [True, False]
    assert result.objective_value() == 1.0


def test_a_solve_that_fails_twice_is_one_clear_error(monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("internal HiGHS error")

    monkeypatch.setattr(P.mathopt, "solve", broken)
    mo, hint = _model()
    with pytest.raises(MatcherError, match=r"HiGHS failed on the model 'tiny' .*try another --seed"):
        P.solve_highs(mo, P.highs_parameters(P.SolveParams(), 5.0), hint)


def test_a_solver_failure_while_bounding_the_grants_keeps_the_allocation(monkeypatch) -> None:
    """The grants bound is the last solve; when HiGHS fails there (seen: an internal error on a 2 x 2
    round), the allocation is kept and the grants stage reports the trivial bound 0."""
    import importlib

    from matcher.engine import SolveParams, solve
    from matcher.errors import MatcherError
    from tests.helpers import req, scenario

    solve_module = importlib.import_module("matcher.engine.solve")
    real = solve_module.solve_highs

    def failing_bound(model, parameters, model_params=None, msg_cb=None):
        if model_params is None and parameters.absolute_gap_tolerance == 1e-9:  # the grants bound alone
            raise MatcherError("HiGHS failed on the model 'aggregate' (StatusNotOk: internal error)")
        return real(model, parameters, model_params, msg_cb)

    monkeypatch.setattr(solve_module, "solve_highs", failing_bound)
    s = scenario(
        [{"id": "D0", "budget": 2}, {"id": "D1", "budget": 2}],
        [req("R0", amount=2, priority=1), req("R1", amount=2, priority=2, requires=["R0"])],
        policy={"objective": ["coverage", "volume", "grants"]},
    )
    said: list[str] = []
    result = solve(s, SolveParams(time_limit=10, seed=7, on_log=said.append))
    assert result.has_solution() and {a.request for a in result.allocations} == {"R0", "R1"}
    grants = next(st for st in result.solver.stages if st.term == "grants")
    assert grants.bound <= grants.value
    assert "bounding the grants: HiGHS failed; the grants bound stays 0" in said


def _optimal_but_unproven(model, solver, *, params, model_params=None, msg_cb=None):
    """What HiGHS once returned: "optimal", a solution of 0 and a proven bound of 1 (a start kept through a restart)."""
    from ortools.math_opt.python import result, solution

    calls.append(dict(params.highs.bool_options) | dict(params.highs.string_options))
    primal = solution.PrimalSolution(
        variable_values={}, objective_value=0.0, feasibility_status=solution.SolutionStatus.FEASIBLE
    )
    return result.SolveResult(
        termination=result.Termination(
            reason=mathopt.TerminationReason.OPTIMAL,
            objective_bounds=result.ObjectiveBounds(primal_bound=0.0, dual_bound=1.0),
        ),
        solutions=[solution.Solution(primal_solution=primal)],
    )


calls: list[dict] = []


def test_an_optimal_its_bound_does_not_prove_is_solved_again_and_else_only_feasible(monkeypatch):
    calls.clear()
    monkeypatch.setattr(P.mathopt, "solve", _optimal_but_unproven)
    mo, _hint = _model()
    result = P.solve_highs(mo, P.highs_parameters(P.SolveParams(), 10.0))
    assert [(c.get("mip_allow_restart"), c.get("presolve")) for c in calls] == [
        (None, None),
        (False, None),
        (False, "off"),
    ]  # as asked, then restarts off, then presolve off too
    assert result.termination.reason == mathopt.TerminationReason.FEASIBLE  # never "optimal" unproven
    assert result.objective_value() == 0.0


def test_the_retries_share_the_time_limit(monkeypatch):
    calls.clear()

    def slow(*args, **kwargs):
        time.sleep(0.08)
        return _optimal_but_unproven(*args, **kwargs)

    monkeypatch.setattr(P.mathopt, "solve", slow)
    mo, _hint = _model()
    result = P.solve_highs(mo, P.highs_parameters(P.SolveParams(), 0.05))  # used up by the first solve
    assert len(calls) == 1
    assert result.termination.reason == mathopt.TerminationReason.FEASIBLE


def test_a_highs_failure_in_the_search_for_fewer_grants_leaves_the_re_split_standing(monkeypatch):
    """The full model with money continuous (rounds of 41-250 pairs) is a last tie-break: HiGHS failing inside
    it must not fail the solve, which keeps the class-by-class re-split's grants (33 on Sahel), and on rounds
    of up to 100 pairs goes on to the full model with whole money (which finds 32)."""
    import sys
    from pathlib import Path

    from matcher.engine import SolveParams
    from matcher.errors import MatcherError
    from matcher.scenario_io import load_scenario

    module = sys.modules["matcher.engine.solve"]
    real = module.solve_highs

    raised = []

    def failing(model, *args, **kwargs):
        if any(v.name.startswith("x_") and not v.integer for v in model.variables()):
            raised.append(model.name)
            raise MatcherError("HiGHS failed on the model 'x' (StatusNotOk: internal error)")
        return real(model, *args, **kwargs)

    monkeypatch.setattr(module, "solve_highs", failing)
    scenario = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "sahel-pssm-2027.yaml")
    r = module.solve(scenario, SolveParams(time_limit=60))
    assert raised  # the search with money continuous failed
    assert r.objective["grants"] == 32  # the whole-money search after the re-split's 33

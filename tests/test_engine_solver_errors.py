"""A HiGHS failure inside a solve: retried without the solution hint, else one clear error."""

from __future__ import annotations

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

"""rows.py writes constraints and variables straight into MathOpt's element store; the model it
builds must be the one MathOpt's own API builds (this guards an ortools upgrade)."""

from __future__ import annotations

import numpy as np
from ortools.math_opt.python import mathopt

from matcher.engine.rows import add_row_blocks, add_rows, add_variables, ids_of


def _strip_names(proto):
    proto.variables.ClearField("names")
    proto.linear_constraints.ClearField("names")
    return proto


def test_add_rows_builds_the_model_the_api_builds():
    rng = np.random.default_rng(7)
    n_vars, n_rows = 12, 9
    by_api, bulk = mathopt.Model(), mathopt.Model()
    xs = [by_api.add_variable(lb=0, ub=float(k + 1)) for k in range(n_vars)]
    ys = add_variables(bulk, np.zeros(n_vars), np.arange(1, n_vars + 1, dtype=float))
    rows, vars_, coefs, lower, upper = [], [], [], [], []
    for r in range(n_rows):
        cols = sorted(rng.choice(n_vars, size=3, replace=False).tolist())
        cs = rng.integers(-5, 6, size=3).astype(float)
        cs[cs == 0] = 1.0
        lo, hi = [(-np.inf, float(r)), (float(-r), np.inf), (1.0, 1.0)][r % 3]
        by_api.add_linear_constraint(lb=lo, ub=hi, expr=mathopt.fast_sum(c * xs[k] for c, k in zip(cs, cols)))
        rows += [r] * 3
        vars_ += cols
        coefs += cs.tolist()
        lower.append(lo)
        upper.append(hi)
    ids = add_rows(bulk, np.array(lower), np.array(upper), np.array(rows), ids_of(ys)[vars_], np.array(coefs))
    assert ids.tolist() == list(range(n_rows))
    assert _strip_names(by_api.export_model()) == _strip_names(bulk.export_model())


def test_row_blocks_merge_in_row_order():
    a, b = mathopt.Model(), mathopt.Model()
    x, y = a.add_variable(lb=0, ub=3), a.add_variable(lb=0, ub=4)
    a.add_linear_constraint(x - 2 * y <= 0)
    a.add_linear_constraint(y >= 1)
    bx, by = add_variables(b, np.zeros(2), np.array([3.0, 4.0]))
    add_row_blocks(
        b,
        np.array([-np.inf, 1.0]),
        np.array([0.0, np.inf]),
        ([0], [bx.id], [1.0]),
        ([0, 1], [by.id, by.id], [-2.0, 1.0]),
    )
    assert _strip_names(a.export_model()) == _strip_names(b.export_model())


def test_add_variables_marks_integer_only_those_asked():
    by_api, bulk = mathopt.Model(), mathopt.Model()
    marks = [False, True, False, True]
    for k, integer in enumerate(marks):
        by_api.add_variable(lb=0, ub=k + 1, is_integer=integer)
    made = add_variables(bulk, np.zeros(4), np.arange(1, 5, dtype=float), np.array(marks))
    assert [v.integer for v in made] == marks
    assert _strip_names(by_api.export_model()) == _strip_names(bulk.export_model())


def test_country_caps_rows_are_the_rows_the_api_builds():
    """Rule 9 as arrays: per country (in the order of its first request) sum f - share total <= 0."""
    from matcher.engine.compile import compile_problem
    from matcher.engine.model import Model, _country_caps
    from matcher.generate import generate_round
    from matcher.scenario_io import parse_scenario

    scenario = parse_scenario(generate_round(40, 5, 3))
    share = scenario.policy.max_country_share
    assert share is not None
    problem = compile_problem(scenario)
    models = []
    for bulk in (False, True):
        mo = mathopt.Model()
        f = [mo.add_variable(lb=0, ub=r.amount) for r in scenario.requests]
        total = mo.add_variable(lb=0)
        if bulk:
            _country_caps(problem, Model(mo, {}, [], {}, {}, f=f, total=total))
        else:
            by_country: dict[str, list] = {}
            for j, r in enumerate(scenario.requests):
                by_country.setdefault(r.country, []).append(f[j])
            for fs in by_country.values():
                mo.add_linear_constraint(mathopt.fast_sum(fs) - share * total <= 0)
        models.append(_strip_names(mo.export_model()))
    assert len(models[0].linear_constraints.ids) == len({r.country for r in scenario.requests}) > 1
    assert models[0] == models[1]

"""Turn a funding plan f[r] into whole grants x[d,r] that obey every per-grant rule.

The aggregate model decides how much each request gets; which donor pays how much of it is a
transportation problem. A min-cost flow gives whole-unit grants at a vertex (few splits); only when
that vertex breaks min_grant or max donors per request does a small MIP over the funded requests,
with one binary per pair, take over. If even that MIP finds no grants, the plan is not realisable
and the caller falls back to the full model.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from ortools.graph.python import min_cost_flow
from ortools.math_opt.python import mathopt

from matcher.engine.compile import Problem


def money_demand(p: Problem, funded: list[int], delivered: set[int]) -> list[int]:
    """Per request, the part of f[r] that money must cover (in-kind deliveries take the rest)."""
    need = list(funded)
    for k in delivered:
        o = p.scenario.offers[k]
        need[p.request_index[o.request]] -= o.value
    return need


def repaired_grants(p: Problem, need: list[int], delivered: set[int], rounds: int = 25) -> dict[int, int] | None:
    """Flow grants, re-routed until no grant breaks a per-grant rule: each round closes the pairs
    that carry a too-small grant or a request's smallest extra donor. None when that fails."""
    closed: set[int] = set()
    for _ in range(rounds):
        x = flow_grants(p, need, closed)
        if x is None:
            return None
        bad = _breaking_pairs(p, x, delivered)
        if not bad:
            return x
        closed |= bad
    return None


def _breaking_pairs(p: Problem, x: dict[int, int], delivered: set[int]) -> set[int]:
    s = p.scenario
    bad = {k for k, v in x.items() if 0 < v < (s.donors[p.pairs[k][0]].min_grant or 0) and not p.pair_lb[k]}
    limit = s.policy.max_donors_per_request
    if limit is not None:
        grants: dict[int, list[int]] = defaultdict(list)
        for k, v in x.items():
            if v > 0:
                grants[p.pairs[k][1]].append(k)
        extra: dict[int, int] = defaultdict(int)
        for k in delivered:
            extra[p.request_index[s.offers[k].request]] += 1
        for j, ks in grants.items():
            over = len(ks) + extra[j] - limit
            if over > 0:
                movable = sorted((k for k in ks if not p.pair_lb[k]), key=lambda k: x[k])
                bad.update(movable[:over])
    return bad


def flow_grants(p: Problem, need: list[int], closed: set[int] | frozenset[int] = frozenset()) -> dict[int, int] | None:
    """Whole-unit grants meeting ``need`` exactly within budgets and pair bounds, or None."""
    remaining = list(p.budgets)
    demand = list(need)
    for k, lb in enumerate(p.pair_lb):
        if lb:
            i, j = p.pairs[k]
            remaining[i] -= lb
            demand[j] -= lb
    if min(remaining, default=0) < 0 or min(demand, default=0) < 0:
        return None
    n_d, n_r = len(p.budgets), p.n_requests
    source, sink = n_d + n_r, n_d + n_r + 1
    mcf = min_cost_flow.SimpleMinCostFlow()
    arcs = {}
    for i in range(n_d):
        if remaining[i] > 0:
            mcf.add_arc_with_capacity_and_unit_cost(source, i, remaining[i], 0)
    for k, (i, j) in enumerate(p.pairs):
        if demand[j] > 0 and p.pair_ub[k] > p.pair_lb[k] and k not in closed:
            arcs[k] = mcf.add_arc_with_capacity_and_unit_cost(i, n_d + j, p.pair_ub[k] - p.pair_lb[k], 1)
    for j in range(n_r):
        if demand[j] > 0:
            mcf.add_arc_with_capacity_and_unit_cost(n_d + j, sink, demand[j], 0)
    total = sum(d for d in demand if d > 0)
    if total == 0:
        return {k: lb for k, lb in enumerate(p.pair_lb) if lb}
    mcf.set_node_supply(source, total)
    mcf.set_node_supply(sink, -total)
    if mcf.solve_max_flow_with_min_cost() != mcf.OPTIMAL or mcf.maximum_flow() != total:
        return None
    x = {k: lb for k, lb in enumerate(p.pair_lb) if lb}
    for k, arc in arcs.items():
        amount = mcf.flow(arc)
        if amount:
            x[k] = x.get(k, 0) + amount
    return x


def fewest_grants(
    p: Problem, need: list[int], delivered: set[int], hint: dict[int, int] | None, params, seconds: float | None
) -> tuple[dict[int, int] | None, float, bool]:
    """The grants meeting ``need`` with every per-grant rule and as few grants as possible.

    Returns (grants or None, best bound on the number of money grants, proven optimal).
    """
    s = p.scenario
    mo = mathopt.Model(name="fewest-grants")
    live = [k for k, (_i, j) in enumerate(p.pairs) if need[j] > 0]
    x = {k: mo.add_integer_variable(lb=p.pair_lb[k], ub=p.pair_ub[k]) for k in live}
    z = {k: mo.add_binary_variable() for k in live}
    per_request, per_donor = defaultdict(list), defaultdict(list)
    for k in live:
        i, j = p.pairs[k]
        per_request[j].append(k)
        per_donor[i].append(k)
        mo.add_linear_constraint(x[k] <= p.pair_ub[k] * z[k])
        mo.add_linear_constraint(x[k] >= max(1, s.donors[i].min_grant or 0) * z[k])
        if p.pair_lb[k]:
            z[k].lower_bound = 1
    for j, ks in per_request.items():
        mo.add_linear_constraint(mathopt.fast_sum(x[k] for k in ks) == need[j])
    for j in range(p.n_requests):
        if need[j] > 0 and j not in per_request:
            return None, 0.0, False
    for i, ks in per_donor.items():
        mo.add_linear_constraint(mathopt.fast_sum(x[k] for k in ks) <= p.budgets[i])
    _donor_limits(p, mo, z, per_request, delivered)
    mo.minimize(mathopt.fast_sum(z.values()))
    result = mathopt.solve(
        mo, mathopt.SolverType.HIGHS, params=_params(params, seconds), model_params=_hint(x, z, hint)
    )
    if not result.has_primal_feasible_solution():
        return None, 0.0, False
    values = result.variable_values(list(x.values()))
    grants = {k: int(round(v)) for k, v in zip(x.keys(), values) if round(v) > 0}
    optimal = result.termination.reason == mathopt.TerminationReason.OPTIMAL
    return grants, float(result.termination.objective_bounds.dual_bound), optimal


def _donor_limits(p: Problem, mo, z, per_request, delivered: set[int]) -> None:
    limit = p.scenario.policy.max_donors_per_request
    if limit is None:
        return
    deliveries: dict[int, int] = defaultdict(int)
    for k in delivered:
        deliveries[p.request_index[p.scenario.offers[k].request]] += 1
    for j, ks in per_request.items():
        if len(ks) + deliveries[j] > limit:
            mo.add_linear_constraint(mathopt.fast_sum(z[k] for k in ks) <= limit - deliveries[j])


def _params(params, seconds: float | None) -> mathopt.SolveParameters:
    sp = mathopt.SolveParameters(
        random_seed=params.seed,
        relative_gap_tolerance=params.relative_gap,
        node_limit=params.node_limit,
        time_limit=datetime.timedelta(seconds=seconds) if seconds is not None else None,
    )
    sp.highs.int_options["threads"] = params.threads
    return sp


def _hint(x, z, hint: dict[int, int] | None):
    if not hint:
        return None
    values = {}
    for k, var in x.items():
        values[var] = hint.get(k, 0)
        values[z[k]] = 1 if hint.get(k, 0) > 0 else 0
    return mathopt.ModelSolveParameters(solution_hints=[mathopt.SolutionHint(variable_values=values)])

"""The money stages (coverage, volume, cost) on the aggregate model: the plan that realise.py
turns into whole grants.

Each stage optimises its term with the earlier ones kept (stages.keep_earlier_stages), starting
from the previous stage's plan or the greedy allocation. A volume stage whose start places all the
money the round can hold (a max flow) is proven without a solve; a cost stage, or a volume stage
under a --gap looser than the default, whose start is within one unit or the gap of its LP
relaxation's bound is proven without its MIP; a funding that comes back fractional is made whole,
first with the other choices kept, else by solving the stage again with it integer. A plan
taken without a solve after it is checked against the share rules exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import max_flow
from ortools.math_opt.python import mathopt

from matcher.engine.aggregate import Arcs, build_aggregate
from matcher.engine.compile import Problem
from matcher.engine.model import SENSE, Model, term_expression
from matcher.engine.params import SolveParams, highs_parameters, solve_highs
from matcher.engine.readout import Solution
from matcher.engine.realise import Plan, make_whole
from matcher.engine.stages import (
    INTEGRAL_TERMS,
    Stage,
    highs_log,
    keep_earlier_stages,
    log_stage,
    objective_scale,
    plan_value,
    relative_gap,
    shortfalls,
)
from matcher.errors import MatcherError
from matcher.validate import share_violations

# The LP relaxation is tried on a volume stage the flow did not prove only under a --gap looser
# than the default (on a cost stage always): at the default it proved 1 of the 46 such volume
# stages in 100 draws of an S sweep, for 8 ms each (without it: sweep_ab 0.957, identical
# outcomes); under --gap 1e-4, 1 of 26 in 60 draws. It is kept for looser gaps, which its bound
# (a few thousand units above the optimum on an S round) can meet.
LP_PROOF_FROM_GAP = 1e-7


@dataclass
class Planned:
    """The money stages' plan on the aggregate model."""

    stages: list
    plan: Plan
    status: str


def money_plan(problem: Problem, arcs: Arcs, money_terms, params: SolveParams, clock, first, crumbs: bool):
    """The money stages on the aggregate model (with ``crumbs``: the tighter one): a Planned, or
    the final outcome when there is no plan (infeasible: so is the full model; or none in time)."""
    model = build_aggregate(problem, arcs, crumbs)
    stages: list[Stage] = []
    plan: Plan | None = None
    status = "optimal"
    for n, term in enumerate(money_terms):
        keep_earlier_stages(problem, model, stages[-1:])
        fraction = 0.5 if n == 0 else 0.2  # the first stage matters most; later ones are tie-breaks
        if n == 1:  # later stages: every partly fundable f whole from the start (fewer re-solves)
            _whole_partials(problem, model)
        hint = plan or (_as_plan(problem, arcs, first) if first is not None else None)
        # a coverage stage's greedy start is not handed to HiGHS, only kept in case it finds nothing:
        # completing the start costs HiGHS an LP, and its root finds better ones (sweep_ab on four
        # sets of 200 S draws: 0.972, 1.013, 0.978, 0.993, identical outcomes; L: 6.2 -> 4.3 s)
        given = None if plan is None and term == "coverage" else hint
        outcome = _solve_plan_stage(
            problem, arcs, model, term, params, clock.part(fraction), hint, given, restart=n == 0
        )
        if outcome is not None and outcome[1] is not None and plan is not None:
            outcome = _kept(problem, stages, outcome)
        if outcome is None:
            if plan is None:  # the relaxation is infeasible, so is the full model
                return None, "infeasible", []
            status = "feasible"
            break
        stage, solution = outcome
        if solution is None:  # none found in time: the start stands (as it would had HiGHS been given it)
            if hint is None:
                return None, "unknown", []
            stage.value, stage.status = plan_value(problem, hint, term), "feasible"
            solution = hint
        if (
            plan is not None
            and solution is not plan
            and not _improves(problem, term, solution, plan)
            and not _breaks_shares(problem, plan)  # the earlier plan met a cap or floor only within tolerance
        ):
            solution = plan  # as good on this term, and the earlier terms as they were: no money moved for nothing
            stage.value = plan_value(problem, plan, term)
        plan = solution
        stages.append(stage)
        log_stage(params, stage)
        if stage.status != "optimal":
            status = "feasible"
    assert plan is not None, "money_plan is given at least one money term"
    return Planned(stages, plan, status)


def _kept(problem: Problem, stages: list[Stage], outcome):
    """The stage's outcome when its plan keeps the earlier stages in whole units (stages.shortfalls).
    Else the stage has no plan of its own, and the caller keeps the earlier stage's (this stage
    'feasible', its bound as proven): HiGHS met the keep row only within its tolerances, e.g. a
    funded-at-all flag at 1e-6 funding a millionth of a request, which tightening the row does not stop."""
    stage, plan = outcome
    if not shortfalls(problem, plan, stages):
        return outcome
    return Stage(stage.term, float("nan"), stage.bound, "unknown", stage.seconds), None


def _improves(problem: Problem, term: str, new: Plan, old: Plan) -> bool:
    """Whether ``new`` is better than ``old`` on the stage's own term (by a whole unit for money terms)."""
    margin = 0.5 if term in INTEGRAL_TERMS else 1e-9 * max(abs(plan_value(problem, old, term)), 1.0)
    gain = plan_value(problem, new, term) - plan_value(problem, old, term)
    return (gain if SENSE[term] == "max" else -gain) > margin


def _solve_plan_stage(
    problem, arcs, model, term: str, params: SolveParams, seconds, hint: Plan | None, given: Plan | None, restart=True
):
    """One money stage on the aggregate model: (stage, plan or None), or None when infeasible.
    ``hint``: a plan feasible for this stage (the previous stage's, or the greedy allocation's),
    which the proofs without a solve test and which turns HiGHS's own searches for a start off;
    ``given``: the start handed to HiGHS (``hint`` or None); ``restart``: whether HiGHS may restart
    its search (see params.highs_parameters)."""
    scale = objective_scale(problem, term)
    expr = scale * term_expression(problem, model, term)
    model.mo.maximize(expr) if SENSE[term] == "max" else model.mo.minimize(expr)
    t0 = time.perf_counter()
    if hint is not None and term in INTEGRAL_TERMS:
        proven = _proven_by_flow(problem, term, hint)
        if proven is None and (term != "volume" or params.relative_gap > LP_PROOF_FROM_GAP):
            proven = _proven_by_relaxation(problem, model, term, params, seconds, hint)
        if proven is not None:
            proven.seconds = time.perf_counter() - t0
            return proven, hint
    first_bound = float("nan")  # the first solve's bound holds for the later ones (they only add integrality)
    rounded = None
    for attempt in range(4):
        left = None if seconds is None else max(0.05, seconds - (time.perf_counter() - t0))
        sp = highs_parameters(params, left, 1e-9, started=hint is not None, restart=restart)
        result = solve_highs(model.mo, sp, _plan_hints(model, given), highs_log(params, term))
        if attempt == 0:
            first_bound = float(result.termination.objective_bounds.dual_bound) / scale
        if not result.has_primal_feasible_solution():
            break
        f_values = result.variable_values(model.f)
        # every f that came back fractional made integer, then solved again
        if not make_whole(model.f, f_values):
            break
        if attempt == 0:  # first, the same choices with those f whole: proven when within the gap
            fractional = [j for j, v in enumerate(f_values) if abs(v - round(v)) > 1e-6]
            free = {model.y[j] for j in fractional} | {model.f[j] for j in fractional}  # decided again
            integer = [var for var in model.mo.variables() if var.integer and var not in free]
            choices = dict(zip(integer, result.variable_values(integer)))
            rounded = _rounded(problem, model, term, choices, params, left, first_bound)
            if rounded is not None:
                break
    seconds_used = time.perf_counter() - t0
    if rounded is not None:
        plan, value = rounded
        return Stage(term, value, first_bound, "optimal", seconds_used), plan
    reason = result.termination.reason
    if reason in (mathopt.TerminationReason.INFEASIBLE, mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED):
        return None
    if not result.has_primal_feasible_solution():
        return Stage(term, float("nan"), first_bound, "unknown", seconds_used), None
    plan = _read_plan(problem, model, result)
    value = plan_value(problem, plan, term)
    bound = float(result.termination.objective_bounds.dual_bound) / scale
    optimal = reason == mathopt.TerminationReason.OPTIMAL
    return Stage(term, value, bound, "optimal" if optimal else "feasible", seconds_used), plan


def _rounded(problem, model, term: str, choices: dict, params: SolveParams, seconds, bound: float):
    """(plan, value) of the stage with the discrete choices of the last solve kept (``choices``:
    its integer variables but the funded flags of requests whose f came back fractional, fixed at
    their values) and those f made whole: a MIP with a handful of binaries. Taken only when within
    the gap of ``bound`` (proven then); None otherwise, and the caller solves the stage again with
    those f whole. On a sweep of a 200 x 15 round a coverage stage solved again from scratch took
    up to 2 s (6,417 nodes); this takes milliseconds."""
    if not -1e30 < bound < 1e30:
        return None
    kept = {var: (var.lower_bound, var.upper_bound) for var in choices}
    for var, v in choices.items():
        var.lower_bound = var.upper_bound = round(v)
    try:
        result = solve_highs(model.mo, highs_parameters(params, seconds, 1e-9))
    except MatcherError:
        result = None
    finally:
        for var, (lb, ub) in kept.items():
            var.lower_bound, var.upper_bound = lb, ub
    if result is None or result.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return None
    plan = _read_plan(problem, model, result)
    if _breaks_shares(problem, plan):
        return None
    value = plan_value(problem, plan, term)
    # proven to the gap HiGHS proves a stage to (--gap), not to the looser lexicographic tolerance
    return (plan, value) if relative_gap(value, bound) <= params.relative_gap else None


def _breaks_shares(problem: Problem, plan: Plan) -> bool:
    """True when the plan's whole amounts break a country cap or a region floor (rules 9 and 10).
    HiGHS keeps such a row within its tolerance, which on a round of 10^7 units is a fraction of a
    unit: a floor met at 4,811,954.35 by 4,811,954 (seen on a draw of an S sweep). A plan taken
    without a solve after it (made whole with its choices kept, or proven by the LP) is checked."""
    s = problem.scenario
    if s.policy.max_country_share is None and not s.policy.region_floors:
        return False
    return bool(share_violations(s, {r.id: plan.funded[j] for j, r in enumerate(s.requests)}))


def _proven_by_flow(problem: Problem, term: str, hint: Plan) -> Stage | None:
    """The volume stage proven without a solve: the start already places all the money the round
    can hold at all (most_placed). On 104 volume stages of 100 draws of an S sweep this proves 58
    of the 59 the LP relaxation proves, in 0.2 ms instead of 8 ms."""
    if term != "volume" or _breaks_shares(problem, hint):
        return None
    value = plan_value(problem, hint, term)
    most = most_placed(problem)
    return Stage(term, value, float(most), "optimal", 0.0) if value >= most else None


def most_placed(problem: Problem) -> int:
    """An upper bound on money placed (the volume term) under every rule: a maximum flow from the
    donors' budgets through the pairs' caps to the requests' amounts, with each deliverable
    in-kind offer's value as a further source of its request. Every other rule only lowers it."""
    p = problem
    n_d, n_r = len(p.budgets), p.n_requests
    source, sink = n_d + n_r, n_d + n_r + 1
    offers = [p.scenario.offers[k] for k in p.offers]
    tails = np.concatenate([np.full(n_d, source), p.pair_donor, np.full(len(offers), source), n_d + np.arange(n_r)])
    heads = np.concatenate(
        [
            np.arange(n_d),
            n_d + p.pair_request,
            n_d + np.array([p.request_index[o.request] for o in offers], dtype=np.int64),
            np.full(n_r, sink),
        ]
    )
    caps = np.concatenate(
        [
            np.array(p.budgets, dtype=np.int64),
            p.pair_cap,
            np.array([o.value for o in offers], dtype=np.int64),
            np.array([r.amount for r in p.scenario.requests], dtype=np.int64),
        ]
    )
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64))
    if flow.solve(source, sink) != flow.OPTIMAL:
        raise MatcherError("the bound on money placed could not be computed (max flow failed)")
    return int(flow.optimal_flow())


def _proven_by_relaxation(problem, model, term: str, params: SolveParams, seconds, hint: Plan) -> Stage | None:
    """The stage proven without its MIP: the start (the previous stage's plan, feasible here) is
    within one currency unit (the term is a sum of whole units), or within the relative gap asked
    for, of the LP relaxation's bound.
    That was so in 60% of the volume stages of a 200 x 15 sweep (one LP of 0.01 s instead of a MIP
    of 0.05 s), nearly all of which the flow (_proven_by_flow) now proves first. None when the LP
    does not prove it."""
    if _breaks_shares(problem, hint):
        return None
    sp = highs_parameters(params, seconds, 1e-9)
    sp.highs.bool_options["solve_relaxation"] = True
    nothing = mathopt.SparseVectorFilter(filtered_items=[])  # the bound alone: no values, duals or costs to read
    only_bound = mathopt.ModelSolveParameters(
        variable_values_filter=nothing, dual_values_filter=nothing, reduced_costs_filter=nothing
    )
    try:
        result = solve_highs(model.mo, sp, only_bound)
    except MatcherError:
        return None  # the MIP decides
    if result.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return None
    bound = float(result.termination.objective_bounds.dual_bound) / objective_scale(problem, term)
    value = plan_value(problem, hint, term)
    if SENSE[term] == "max":
        proven = value >= math.floor(bound + 1e-6)
    else:
        proven = value <= math.ceil(bound - 1e-6)
    # or within the gap asked for (--gap), as the stage's MIP would have stopped there
    proven = proven or relative_gap(value, bound) <= params.relative_gap
    return Stage(term, value, bound, "optimal", 0.0) if proven else None


def _whole_partials(problem: Problem, model: Model) -> None:
    for j, r in enumerate(problem.scenario.requests):
        if problem.min_amount[j] < r.amount:
            model.f[j].integer = True


def _read_plan(problem: Problem, model: Model, result) -> Plan:
    f = result.variable_values(model.f)
    uv = result.variable_values(list(model.u.values())) if model.u else []
    flows = result.variable_values(list(model.x.values())) if model.x else []
    delivered = {k for k, v in zip(model.u.keys(), uv) if v > 0.5}
    return Plan([int(round(v)) for v in f], delivered, list(flows))


def _plan_hints(model: Model, plan: Plan | None) -> mathopt.ModelSolveParameters | None:
    """Start from the previous stage's plan: it is feasible for this stage too."""
    if plan is None:
        return None
    values = {var: plan.flows[a] for a, var in model.x.items()}
    for a, var in model.w.items():
        values[var] = 1 if plan.flows[a] > 0.5 else 0
    for j, var in enumerate(model.y):
        values[var] = 1 if plan.funded[j] > 0 else 0
        values[model.f[j]] = plan.funded[j]
    for k, var in model.u.items():
        values[var] = 1 if k in plan.delivered else 0
    return mathopt.ModelSolveParameters(solution_hints=[mathopt.SolutionHint(variable_values=values)])


def _as_plan(problem: Problem, arcs: Arcs, sol: Solution) -> Plan:
    """An allocation as a plan of the aggregate model: its money summed per (donor, class) arc."""
    arc_of = {(i, c): a for a, (i, c) in enumerate(zip(arcs.donor, arcs.cls))}
    flows = [0.0] * len(arcs.donor)
    for k, v in sol.x.items():
        a = arc_of.get((int(problem.pair_donor[k]), int(problem.class_of[problem.pair_request[k]])))
        if a is not None:
            flows[a] += v
    return Plan(list(sol.funded), set(sol.delivered), flows)

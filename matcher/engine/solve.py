"""solve(scenario, params) -> Result: the lexicographic objective, stage by stage, on HiGHS.

Two methods give the same optimum:
- ``full``: one model per stage with every rule, one binary per eligible pair where a per-grant
  rule or the grants term needs it. Plain and slow at scale; the reference the tests compare to.
- ``decomposed`` (default): the money stages (coverage, volume, cost) on the aggregate model
  without per-grant binaries, a relaxation whose bound is a true bound; the funding plan is then
  turned into whole grants (min-cost flow, or a small MIP over the funded requests when a per-grant
  rule needs it), which proves the plan realisable and so optimal; the grants stage minimises the
  grants of that plan. When a plan cannot be realised, the full model takes over.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

import ortools
from ortools.math_opt.python import mathopt

from matcher import __version__
from matcher.domain import Scenario
from matcher.engine.assign import solve_assignment
from matcher.engine.compile import Problem, compile_problem
from matcher.engine.model import SENSE, Model, build, has_grant_rules, term_expression
from matcher.engine.params import SolveParams
from matcher.engine.readout import Solution, read_solution, result_of, term_value
from matcher.engine.realise import fewest_grants, money_demand, repaired_grants
from matcher.errors import MatcherError
from matcher.result import Result, StageInfo
from matcher.scenario_io import input_sha256

LEX_TOLERANCE = 1e-6


@dataclass
class _Stage:
    term: str
    value: float
    bound: float
    status: str
    seconds: float


class _Clock:
    def __init__(self, params: SolveParams) -> None:
        self.params = params
        self.started = time.perf_counter()

    def share(self, parts_left: int) -> float | None:
        """Split what is left of the time limit evenly over the parts still to run."""
        if self.params.time_limit is None:
            return None
        left = self.params.time_limit - (time.perf_counter() - self.started)
        return max(0.05, left / max(1, parts_left))

    def capped(self, seconds: float, parts_left: int) -> float:
        """At most ``seconds``, and no more than this part's share of the time left."""
        share = self.share(parts_left)
        return seconds if share is None else min(seconds, share)


def solve(scenario: Scenario, params: SolveParams | None = None) -> Result:
    """Optimise the scenario's objective terms in order and return a validated Result."""
    params = params or SolveParams()
    clock = _Clock(params)
    problem = compile_problem(scenario)
    terms = list(scenario.policy.objective)
    method = params.method
    if method in ("auto", "cpsat"):  # pure assignment (in-kind offers only): CP-SAT, see assign.py
        assigned = solve_assignment(problem, terms, params, clock.share)
        if assigned is not None:
            best, status, stages = assigned
            info = _solver_info_args(scenario, params, clock.started, "cpsat")
            return result_of(problem, best, status, [_info(st) for st in stages], info)  # type: ignore[arg-type]
        if method == "cpsat":
            raise MatcherError(
                "method 'cpsat' covers rounds of in-kind offers only (no funds donor can fund a"
                " request); use method 'auto'"
            )
    if method == "auto":
        method = "decomposed" if _decomposable(terms) else "full"
    outcome = _decomposed(problem, terms, params, clock) if method == "decomposed" else None
    engine = "mathopt-highs-decomposed"
    if outcome is None:
        outcome = _full(problem, terms, params, clock)
        engine = "mathopt-highs-full"
    best, status, stages = outcome
    infos = [_info(st) for st in stages]
    return result_of(problem, best, status, infos, _solver_info_args(scenario, params, clock.started, engine))


def _decomposable(terms: list[str]) -> bool:
    """The grants term, when present, must come last: earlier stages then never count grants."""
    return "grants" not in terms or terms[-1] == "grants"


def _full(problem: Problem, terms: list[str], params: SolveParams, clock: _Clock):
    stages: list[_Stage] = []
    best: Solution | None = None
    status = "optimal"
    for n, term in enumerate(terms):
        model = build(problem, grants_counted="grants" in terms[: n + 1])
        _keep_earlier_stages(problem, model, stages)
        outcome = _solve_stage(problem, model, term, params, clock.share(len(terms) - n), best)
        if outcome is None:  # proven infeasible; only the first stage can be, later ones start feasible
            status = "infeasible" if best is None else "feasible"
            break
        stage, solution = outcome
        if solution is None and best is not None:  # no better allocation found: keep the last one
            stage.value = term_value(problem, best, term)
            stage.status = "feasible"
        best = solution or best
        if best is None:
            status = "unknown"
            break
        stages.append(stage)
        if stage.status != "optimal":
            status = "feasible"
    return best, status, stages


def _decomposed(problem: Problem, terms: list[str], params: SolveParams, clock: _Clock):
    """Money stages on the aggregate model, then whole grants; None when the plan is not realisable."""
    money_terms = [t for t in terms if t != "grants"]
    stages: list[_Stage] = []
    plan: Solution | None = None
    status = "optimal"
    parts = len(terms) + 1
    for n, term in enumerate(money_terms):
        model = build(problem, grants_counted=False, aggregate=True)
        _keep_earlier_stages(problem, model, stages)
        outcome = _solve_stage(problem, model, term, params, clock.share(parts - n), plan, aggregate=True)
        if outcome is None:
            if plan is None and not has_grant_rules(problem):
                return None, "infeasible", []
            if plan is None:
                return None  # the relaxation is infeasible, so is the full model: let it say so
            status = "feasible"
            break
        stage, solution = outcome
        if solution is None:
            if plan is None:
                return None, "unknown", []
            stage.value, stage.status = _plan_value(problem, plan, term), "feasible"
        plan = solution or plan
        stages.append(stage)
        if stage.status != "optimal":
            status = "feasible"
    if plan is None:  # no money term at all (objective: [grants])
        return None
    need = money_demand(problem, plan.funded, plan.delivered)
    hint = repaired_grants(problem, need, plan.delivered)
    if hint is not None and "grants" not in terms:
        return Solution(hint, plan.delivered, plan.funded), status, stages
    t0 = time.perf_counter()
    polish = clock.capped(params.polish_seconds, parts_left=2) if hint is not None else clock.share(2)
    fewest, bound, optimal = fewest_grants(problem, need, plan.delivered, hint, params, polish)
    if fewest is None:
        return None
    best = Solution(fewest, plan.delivered, plan.funded)
    if "grants" in terms:
        lower = _grants_lower_bound(problem, money_terms, stages, params, clock)
        value = float(len(fewest) + len(plan.delivered))
        proven = optimal and value <= lower + 0.5
        stage = _Stage(
            "grants", value, value if proven else lower, "optimal" if proven else "feasible", time.perf_counter() - t0
        )
        if not proven and len(problem.pairs) <= SMALL_PAIRS:
            best, stage = _exact_grants(problem, stages, params, clock, best, stage)
        stages.append(stage)
        if stage.status != "optimal":
            status = "feasible"
    return best, status, stages


SMALL_PAIRS = 2000  # below this many pairs the full grants model is cheap enough to prove the stage


def _exact_grants(problem: Problem, stages: list[_Stage], params, clock, best: Solution, stage: _Stage):
    """On small rounds, prove the grants stage with the full model, starting from our grants."""
    model = build(problem, grants_counted=True)
    _keep_earlier_stages(problem, model, stages)
    outcome = _solve_stage(problem, model, "grants", params, clock.share(1), best)
    if outcome is None or outcome[1] is None:
        return best, stage
    full_stage, solution = outcome
    if full_stage.value <= stage.value:
        full_stage.bound = max(full_stage.bound, stage.bound)
        return solution, full_stage
    stage.bound = max(stage.bound, full_stage.bound)
    return best, stage


def _grants_lower_bound(problem: Problem, money_terms: list[str], stages: list[_Stage], params, clock) -> float:
    """A true lower bound on the grants stage: every funded request needs at least one grant or
    delivery, so the fewest funded requests among plans that keep the earlier stages bound it."""
    model = build(problem, grants_counted=False, aggregate=True)
    _keep_earlier_stages(problem, model, stages)
    model.mo.minimize(mathopt.fast_sum(model.y))
    result = mathopt.solve(
        model.mo, mathopt.SolverType.HIGHS, params=_highs_params(params, clock.capped(params.polish_seconds, 1))
    )
    bound = result.termination.objective_bounds.dual_bound
    return float(bound) if bound == bound and bound > -1e30 else 0.0


def _plan_value(problem: Problem, plan: Solution, term: str) -> float:
    s = problem.scenario
    if term == "coverage":
        return sum(problem.weights[j] * plan.funded[j] / r.amount for j, r in enumerate(s.requests))
    if term == "volume":
        return float(sum(plan.funded))
    return float(sum(s.offers[k].cost for k in plan.delivered))


def _keep_earlier_stages(problem: Problem, model: Model, stages: list[_Stage]) -> None:
    """Keep every earlier term within a relative 1e-6 of the value its stage reached."""
    for st in stages:
        expr = term_expression(problem, model, st.term)
        slack = LEX_TOLERANCE * abs(st.value)
        if SENSE[st.term] == "max":
            model.mo.add_linear_constraint(expr >= st.value - slack, name=f"keep_{st.term}")
        else:
            model.mo.add_linear_constraint(expr <= st.value + slack, name=f"keep_{st.term}")


def _solve_stage(
    problem: Problem,
    model: Model,
    term: str,
    params: SolveParams,
    seconds: float | None,
    hint: Solution | None,
    aggregate: bool = False,
) -> tuple[_Stage, Solution | None] | None:
    """Solve one stage; None when the stage is proven infeasible."""
    expr = term_expression(problem, model, term)
    if SENSE[term] == "max":
        model.mo.maximize(expr)
    else:
        model.mo.minimize(expr)
    t0 = time.perf_counter()
    log = (lambda lines: [params.on_log(f"[{term}] {ln}") for ln in lines]) if params.on_log else None
    for _attempt in range(4):
        left = None if seconds is None else max(0.05, seconds - (time.perf_counter() - t0))
        result = mathopt.solve(
            model.mo,
            mathopt.SolverType.HIGHS,
            params=_highs_params(params, left),
            model_params=_hints(model, hint, aggregate),
            msg_cb=log,
        )
        if not (aggregate and result.has_primal_feasible_solution() and _make_whole(model, result)):
            break
    seconds_used = time.perf_counter() - t0
    reason = result.termination.reason
    if reason in (mathopt.TerminationReason.INFEASIBLE, mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED):
        return None
    if not result.has_primal_feasible_solution():
        return _Stage(term, float("nan"), float("nan"), "unknown", seconds_used), None
    solution = read_solution(problem, model, result, aggregate)
    value = float(result.objective_value())
    bound = float(result.termination.objective_bounds.dual_bound)
    optimal = reason == mathopt.TerminationReason.OPTIMAL
    return _Stage(term, value, bound, "optimal" if optimal else "feasible", seconds_used), solution


def _make_whole(model: Model, result) -> bool:
    """Mark integer every f[r] that came back fractional; True when any did (solve again).

    Once every f is integer the next solve cannot come back fractional, so this ends."""
    fractional = [
        var for var, v in zip(model.f, result.variable_values(model.f)) if abs(v - round(v)) > 1e-6 and not var.integer
    ]
    for var in fractional:
        var.integer = True
    return bool(fractional)


def _highs_params(params: SolveParams, seconds: float | None) -> mathopt.SolveParameters:
    sp = mathopt.SolveParameters(
        random_seed=params.seed,
        relative_gap_tolerance=params.relative_gap,
        absolute_gap_tolerance=1e-9,
        node_limit=params.node_limit,
        time_limit=datetime.timedelta(seconds=seconds) if seconds is not None else None,
    )
    sp.highs.int_options["threads"] = params.threads
    return sp


def _hints(model: Model, hint: Solution | None, aggregate: bool) -> mathopt.ModelSolveParameters | None:
    """Start from the previous stage's allocation: it is feasible for this stage too."""
    if hint is None:
        return None
    values = {}
    for k, var in model.x.items():
        values[var] = hint.x.get(k, 0)
    for k, var in model.z.items():
        values[var] = 1 if hint.x.get(k, 0) > 0 else 0
    for j, var in enumerate(model.y):
        values[var] = 1 if hint.funded[j] > 0 else 0
    for k, var in model.u.items():
        values[var] = 1 if k in hint.delivered else 0
    return mathopt.ModelSolveParameters(solution_hints=[mathopt.SolutionHint(variable_values=values)])


def _info(st: _Stage) -> StageInfo:
    return StageInfo(
        term=st.term,
        sense=SENSE[st.term],  # type: ignore[arg-type]
        value=st.value,
        bound=st.bound,
        gap=relative_gap(st.value, st.bound),
        status=st.status,
        seconds=round(st.seconds, 3),
    )


def relative_gap(value: float, bound: float) -> float:
    """|bound - value| / max(|value|, 1e-9): 0 when proven optimal."""
    if value != value or bound != bound:  # NaN: no solution
        return float("inf")
    return abs(bound - value) / max(abs(value), 1e-9)


def _solver_info_args(scenario: Scenario, params: SolveParams, started: float, engine: str) -> dict:
    return {
        "engine": engine,
        "ortools": ortools.__version__,
        "matcher": __version__,
        "seed": params.seed,
        "threads": params.threads,
        "time_limit": params.time_limit,
        "node_limit": params.node_limit,
        "started": started,
        "input_sha256": input_sha256(scenario),
    }

"""solve(scenario, params) -> Result: the lexicographic objective, stage by stage, on HiGHS."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

import ortools
from ortools.math_opt.python import mathopt

from matcher import __version__
from matcher.domain import Scenario
from matcher.engine.compile import Problem, compile_problem
from matcher.engine.model import SENSE, Model, build, term_expression
from matcher.engine.params import SolveParams
from matcher.engine.readout import Solution, read_solution, result_of, term_value
from matcher.scenario_io import input_sha256
from matcher.result import Result, StageInfo

LEX_TOLERANCE = 1e-6
ENGINE = "mathopt-highs-lexicographic"


@dataclass
class _Stage:
    term: str
    value: float
    bound: float
    status: str
    seconds: float


def solve(scenario: Scenario, params: SolveParams | None = None) -> Result:
    """Optimise the scenario's objective terms in order and return a validated Result."""
    params = params or SolveParams()
    started = time.perf_counter()
    problem = compile_problem(scenario)
    stages: list[_Stage] = []
    best: Solution | None = None
    status = "optimal"
    terms = list(scenario.policy.objective)
    for n, term in enumerate(terms):
        grants_counted = "grants" in terms[: n + 1]
        model = build(problem, grants_counted)
        _fix_earlier_stages(problem, model, stages)
        budget = _stage_time(params, started, len(terms) - n)
        outcome = _solve_stage(problem, model, term, params, budget, best)
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
    infos = [_info(st) for st in stages]
    return result_of(problem, best, status, infos, _solver_info_args(scenario, params, started))


def _stage_time(params: SolveParams, started: float, stages_left: int) -> float | None:
    """Split what is left of the time limit evenly over the stages still to run."""
    if params.time_limit is None:
        return None
    left = params.time_limit - (time.perf_counter() - started)
    return max(0.05, left / stages_left)


def _fix_earlier_stages(problem: Problem, model: Model, stages: list[_Stage]) -> None:
    """Keep every earlier term within a relative 1e-6 of the value its stage reached."""
    for st in stages:
        expr = term_expression(problem, model, st.term)
        slack = LEX_TOLERANCE * abs(st.value)
        if SENSE[st.term] == "max":
            model.mo.add_linear_constraint(expr >= st.value - slack, name=f"keep_{st.term}")
        else:
            model.mo.add_linear_constraint(expr <= st.value + slack, name=f"keep_{st.term}")


def _solve_stage(
    problem: Problem, model: Model, term: str, params: SolveParams, seconds: float | None, hint: Solution | None
) -> tuple[_Stage, Solution | None] | None:
    """Solve one stage; None when the stage is proven infeasible."""
    expr = term_expression(problem, model, term)
    if SENSE[term] == "max":
        model.mo.maximize(expr)
    else:
        model.mo.minimize(expr)
    t0 = time.perf_counter()
    result = mathopt.solve(
        model.mo,
        mathopt.SolverType.HIGHS,
        params=_highs_params(params, seconds),
        model_params=_hints(model, hint),
        msg_cb=(lambda lines: [params.on_log(f"[{term}] {ln}") for ln in lines]) if params.on_log else None,
    )
    seconds_used = time.perf_counter() - t0
    reason = result.termination.reason
    if reason in (mathopt.TerminationReason.INFEASIBLE, mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED):
        return None
    if not result.has_primal_feasible_solution():
        return _Stage(term, float("nan"), float("nan"), "unknown", seconds_used), None
    solution = read_solution(problem, model, result)
    value = float(result.objective_value())
    bound = float(result.termination.objective_bounds.dual_bound)
    optimal = reason == mathopt.TerminationReason.OPTIMAL
    return _Stage(term, value, bound, "optimal" if optimal else "feasible", seconds_used), solution


def _highs_params(params: SolveParams, seconds: float | None) -> mathopt.SolveParameters:
    sp = mathopt.SolveParameters(
        random_seed=params.seed,
        relative_gap_tolerance=params.relative_gap,
        absolute_gap_tolerance=1e-9,
        node_limit=params.node_limit,
        time_limit=datetime.timedelta(seconds=seconds) if seconds is not None else None,
    )
    sp.highs.int_options["threads"] = params.threads
    sp.highs.string_options["parallel"] = "off" if params.threads == 1 else "choose"
    return sp


def _hints(model: Model, hint: Solution | None) -> mathopt.ModelSolveParameters | None:
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


def _solver_info_args(scenario: Scenario, params: SolveParams, started: float) -> dict:
    return {
        "engine": ENGINE,
        "ortools": ortools.__version__,
        "matcher": __version__,
        "seed": params.seed,
        "threads": params.threads,
        "time_limit": params.time_limit,
        "node_limit": params.node_limit,
        "started": started,
        "input_sha256": input_sha256(scenario),
    }

"""Solve parameters: limits, seed and determinism."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.math_opt.python import mathopt

from matcher.errors import MatcherError


@dataclass(frozen=True)
class SolveParams:
    """How to solve. ``time_limit`` in seconds for the whole solve (all stages); ``node_limit`` is a
    work limit per stage that, unlike time, gives the same answer on every machine and run."""

    time_limit: float | None = 60.0
    seed: int = 0
    node_limit: int | None = None
    threads: int = 1
    relative_gap: float = 1e-7
    polish_seconds: float = 0.0  # wall-clock seconds for a full-model search for fewer grants (0: none)
    method: str = "auto"  # "auto" | "decomposed" | "full" (plain model, for checks) | "cpsat" (in-kind only)
    explain: bool = True  # why each request got less than it asked (False: sweeps, whose draws report funding only)
    on_log: Callable[[str], None] | None = None

    def public(self) -> dict:
        """The parameters a replay needs, as plain data."""
        return {
            "time_limit": self.time_limit,
            "seed": self.seed,
            "node_limit": self.node_limit,
            "threads": self.threads,
            "relative_gap": self.relative_gap,
            "method": self.method,
            "polish_seconds": self.polish_seconds,
        }


def highs_parameters(
    params: SolveParams,
    seconds: float | None,
    absolute_gap: float | None = None,
    started: bool = False,
    root_search: bool = False,
    restart: bool = True,
) -> mathopt.SolveParameters:
    """MathOpt parameters for one HiGHS solve: seed, gap, work limit, threads and ``seconds`` (None
    or an infinite value: no time limit; at least 0.05 s otherwise). ``started``: the solve starts
    from a good solution, so HiGHS's searches for solutions are turned off: its sub-MIP heuristics
    (RINS, RENS, root reduced cost: on the money stages of a 200 x 15 round they took 60-70% of
    the time and found nothing the start had not) and the feasibility jump (1-4% of a sweep draw,
    benchmarks/RESULTS.md). ``root_search``: a search for any solution at the root node (a node
    limit of 1) without the feasibility jump and RENS: on the restricted grants MIPs of 200 draws
    of an S sweep they found no solution the root did not find without them, and on restrictions
    with no solution they spent 1.4 s each before giving up (0.27 s without them). ``restart``
    False: no restart of the search after the root (later money stages, whose start is mostly
    their optimum already: on the 109 volume MIPs of 200 draws of an S sweep 6.5 s -> 5.6 s, the
    same values; the coverage stage gains from its restarts, 7.6 -> 8.0 s without them)."""
    limit = None if seconds is None or seconds >= 1e9 else datetime.timedelta(seconds=max(0.05, seconds))
    sp = mathopt.SolveParameters(
        random_seed=params.seed,
        relative_gap_tolerance=params.relative_gap,
        absolute_gap_tolerance=absolute_gap,
        node_limit=params.node_limit,
        time_limit=limit,
    )
    sp.highs.int_options["threads"] = params.threads
    if started:
        for name in (
            "mip_heuristic_run_rins",
            "mip_heuristic_run_rens",
            "mip_heuristic_run_root_reduced_cost",
            "mip_heuristic_run_feasibility_jump",
        ):
            sp.highs.bool_options[name] = False
    if not restart:
        sp.highs.bool_options["mip_allow_restart"] = False
    if root_search:
        for name in ("mip_heuristic_run_rens", "mip_heuristic_run_feasibility_jump"):
            sp.highs.bool_options[name] = False
    return sp


def whole_grants(sp: mathopt.SolveParameters, largest: float) -> mathopt.SolveParameters:
    """Tighten HiGHS's integrality tolerance (1e-6) on a model whose grant binaries switch amounts up
    to ``largest`` (x <= amount z): at 1e-6 a z of 1.4e-7 let a grant of 10 through with 32,000,000
    as its minimum (a round of 1e7-1e8), which the validator then stopped as an engine bug. Tight
    enough that what slips through rounds to 0."""
    if largest > 1e5:
        sp.highs.double_options["mip_feasibility_tolerance"] = max(1e-10, min(1e-6, 0.1 / largest))
    return sp


def solve_highs(
    model: mathopt.Model,
    parameters: mathopt.SolveParameters,
    model_params: mathopt.ModelSolveParameters | None = None,
    msg_cb=None,
) -> mathopt.SolveResult:
    """``mathopt.solve`` on HiGHS, the one place the engine calls it.

    HiGHS can fail inside a solve (an internal error that MathOpt raises as an exception; seen once
    in 1,000 draws of a sweep, in a money stage started from a solution hint). The solve is then run
    again without the hint, and only a second failure stops the command, as one error line.

    HiGHS can also say "optimal" about a solution that its own bound does not prove: after a
    restart it kept a start of objective 96 under a proven 98 (its log: "solution ... has
    untransformed violations"), and a presolve that wrongly found the model infeasible returned
    the start with a bound of -inf. Such an answer is solved again with restarts off, then with
    presolve off; if none is consistent, the best one comes back as feasible, never as optimal."""
    started = time.perf_counter()
    result = _solve_once(model, parameters, model_params, msg_cb)
    if _proven(result, parameters):
        return result
    tries = [result]
    for option, value in (("mip_allow_restart", False), ("presolve", "off")):
        parameters = copy.deepcopy(parameters)
        if parameters.time_limit is not None:  # the retries share the solve's time limit
            left = parameters.time_limit.total_seconds() - (time.perf_counter() - started)
            if left < 0.05:
                break
            parameters.time_limit = datetime.timedelta(seconds=left)
        options = parameters.highs.bool_options if isinstance(value, bool) else parameters.highs.string_options
        options[option] = value
        result = _solve_once(model, parameters, model_params, msg_cb)
        if _proven(result, parameters):
            return result
        tries.append(result)
    best = max(
        (r for r in tries if r.has_primal_feasible_solution()),
        key=lambda r: _sign(model) * r.objective_value(),
        default=tries[0],
    )
    best.termination = dataclasses.replace(
        best.termination, reason=mathopt.TerminationReason.FEASIBLE, limit=mathopt.Limit.UNDETERMINED
    )
    return best


def _sign(model: mathopt.Model) -> float:
    return 1.0 if model.objective.is_maximize else -1.0


def _proven(result: mathopt.SolveResult, parameters: mathopt.SolveParameters) -> bool:
    """False only for an "optimal" whose solution is not within the asked gap of the proven bound."""
    if result.termination.reason != mathopt.TerminationReason.OPTIMAL:
        return True
    if not result.has_primal_feasible_solution():
        return False
    value, bound = result.objective_value(), result.termination.objective_bounds.dual_bound
    if not math.isfinite(bound):
        return False
    rel = parameters.relative_gap_tolerance if parameters.relative_gap_tolerance is not None else 1e-4
    absolute = parameters.absolute_gap_tolerance if parameters.absolute_gap_tolerance is not None else 1e-6
    scale = max(1.0, abs(value))
    return abs(value - bound) <= 2 * max(absolute, rel * scale) + 1e-9 * scale


def _solve_once(model, parameters, model_params, msg_cb) -> mathopt.SolveResult:
    """One HiGHS solve, again without the hint when HiGHS fails inside it (see solve_highs)."""
    try:
        return mathopt.solve(
            model, mathopt.SolverType.HIGHS, params=parameters, model_params=model_params, msg_cb=msg_cb
        )
    except Exception as exc:  # noqa: BLE001  (pybind11's StatusNotOk, or ortools' failure to convert it)
        first = exc
    if model_params is not None:
        try:
            return mathopt.solve(model, mathopt.SolverType.HIGHS, params=parameters, msg_cb=msg_cb)
        except Exception as exc:  # noqa: BLE001
            first = exc
    # ortools 9.15 fails while converting pybind11's StatusNotOk (AttributeError: no 'canonical_code'),
    # which hides HiGHS's own message; that message is the error it was handling
    cause = first.__context__ if isinstance(first, AttributeError) and first.__context__ is not None else first
    raise MatcherError(
        f"HiGHS failed on the model '{model.name}' ({type(cause).__name__}: {cause}); this is a solver error, "
        "not a problem with the scenario: try another --seed, and please report it with the scenario"
    ) from first

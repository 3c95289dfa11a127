"""What runs on a worker: solve a chunk of drawn scenarios and return plain, small outcomes.

Only plain data travels: the scenario as data, the drawn pledges and the solve parameters.
Solver objects never leave the worker (OR-Tools models do not pickle), and neither do Results:
an outcome keeps just what the aggregate needs.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, replace
from typing import Any

from matcher.domain import Scenario
from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError
from matcher.scenario_io import parse_scenario
from matcher.sweep.draws import Pledges, apply_pledges


@dataclass(frozen=True)
class Chunk:
    """Work for one task: one grid point's data, some distinct draws of it, and the solve parameters."""

    point: int
    data: dict[str, Any]
    pledges: list[Pledges]
    params: dict[str, Any]
    fewest_grants: bool = True  # False: the grants term is left out of the objective (see solve_draw)


@dataclass(frozen=True)
class Outcome:
    """One solved draw, reduced to the measures a sweep reports."""

    status: str
    coverage: float | None
    placed: int
    grants: int
    funded: dict[str, int]  # request id -> money placed on it
    status_of: dict[str, str]  # request id -> funded | partial | unfunded
    used: dict[str, int]  # donor id -> money allocated (scenario currency)
    budget: dict[str, int]  # donor id -> drawn budget (scenario currency)
    seconds: float
    # stopped before a proof by a limit (time, or --node-limit): a money stage left open, no allocation, or
    # the grants stage open after using most of the time limit (left open by its own work limit, it replays)
    stopped: bool = False


def tune_worker() -> None:
    """Set up a worker process that the sweep owns (the local pool's, a local Dask cluster's): a
    draw makes and drops many small objects (models, results), and collecting the young ones
    less often than Python's default (every 700 allocations) saves 2% of a draw (two runs of 160
    S draws, each solved both ways: 0.980, 0.981)."""
    gc.set_threshold(50_000, 20, 100)


def worker_versions() -> tuple[str, str]:
    """(matcher, OR-Tools) versions where this runs: a cluster's workers must match the sweep's own."""
    import ortools

    from matcher import __version__

    return __version__, ortools.__version__


def solve_chunk(chunk: Chunk) -> list[Outcome]:
    """Solve every draw in the chunk, in order."""
    params = SolveParams(**chunk.params)
    return [solve_draw(chunk.data, pledges, params, chunk.fewest_grants) for pledges in chunk.pledges]


def solve_draw(data: dict[str, Any], pledges: Pledges, params: SolveParams, fewest_grants: bool = True) -> Outcome:
    """Solve one drawn scenario. With ``fewest_grants`` False a trailing grants term is dropped from
    the objective: it is the last tie-break, after coverage and money placed are fixed, so what a
    sweep reports per draw (funding, coverage, money placed, money used) keeps its optimal values,
    and the solve skips its costliest stage (5 times faster on a 200 x 15 round, benchmarks/)."""
    scenario = parse_scenario(apply_pledges(data, pledges), source="drawn scenario")
    budget = {d.id: scenario.budget_in_currency(d) for d in scenario.donors if d.kind == "funds"}
    try:
        # no reasons: a draw reports funding only, and explaining 200 requests is 7% of a draw's time
        result = solve(without_grants(scenario) if not fewest_grants else scenario, replace(params, explain=False))
    except MatcherError:
        # the solver failed on this draw even after its retry (engine/params.py, seen once in 1,000
        # draws): the draw is kept as "error", funding no request, and the sweep goes on
        return Outcome("error", None, 0, 0, {}, {}, {}, budget, 0.0)
    solved = result.has_solution()
    funded = {o.id: o.funded for o in result.requests} if solved else {}
    return Outcome(
        status=result.status,
        coverage=result.objective.get("coverage") if solved else None,
        placed=sum(funded.values()),
        grants=len(result.allocations) if solved else 0,
        funded=funded,
        status_of={o.id: o.status for o in result.requests} if solved else {},
        used={d.id: d.allocated for d in result.donors if d.kind == "funds"} if solved else {},
        budget=budget,
        seconds=result.solver.seconds,
        stopped=_stopped(result, params),
    )


def _stopped(result, params: SolveParams) -> bool:
    """Whether a limit, not the grants stage's own work limit, left the solve unproven."""
    if result.status == "unknown":
        return True
    open_terms = [st.term for st in result.solver.stages if st.status != "optimal"]
    if any(t != "grants" for t in open_terms):
        return True
    return bool(open_terms) and params.time_limit is not None and result.solver.seconds >= 0.9 * params.time_limit


def without_grants(scenario: Scenario) -> Scenario:
    """The scenario without the grants term when it is the objective's last term (a tie-break that
    no other term depends on); unchanged when grants comes earlier or is the only term, because
    dropping it there would change what the later terms optimise."""
    objective = scenario.policy.objective
    if len(objective) < 2 or objective[-1] != "grants":
        return scenario
    terms = objective[:-1]
    return scenario.model_copy(update={"policy": scenario.policy.model_copy(update={"objective": terms})})

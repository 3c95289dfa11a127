"""What runs on a worker: solve a chunk of drawn scenarios and return plain, small outcomes.

Only plain data travels: the scenario as data, the drawn pledges and the solve parameters.
Solver objects never leave the worker (OR-Tools models do not pickle), and neither do Results:
an outcome keeps just what the aggregate needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matcher.engine import SolveParams, solve
from matcher.scenario_io import parse_scenario
from matcher.sweep.draws import Pledges, apply_pledges


@dataclass(frozen=True)
class Chunk:
    """Work for one task: one grid point's data, some distinct draws of it, and the solve parameters."""

    point: int
    data: dict[str, Any]
    pledges: list[Pledges]
    params: dict[str, Any]


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


def solve_chunk(chunk: Chunk) -> list[Outcome]:
    """Solve every draw in the chunk, in order."""
    params = SolveParams(**chunk.params)
    return [solve_draw(chunk.data, pledges, params) for pledges in chunk.pledges]


def solve_draw(data: dict[str, Any], pledges: Pledges, params: SolveParams) -> Outcome:
    """Solve one drawn scenario."""
    scenario = parse_scenario(apply_pledges(data, pledges), source="drawn scenario")
    result = solve(scenario, params)
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
        budget={d.id: scenario.budget_in_currency(d) for d in scenario.donors if d.kind == "funds"},
        seconds=result.solver.seconds,
    )

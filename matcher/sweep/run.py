"""A sweep from start to end: plan the points and draws, run the distinct solves, summarise.

Identical draws (same pledges that arrive) are one scenario, solved once: with a few uncertain
donors that have only a ``confidence``, a thousand draws are a handful of solves. Every point uses
the same draws (common random numbers), so differences between points come from the varied
values, not from luck.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matcher.domain import Scenario
from matcher.engine import SolveParams
from matcher.engine.solve import check_scale
from matcher.errors import MatcherError, ScenarioError
from matcher.paths import apply_assignment
from matcher.scenario_io import parse_scenario, scenario_data
from matcher.sweep.aggregate import PointSummary, summarize
from matcher.sweep.draws import (
    Pledges,
    check_uncertainty,
    draw_all,
    exact_cases,
    pledge_key,
    uncertain_donors,
)
from matcher.sweep.executors import Executor
from matcher.sweep.grid import grid_points, parse_axes
from matcher.sweep.work import Chunk, Outcome

MAX_CHUNK = 25  # solves per task: small enough for steady progress, large enough to amortise sending the data
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep. ``draws=None``: each point solved once with the pledges as pledged."""

    draws: int | None = None
    exact: bool = False  # every combination of confidences at its exact probability (draws.exact_cases), not draws
    seed: int = 0
    vary: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    threshold: float = 0.9
    params: SolveParams = field(default_factory=SolveParams)
    fewest_grants: bool | None = None  # minimise grants in every solve; None: only when there are no draws

    def grants_minimised(self) -> bool:
        """Whether each solve keeps the grants tie-break: many draws are solved for the money terms only."""
        if self.fewest_grants is None:
            return self.draws is None and not self.exact
        return self.fewest_grants

    def drawn(self) -> bool:
        """Whether pledges are drawn (or enumerated): False for a grid solved as pledged."""
        return self.draws is not None or self.exact


@dataclass
class _Point:
    values: dict[str, Any]
    data: dict[str, Any]
    scenario: Scenario
    draw_keys: list[tuple]  # one per draw
    distinct: list[Pledges]  # one per distinct draw, in first-seen order
    arrivals: dict[str, float] | None = None  # per uncertain donor: the share of draws its envelope arrives in


@dataclass(frozen=True)
class SolvedDraw:
    """One distinct solve of a sweep: its grid point, the pledges, the draw numbers that gave them
    (empty when the point is solved as pledged, without draws) and what came out."""

    point: int
    pledges: Pledges
    draws: list[int]
    outcome: Outcome


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: one summary per point, and how it was run."""

    scenario: str
    seed: int
    draws: int | None
    paths: list[str]
    threshold: float
    uncertain: list[str]
    points: list[PointSummary]
    executor: str
    workers: int
    solves: int
    seconds: float
    solve_seconds: float  # mean solver time of one solve
    solved: list[SolvedDraw] = field(default_factory=list)  # every distinct solve, point by point, in draw order
    fewest_grants: bool = True  # whether each solve minimised the number of grants
    exact: bool = False  # draws are the exact cases of the confidences (draws.exact_cases), the same for any seed

    @property
    def drawn(self) -> bool:
        """Whether the pledges were drawn or enumerated (False: every point solved as pledged)."""
        return self.draws is not None or self.exact


def plan(raw: dict[str, Any], spec: SweepSpec) -> list[_Point]:
    """Every point with its draws; every input error is raised here, before anything runs."""
    base = scenario_data(parse_scenario(raw))
    for expr in spec.sets:
        base = apply_assignment(base, expr)
    axes = parse_axes(list(spec.vary), base)
    _uncertainty_needs_draws(axes, spec)
    points = []
    for values, data in grid_points(base, axes):
        scenario = _point_scenario(values, data)
        check_uncertainty(scenario)
        check_scale(scenario)  # amounts the engine refuses: one Error line now, not an "error" draw each
        keys, distinct, arrivals = _draws(scenario, spec)
        points.append(_Point(values, data, scenario, keys, distinct, arrivals))
    return points


def _uncertainty_needs_draws(axes, spec: SweepSpec) -> None:
    """Varying how sure a pledge is changes only the draws: without --draws every point would be alike."""
    if spec.drawn():
        return
    for axis in axes:
        if axis.path.endswith((".confidence", ".budget_range")):
            raise MatcherError(
                f"--vary '{axis.path}': confidence and budget_range only change the draws; "
                "add --draws N (e.g. --draws 200)"
            )


def _point_scenario(values: dict[str, Any], data: dict[str, Any]) -> Scenario:
    where = ", ".join(f"{p}={v}" for p, v in values.items())
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(exc.problems, f"grid point {where}" if where else "") from None


def _draws(scenario: Scenario, spec: SweepSpec) -> tuple[list[tuple], list[Pledges], dict[str, float] | None]:
    """(a key per draw, the distinct pledges in first-seen order, the arrival shares); no draws: one solve."""
    if not spec.drawn():
        return [()], [{}], None
    drawn, arrivals = exact_cases(scenario) if spec.exact else draw_all(scenario, spec.seed, spec.draws or 0)
    keys, distinct, seen = [], [], set()
    for pledges in drawn:
        key = pledge_key(pledges)
        keys.append(key)
        if key not in seen:
            seen.add(key)
            distinct.append(pledges)
    return keys, distinct, arrivals


def chunks_of(points: list[_Point], params: dict[str, Any], workers: int, fewest_grants: bool = True) -> list[Chunk]:
    """Cut the distinct solves into tasks; never across points, so a task carries one scenario's data.
    Tasks shrink towards the end (a quarter of each worker's share of what is left, at most
    MAX_CHUNK): no worker sits idle while another finishes a large last task."""
    left = sum(len(p.distinct) for p in points)
    out = []
    for k, p in enumerate(points):
        start = 0
        while start < len(p.distinct):
            size = max(1, min(MAX_CHUNK, math.ceil(left / (workers * 4))))
            pledges = p.distinct[start : start + size]
            out.append(Chunk(point=k, data=p.data, pledges=pledges, params=params, fewest_grants=fewest_grants))
            start += len(pledges)
            left -= len(pledges)
    return out


def run_sweep(
    raw: dict[str, Any], spec: SweepSpec, executor: Executor, executor_name: str, on_progress: Progress | None = None
) -> SweepResult:
    """Plan, solve every distinct draw on the executor, and summarise each point."""
    if spec.draws is not None and spec.draws < 1:
        raise MatcherError("--draws must be at least 1")
    started = time.perf_counter()
    points = plan(raw, spec)
    params = spec.params.public()  # plain data: on_log and other callables stay here
    chunks = chunks_of(points, params, executor.workers, spec.grants_minimised())
    total = sum(len(c.pledges) for c in chunks)
    done = 0

    def on_chunk(_k: int, outcomes: list[Outcome]) -> None:
        nonlocal done
        done += len(outcomes)
        if on_progress:
            on_progress(done, total)

    results = executor.run(chunks, on_chunk)
    by_point: dict[int, list[Outcome]] = {}
    for chunk, outcomes in zip(chunks, results, strict=True):
        by_point.setdefault(chunk.point, []).extend(outcomes)
    summaries = [_summary(p, by_point.get(k, []), spec.threshold) for k, p in enumerate(points)]
    all_outcomes = [o for outs in results for o in outs]
    return SweepResult(
        scenario=points[0].scenario.name,
        seed=spec.seed,
        draws=_exact_draws(points) if spec.exact else spec.draws,
        paths=list(points[0].values),
        threshold=spec.threshold,
        uncertain=list(dict.fromkeys(d.id for p in points for d in uncertain_donors(p.scenario))),
        points=summaries,
        executor=executor_name,
        workers=executor.workers,
        solves=total,
        seconds=time.perf_counter() - started,
        solve_seconds=sum(o.seconds for o in all_outcomes) / len(all_outcomes) if all_outcomes else 0.0,
        solved=[s for k, p in enumerate(points) for s in _solved(k, p, by_point.get(k, []), spec.drawn())],
        fewest_grants=spec.grants_minimised(),
        exact=spec.exact,
    )


def _exact_draws(points: list[_Point]) -> int | None:
    """The equally likely cases of an exact sweep: one number when every point has as many, else None
    (a grid over a confidence: each point's own count is in its summary)."""
    counts = {len(p.draw_keys) for p in points}
    return counts.pop() if len(counts) == 1 else None


def _solved(k: int, point: _Point, outcomes: list[Outcome], drawn: bool) -> list[SolvedDraw]:
    """The point's distinct solves, each with the numbers of the draws that gave its pledges."""
    numbers: dict[tuple, list[int]] = {}
    if drawn:
        for d, key in enumerate(point.draw_keys):
            numbers.setdefault(key, []).append(d)
    return [SolvedDraw(k, p, numbers.get(pledge_key(p), []), o) for p, o in zip(point.distinct, outcomes, strict=True)]


def _summary(point: _Point, outcomes: list[Outcome], threshold: float) -> PointSummary:
    """Expand the distinct outcomes back to one per draw, in draw order."""
    by_key = {pledge_key(p): o for p, o in zip(point.distinct, outcomes, strict=True)}
    per_draw = [by_key[k] for k in point.draw_keys]
    return summarize(point.scenario, point.values, per_draw, len(point.distinct), threshold, point.arrivals)

"""A finished sweep as plain data (what ``matcher sweep --format json`` prints and a saved sweep keeps),
and back: a stored summary renders exactly as the sweep that made it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from matcher.sweep.aggregate import DonorMoney, InKindArrival, PointSummary, RequestShare, Stats
from matcher.sweep.run import SolvedDraw, SweepResult


def sweep_data(result: SweepResult) -> dict[str, Any]:
    """Everything the sweep found, as plain data in a stable key order (nothing about how it ran)."""
    return {
        "scenario": result.scenario,
        "seed": result.seed,
        "draws": result.draws,
        "threshold": result.threshold,
        "uncertain": result.uncertain,
        "vary": result.paths,
        "fewest_grants": result.fewest_grants,
        "exact": result.exact,
        "points": [asdict(p) for p in result.points],
    }


def result_from_data(
    data: dict[str, Any], *, executor: str, workers: int, seconds: float = 0.0, solved: list[SolvedDraw] | None = None
) -> SweepResult:
    """The SweepResult that ``sweep_data`` was made from (how it ran is given separately)."""
    solved = solved or []
    return SweepResult(
        scenario=data["scenario"],
        seed=data["seed"],
        draws=data["draws"],
        paths=list(data["vary"]),
        threshold=data["threshold"],
        uncertain=list(data["uncertain"]),
        points=[_point(p) for p in data["points"]],
        executor=executor,
        workers=workers,
        solves=len(solved),
        seconds=seconds,
        solve_seconds=sum(s.outcome.seconds for s in solved) / len(solved) if solved else 0.0,
        solved=solved,
        fewest_grants=data.get("fewest_grants", True),  # documents saved before the key: grants were minimised
        exact=data.get("exact", False),
    )


def _point(p: dict[str, Any]) -> PointSummary:
    return PointSummary(
        values=p["values"],
        draws=p["draws"],
        distinct=p["distinct"],
        solved=p["solved"],
        statuses=p["statuses"],
        asked=p["asked"],
        coverage=_stats(p["coverage"]),
        placed=_stats(p["placed"]),
        grants=_stats(p["grants"]),
        requests=[RequestShare(**r) for r in p["requests"]],
        donors=[_donor(d) for d in p["donors"]],
        safe=list(p["safe"]),
        in_kind=[InKindArrival(**k) for k in p.get("in_kind", [])],  # documents saved before the key: none
        safe_together=p.get("safe_together"),  # documents saved before 0.3.1: not known
    )


def _donor(d: dict[str, Any]) -> DonorMoney:
    rng = d["budget_range"]
    return DonorMoney(**{**d, "budget_range": tuple(rng) if rng is not None else None, "used": _stats(d["used"])})


def _stats(s: dict[str, float] | None) -> Stats | None:
    return Stats(**s) if s is not None else None

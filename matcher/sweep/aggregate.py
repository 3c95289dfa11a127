"""From the outcomes of N draws to what a coordinator reads: shares, money used, distributions, safe list.

A draw without an allocation (the hard rules admit none, or none was found in the limits) funds no
request, so it counts against every request's share; it is left out of the coverage and money
distributions, and the number of such draws is reported.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matcher.domain import Scenario
from matcher.sweep.work import Outcome

SOLVED = ("optimal", "feasible")


@dataclass(frozen=True)
class Stats:
    """Mean and the 5th, 50th and 95th percentiles (each an observed value)."""

    mean: float
    p5: float
    p50: float
    p95: float


@dataclass(frozen=True)
class RequestShare:
    """How often a request is fully and partly funded over the draws."""

    id: str
    amount: int
    funded: float
    partial: float
    mean_funded: int
    safe: bool


@dataclass(frozen=True)
class DonorMoney:
    """A donor's pledge, what arrived over the draws, and the money used from it (scenario currency)."""

    id: str
    pledged: int
    confidence: float | None
    budget_range: tuple[int, int] | None
    arrived: float
    mean_budget: int
    mean_used: int
    used: Stats | None


@dataclass(frozen=True)
class PointSummary:
    """All draws of one grid point (or of the scenario, when nothing is varied)."""

    values: dict[str, Any]
    draws: int
    distinct: int
    solved: int
    statuses: dict[str, int]
    asked: int
    coverage: Stats | None
    placed: Stats | None
    grants: Stats | None
    requests: list[RequestShare]
    donors: list[DonorMoney]
    safe: list[str] = field(default_factory=list)


def stats(values: list[float]) -> Stats | None:
    """Mean and percentiles; the percentiles are observed values (inverted CDF), so money stays whole."""
    if not values:
        return None
    arr = np.asarray(values, dtype=float)
    p5, p50, p95 = (float(np.percentile(arr, q, method="inverted_cdf")) for q in (5, 50, 95))
    return Stats(mean=float(arr.mean()), p5=p5, p50=p50, p95=p95)


def is_safe(funded_draws: int, draws: int, threshold: float) -> bool:
    """Funded in at least ``threshold`` of the draws (counted in whole draws, no float edge at 0.9 × 10)."""
    return draws > 0 and funded_draws >= math.ceil(round(threshold * draws, 9))


def summarize(
    scenario: Scenario, values: dict[str, Any], outcomes: list[Outcome], distinct: int, threshold: float
) -> PointSummary:
    """Summarise one point's draws (``outcomes`` has one entry per draw, repeats included)."""
    n = len(outcomes)
    solved = [o for o in outcomes if o.status in SOLVED]
    requests = [_request_share(r.id, r.amount, outcomes, threshold) for r in scenario.requests]
    return PointSummary(
        values=values,
        draws=n,
        distinct=distinct,
        solved=len(solved),
        statuses=dict(sorted(Counter(o.status for o in outcomes).items())),
        asked=sum(r.amount for r in scenario.requests),
        coverage=stats([o.coverage or 0.0 for o in solved]),
        placed=stats([o.placed for o in solved]),
        grants=stats([o.grants for o in solved]),
        requests=requests,
        donors=[_donor_money(scenario, d, outcomes, solved) for d in scenario.donors if d.kind == "funds"],
        safe=[r.id for r in requests if r.safe],
    )


def _request_share(rid: str, amount: int, outcomes: list[Outcome], threshold: float) -> RequestShare:
    n = len(outcomes)
    full = sum(1 for o in outcomes if o.status_of.get(rid) == "funded")
    part = sum(1 for o in outcomes if o.status_of.get(rid) == "partial")
    money = sum(o.funded.get(rid, 0) for o in outcomes)
    return RequestShare(
        id=rid,
        amount=amount,
        funded=full / n if n else 0.0,
        partial=part / n if n else 0.0,
        mean_funded=round(money / n) if n else 0,
        safe=is_safe(full, n, threshold),
    )


def _donor_money(scenario: Scenario, donor, outcomes: list[Outcome], solved: list[Outcome]) -> DonorMoney:
    budgets = [o.budget.get(donor.id, 0) for o in outcomes]
    used = [o.used.get(donor.id, 0) for o in solved]
    return DonorMoney(
        id=donor.id,
        pledged=scenario.budget_in_currency(donor),
        confidence=donor.confidence,
        budget_range=donor.budget_range,
        arrived=sum(1 for b in budgets if b > 0) / len(budgets) if budgets else 0.0,
        mean_budget=round(sum(budgets) / len(budgets)) if budgets else 0,
        mean_used=round(sum(used) / len(used)) if used else 0,
        used=stats(used),
    )

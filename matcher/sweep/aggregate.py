"""From the outcomes of N draws to what a coordinator reads: shares, money used, distributions, safe list.

Every figure is over all draws. A draw without an allocation (the hard rules admit none, none was
found in the limits, or the solver failed) places nothing: it funds no request, covers nothing, uses
no donor's money and makes no grant, so it counts against every request's share and pulls every
distribution down; the number of such draws is reported beside them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
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
    """A donor's pledge and range, what arrived over the draws, and the money used from it (all in the
    scenario's currency); ``arrived``: the share of draws in which its envelope arrived."""

    id: str
    pledged: int
    confidence: float | None
    budget_range: tuple[int, int] | None
    arrived: float
    mean_budget: int
    mean_used: int
    used: Stats | None


@dataclass(frozen=True)
class InKindArrival:
    """An uncertain in-kind donor: its capacity (units) and the share of draws it arrived in."""

    id: str
    capacity: int
    unit: str | None
    confidence: float | None
    arrived: float


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
    in_kind: list[InKindArrival] = field(default_factory=list)  # uncertain in-kind donors only
    # the share of draws in which every request of ``safe`` is fully funded at once: promising them all
    # is a bet on this, not on each share (six requests safe at 90-94% each came true together in 64%)
    safe_together: float | None = None


def stats(values: Sequence[float]) -> Stats | None:
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
    scenario: Scenario,
    values: dict[str, Any],
    outcomes: list[Outcome],
    distinct: int,
    threshold: float,
    arrivals: dict[str, float] | None = None,
) -> PointSummary:
    """Summarise one point's draws (``outcomes`` has one entry per draw, repeats included; ``arrivals``:
    per uncertain donor, the share of draws its envelope arrived in, else read off the drawn budgets)."""
    n = len(outcomes)
    solved = [o for o in outcomes if o.status in SOLVED]
    requests = [_request_share(r.id, r.amount, outcomes, threshold) for r in scenario.requests]
    safe = [r.id for r in requests if r.safe]
    together = sum(1 for o in outcomes if all(o.status_of.get(rid) == "funded" for rid in safe))
    return PointSummary(
        values=values,
        draws=n,
        distinct=distinct,
        solved=len(solved),
        statuses=dict(sorted(Counter(o.status for o in outcomes).items())),
        asked=sum(r.amount for r in scenario.requests),
        coverage=stats([(o.coverage or 0.0) if o.status in SOLVED else 0.0 for o in outcomes]),
        placed=stats([o.placed if o.status in SOLVED else 0 for o in outcomes]),
        grants=stats([o.grants if o.status in SOLVED else 0 for o in outcomes]),
        requests=requests,
        donors=[_donor_money(scenario, d, outcomes, arrivals) for d in scenario.donors if d.kind == "funds"],
        safe=safe,
        in_kind=[
            InKindArrival(d.id, d.capacity or 0, d.unit, d.confidence, (arrivals or {}).get(d.id, 1.0))
            for d in scenario.donors
            if d.kind == "in_kind" and d.confidence is not None
        ],
        safe_together=together / n if safe and n else None,
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


def _donor_money(scenario: Scenario, donor, outcomes: list[Outcome], arrivals: dict[str, float] | None) -> DonorMoney:
    budgets = [o.budget.get(donor.id, 0) for o in outcomes]
    used = [o.used.get(donor.id, 0) if o.status in SOLVED else 0 for o in outcomes]
    if arrivals is not None:
        arrived = arrivals.get(donor.id, 1.0)
    else:
        arrived = sum(1 for b in budgets if b > 0) / len(budgets) if budgets else 0.0
    rng = donor.budget_range
    return DonorMoney(
        id=donor.id,
        pledged=scenario.budget_in_currency(donor),
        confidence=donor.confidence,
        # in the scenario's currency, as every other figure here
        budget_range=None
        if rng is None
        else (scenario.convert(rng[0], donor.currency), scenario.convert(rng[1], donor.currency)),
        arrived=arrived,
        mean_budget=round(sum(budgets) / len(budgets)) if budgets else 0,
        mean_used=round(sum(used) / len(used)) if used else 0,
        used=stats(used),
    )

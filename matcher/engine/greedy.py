"""A greedy allocation that keeps every rule: the fallback when no better one is found in time.

Highest priority weight per unit of money first (the rate at which money buys coverage), each
request funded in full from the donors with the most money left (at most the allowed donors, each
grant within its donor's minimum and maximum), prerequisites and partner limits respected as it
goes; then requests are dropped, lowest rate first, until the country cap and the region floors
hold. No in-kind deliveries. None when a commitment or a must_fund request cannot be kept this way;
the caller checks the result with the independent validator before using it.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import numpy as np

from matcher.engine.compile import Problem
from matcher.engine.readout import Solution


def greedy_allocation(p: Problem) -> Solution | None:
    s = p.scenario
    if s.offers and any(r.must_fund for r in s.requests):
        return None
    left = np.array(p.budgets, dtype=np.int64)
    limit = s.policy.max_donors_per_request
    x: dict[int, int] = {}
    funded = [0] * p.n_requests
    projects: dict[str, int] = defaultdict(int)
    caps = {q.id: q.max_projects for q in s.partners if q.max_projects is not None}
    for k in map(int, p.pair_commit.nonzero()[0]):
        i, j = int(p.pair_donor[k]), int(p.pair_request[k])
        x[k] = int(p.pair_commit[k])
        left[i] -= x[k]
        funded[j] += x[k]
    committed = {j for j in range(p.n_requests) if funded[j]}
    order = sorted(
        range(p.n_requests), key=lambda j: (not s.requests[j].must_fund, -p.weights[j] / s.requests[j].amount, j)
    )
    for _pass in range(2):  # a second pass funds requests whose prerequisites came later in the order
        for j in order:
            r = s.requests[j]
            if funded[j] or any(funded[p.request_index[q]] == 0 for q in r.prerequisites):
                continue
            if r.partner in caps and projects[r.partner] >= caps[r.partner]:
                continue
            pieces = _pieces(p, j, r.amount, left, limit)
            if pieces is None:
                continue
            for k, v in pieces:
                x[k] = v
                left[int(p.pair_donor[k])] -= v
            funded[j] = r.amount
            if r.partner:
                projects[r.partner] += 1
    if any(r.must_fund and funded[j] < r.amount for j, r in enumerate(s.requests)):
        return None
    if committed and any(funded[j] < s.requests[j].min_amount for j in committed):
        return None  # a committed grant below the request's minimum funding: not this way
    _enforce_shares(p, x, funded, committed, order)
    return Solution(x, set(), funded)


def _pieces(p: Problem, j: int, amount: int, left: np.ndarray, limit: int | None) -> list[tuple[int, int]] | None:
    """Grants that fund request j in full, largest available donor first (ties: pair order)."""
    lo, hi = int(p.request_start[j]), int(p.request_start[j + 1])
    donors = p.pair_donor[lo:hi]
    room = np.minimum(left[donors], p.pair_cap[lo:hi])
    order = np.argsort(-room, kind="stable")
    pieces: list[tuple[int, int]] = []
    rest = amount
    for n in order.tolist():
        if rest == 0 or (limit is not None and len(pieces) == limit) or room[n] <= 0:
            break
        give = min(int(room[n]), rest)
        if give >= int(p.min_grants[donors[n]]):
            pieces.append((lo + n, give))
            rest -= give
    return pieces if rest == 0 else None


def _enforce_shares(p: Problem, x: dict[int, int], funded: list[int], committed: set[int], order: list[int]) -> None:
    """Drop requests, lowest rate first, until the country cap and the region floors hold (running
    totals: linear in the round's size, not quadratic)."""
    s = p.scenario
    share = Fraction(str(s.policy.max_country_share)) if s.policy.max_country_share is not None else None
    floors = {g: Fraction(str(v)) for g, v in s.policy.region_floors.items()}
    needed_by: dict[int, list[int]] = defaultdict(list)
    for j, r in enumerate(s.requests):
        for q in r.prerequisites:
            needed_by[p.request_index[q]].append(j)
    by_country: dict[str, int] = defaultdict(int)
    by_area: dict[str, int] = defaultdict(int)
    for j, v in enumerate(funded):
        by_country[s.requests[j].country] += v
        for g in floors:
            if g in s.requests[j].areas:
                by_area[g] += v
    totals = [sum(funded)]
    ranked = [j for j in reversed(order) if j not in committed]  # lowest rate first

    def drop(j: int) -> None:
        for q, amount in _unfund(p, j, x, funded, needed_by):
            r = s.requests[q]
            by_country[r.country] -= amount
            for g in floors:
                if g in r.areas:
                    by_area[g] -= amount
            totals[0] -= amount

    for _round in range(p.n_requests):
        victim = None
        if share is not None:
            over = {c for c, v in by_country.items() if v > share * totals[0]}
            if over:
                victim = next((j for j in ranked if funded[j] and s.requests[j].country in over), None)
        if victim is None:
            for g, floor in floors.items():
                if by_area[g] < floor * totals[0]:
                    victim = next((j for j in ranked if funded[j] and g not in s.requests[j].areas), None)
                    break
        if victim is None:
            return
        drop(victim)


def _unfund(p: Problem, j: int, x: dict[int, int], funded: list[int], needed_by) -> list[tuple[int, int]]:
    """Unfund request j and every funded request that requires it; returns (request, amount) dropped."""
    dropped = [(j, funded[j])]
    for k in list(p.request_pairs(j)):
        if k in x and not p.pair_commit[k]:
            del x[k]
    funded[j] = 0
    for dependent in needed_by[j]:
        if funded[dependent]:
            dropped += _unfund(p, dependent, x, funded, needed_by)
    return dropped

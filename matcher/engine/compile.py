"""Scenario -> indexed problem data: eligible pairs, converted budgets, weights, offers.

Everything the model needs, computed once, in plain Python numbers the solver takes directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matcher.domain import Scenario, earmark_block


@dataclass(frozen=True)
class Problem:
    """Immutable, indexed data of one scenario. Donor and request indices follow the file's order."""

    scenario: Scenario
    budgets: tuple[int, ...]  # per donor, scenario currency; in-kind donors: 0
    weights: tuple[float, ...]  # per request
    pairs: tuple[tuple[int, int], ...]  # eligible (funds donor, request)
    pair_ub: tuple[int, ...]  # per pair: largest possible grant
    pair_lb: tuple[int, ...]  # per pair: committed amount
    offers: tuple[int, ...]  # indices into scenario.offers that may be delivered
    min_amount: tuple[int, ...]  # per request: f >= this when funded
    request_index: dict[str, int] = field(default_factory=dict)
    donor_index: dict[str, int] = field(default_factory=dict)

    @property
    def n_requests(self) -> int:
        return len(self.scenario.requests)


def compile_problem(s: Scenario) -> Problem:
    """Index the scenario: only eligible (donor, request) pairs get a variable."""
    partners = {p.id: p for p in s.partners}
    budgets = tuple(s.budget_in_currency(d) if d.kind == "funds" else 0 for d in s.donors)
    committed: dict[tuple[int, int], int] = {}
    donor_index = {d.id: i for i, d in enumerate(s.donors)}
    request_index = {r.id: j for j, r in enumerate(s.requests)}
    for c in s.commitments:
        key = (donor_index[c.donor], request_index[c.request])
        committed[key] = committed.get(key, 0) + c.amount
    pairs, ub, lb = [], [], []
    for i, d in enumerate(s.donors):
        if d.kind != "funds":
            continue
        for j, r in enumerate(s.requests):
            if earmark_block(d, r, partners.get(r.partner) if r.partner else None):
                continue
            cap = min(budgets[i], r.amount, d.max_grant if d.max_grant is not None else r.amount)
            usable = cap > 0 and (d.min_grant or 0) <= cap
            if not usable and (i, j) not in committed:
                continue
            pairs.append((i, j))
            ub.append(cap)
            lb.append(committed.get((i, j), 0))
    offers = tuple(k for k, o in enumerate(s.offers) if o.value <= s.requests[request_index[o.request]].amount)
    return Problem(
        scenario=s,
        budgets=budgets,
        weights=tuple(s.weight(r) for r in s.requests),
        pairs=tuple(pairs),
        pair_ub=tuple(ub),
        pair_lb=tuple(lb),
        offers=offers,
        min_amount=tuple(r.min_amount for r in s.requests),
        request_index=request_index,
        donor_index=donor_index,
    )

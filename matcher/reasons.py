"""Why a request is not fully funded: the rules and trade-offs that stopped it, in plain words.

Each reason is a pair (code, text): the code for machines (``prerequisite_unfunded``), the text
for a person (``prerequisite unfunded: NER-LEG-01``).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from fractions import Fraction
from functools import cached_property

from matcher.domain import Scenario, area_block, deliverable_offers, earmark_block, partner_type_block, theme_block
from matcher.result import Allocation

Reason = tuple[str, str]
MAX_NAMED = 3


def request_reasons(p, allocs: list[Allocation], funded: list[int], j: int) -> list[Reason]:
    """Reasons for request j of the compiled problem ``p`` given the final allocations."""
    return reasons_for(p.scenario, p.budgets, allocs, funded, j)


def all_reasons(
    s: Scenario, budgets: tuple[int, ...], allocs: list[Allocation], funded: list[int]
) -> list[list[Reason]]:
    """Reasons for every request not fully funded (an empty list for the others), the context
    built once: a round of 10,000 requests is explained in seconds, not hours."""
    ctx = _Context(s, budgets, allocs, funded)
    return [
        reasons_for(s, budgets, allocs, funded, j, ctx) if funded[j] < r.amount else []
        for j, r in enumerate(s.requests)
    ]


def reasons_for(
    s: Scenario,
    budgets: tuple[int, ...],
    allocs: list[Allocation],
    funded: list[int],
    j: int,
    context: _Context | None = None,
) -> list[Reason]:
    """Every reason that applies to s.requests[j], most specific first; never empty."""
    r = s.requests[j]
    ctx = context or _Context(s, budgets, allocs, funded)
    eligible = ctx.eligible_donors(r)
    offers = ctx.offers_to.get(r.id, [])
    out: list[Reason] = []
    if not eligible and not offers:
        out.append(("no_eligible_donor", "no eligible donor: " + ctx.exclusions(r)))
        return out
    out += ctx.prerequisites(r)
    out += ctx.partner_capacity(r)
    out += ctx.unreachable(r, eligible)
    out += ctx.shares(r)
    out += ctx.max_donors(r)
    out += ctx.money_spent(r, eligible)
    if not out:
        out += ctx.grant_limits(r, eligible)
    out += ctx.in_kind(r, offers)
    if not out:
        out.append(
            ("trade_off", "funding it would lower the priority-weighted coverage reachable with the eligible money")
        )
    return out


class _Context:
    def __init__(self, s: Scenario, budgets, allocs: list[Allocation], funded: list[int]) -> None:
        self.s = s
        self.offers_to: dict[str, list] = defaultdict(list)  # the deliverable offers, by request
        for k in deliverable_offers(s):
            self.offers_to[s.offers[k].request].append(s.offers[k])
        self.partners = {p.id: p for p in s.partners}
        self.funded = {r.id: funded[j] for j, r in enumerate(s.requests)}
        self.requests = {r.id: r for r in s.requests}
        self.budget = {d.id: budgets[i] for i, d in enumerate(s.donors)}
        self.given: dict[str, int] = defaultdict(int)
        self.grants_to: dict[str, list[Allocation]] = defaultdict(list)
        self.by_donor: dict[str, list[Allocation]] = defaultdict(list)
        self._eligible: dict[tuple, list] = {}
        self._admits: dict[tuple, set[str]] = {}  # (earmark test, its key) -> donors it lets through
        self._takers: dict[tuple, list[tuple[float, str]]] = {}
        for a in allocs:
            self.given[a.donor] += a.amount
            self.grants_to[a.request].append(a)
            self.by_donor[a.donor].append(a)

    def _partner(self, r):
        return self.partners.get(r.partner) if r.partner else None

    @cached_property
    def total(self) -> int:
        return sum(self.funded.values())

    @cached_property
    def projects(self) -> dict[str, int]:
        """Funded requests per partner."""
        out: dict[str, int] = defaultdict(int)
        for q in self.s.requests:
            if q.partner and self.funded[q.id] > 0:
                out[q.partner] += 1
        return out

    @cached_property
    def by_country(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for q in self.s.requests:
            out[q.country] += self.funded[q.id]
        return out

    @cached_property
    def by_area(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for q in self.s.requests:
            for g in q.areas:
                out[g] += self.funded[q.id]
        return out

    def eligible_donors(self, r) -> list:
        """Rule 1 depends on the request's country, theme and partner type only: worked out once each."""
        partner = self._partner(r)
        key = (r.country, r.theme, partner.type if partner else None)
        if key not in self._eligible:
            ok = self._admitted(area_block, key[0]) & self._admitted(theme_block, key[1])
            ok &= self._admitted(partner_type_block, key[2])
            self._eligible[key] = [d for d in self.s.donors if d.id in ok]
        return self._eligible[key]

    def _admitted(self, block, key) -> set[str]:
        """The funds donors whose earmark test ``block`` (domain.py) lets ``key`` through, once per key."""
        if (block, key) not in self._admits:
            self._admits[block, key] = {d.id for d in self.s.donors if d.kind == "funds" and block(d, key) is None}
        return self._admits[block, key]

    @cached_property
    def rate(self) -> dict[str, float]:
        """Priority weight per unit of money asked, per request: what a unit of money buys of it."""
        return {q.id: self.s.weight(q) / q.amount for q in self.s.requests}

    def takers(self, eligible) -> list[tuple[float, str]]:
        """(-rate, id) of every request these donors gave money to, best rate first; once per donor set."""
        key = tuple(d.id for d in eligible)
        if key not in self._takers:
            ids = {a.request for d in eligible for a in self.by_donor[d.id]}
            self._takers[key] = sorted((-self.rate[q], q) for q in ids)
        return self._takers[key]

    def exclusions(self, r) -> str:
        parts = [f"{d.id} ({earmark_block(d, r, self._partner(r))})" for d in self.s.donors if d.kind == "funds"]
        parts += [f"{o.donor}'s offer ({self._undeliverable(o, r)})" for o in self.s.offers if o.request == r.id]
        return _listing(parts, 5) or "no donor offers funds"

    def _undeliverable(self, o, r) -> str:
        """Why an offer to r cannot be delivered (only such offers are left when r has no eligible donor)."""
        d = next(x for x in self.s.donors if x.id == o.donor)
        if o.units > (d.capacity or 0):
            return f"{o.units} {d.unit or 'units'} over its capacity of {d.capacity}"
        if o.value > r.amount:
            return f"worth {o.value:,}, over the request's amount"
        return str(earmark_block(d, r, self._partner(r)))

    def prerequisites(self, r) -> list[Reason]:
        missing = [q for q in r.prerequisites if self.funded[q] <= 0]
        return [("prerequisite_unfunded", f"prerequisite unfunded: {', '.join(missing)}")] if missing else []

    def partner_capacity(self, r) -> list[Reason]:
        p = self._partner(r)
        if p is None or p.max_projects is None or self.funded[r.id] > 0:
            return []
        n = self.projects.get(p.id, 0)
        if n < p.max_projects:
            return []
        return [
            (
                "partner_capacity",
                f"partner capacity reached: {p.id} already runs {n} of its max {p.max_projects} projects",
            )
        ]

    def unreachable(self, r, eligible) -> list[Reason]:
        """Even with whole budgets, the eligible donors cannot reach the minimum useful amount."""
        caps = sorted((self._most_to(d, r) for d in eligible), reverse=True)
        k = self.s.policy.max_donors_per_request
        offers = sum(o.value for o in self.offers_to.get(r.id, []))
        reach = sum(caps[:k] if k else caps) + offers
        if reach >= r.min_amount:
            return []
        why = [f"at most {k} donors"] if k else []
        for d in eligible:
            most = min(self.budget[d.id], d.max_grant if d.max_grant is not None else r.amount, r.amount)
            if (d.min_grant or 0) > most:
                why.append(f"{d.id}'s min_grant {d.min_grant:,} is above the {most:,} it could give")
            elif d.max_grant is not None and d.max_grant < min(self.budget[d.id], r.amount):
                why.append(f"{d.id} gives one request at most {d.max_grant:,}")
        return [
            (
                "min_funding_unreachable",
                f"minimum funding not reachable: needs {r.min_amount:,}, eligible donors can give at most {reach:,}"
                f" ({'; '.join(why[: MAX_NAMED + 1]) or 'their budgets'})",
            )
        ]

    def _most_to(self, d, r) -> int:
        """The most donor d can give request r on its own: its budget, max_grant and the amount, and
        nothing when its min_grant is above that."""
        most = min(self.budget[d.id], d.max_grant if d.max_grant is not None else r.amount, r.amount)
        return most if (d.min_grant or 0) <= most else 0

    def shares(self, r) -> list[Reason]:
        out: list[Reason] = []
        total = self.total
        need = max(r.min_amount - self.funded[r.id], 1)
        share = self.s.policy.max_country_share
        if share is not None:
            country = self.by_country.get(r.country, 0)
            if country + need > Fraction(str(share)) * (total + need):
                text = (
                    f"country cap binding: {r.country} already receives {country:,} of {total:,} (cap {share:.0%})"
                    if country
                    else f"country cap binding: its {need:,} alone would be more than {share:.0%} of all money placed "
                    f"({total:,} without it)"
                )
                out.append(("country_cap", text))
        for g, floor in self.s.policy.region_floors.items():
            if g in r.areas:
                continue
            inside = self.by_area.get(g, 0)
            if inside < Fraction(str(floor)) * (total + need):
                out.append(("region_floor", f"region floor binding: {g} must keep at least {floor:.0%} of all money"))
        return out

    def max_donors(self, r) -> list[Reason]:
        k = self.s.policy.max_donors_per_request
        if k is None or len({a.donor for a in self.grants_to[r.id]}) < k:
            return []
        return [("max_donors", f"already has the maximum of {k} donor{'' if k == 1 else 's'} per request")]

    def money_spent(self, r, eligible) -> list[Reason]:
        """Eligible budgets went elsewhere: name the requests that took them, best value per unit first."""
        if not eligible or not any(self.given[d.id] > 0 for d in eligible):
            return []  # nothing of theirs went anywhere: another rule (max_grant, min_funding) stops it
        need = max(r.min_amount - self.funded[r.id], 1)
        left = {d.id: self.budget[d.id] - self.given[d.id] for d in eligible}
        usable = [d for d in eligible if left[d.id] >= max(d.min_grant or 1, 1) and left[d.id] > 0]
        if usable and sum(left[d.id] for d in usable) >= need:
            return []  # money is left where it could go: another rule stops it (named by its own check)
        blocked = [d for d in eligible if d.min_grant and 0 < left[d.id] < d.min_grant]
        if blocked and sum(left[d.id] for d in (*usable, *blocked)) >= need:
            return [("min_grant", f"what is left of {_listing([d.id for d in blocked], 3)} is below their min_grant")]
        # The engine maximises priority-weighted coverage, sum of weight x funded / amount, so a unit
        # of money buys weight / amount of it: name the requests that got these donors' money and buy
        # at least as much per unit as this one (never this request itself, when it is partly funded).
        takers = self.takers(eligible)
        me = (-self.rate[r.id], r.id)
        n = bisect.bisect_right(takers, (me[0], "\uffff"))  # the takers whose rate is at least this one's
        at = bisect.bisect_left(takers, me)
        count = n - (at < len(takers) and takers[at] == me)  # never this request itself
        head = [q for _v, q in takers[: min(n, MAX_NAMED + 1)] if q != r.id][:MAX_NAMED]
        better = (head + [""] * (count - len(head)))[:count]  # _listing names the head and counts the rest
        names = _listing([d.id for d in eligible], 4)
        if better:
            # and, where the same budgets also went to requests buying less per unit (all or nothing, or
            # the rest that fit), say so: "spent on requests with more" alone overstated it
            lower = [q for _v, q in takers[n:] if q != r.id]
            also = (
                (
                    f"; also on {_listing(lower, 3)}, with less per {self.s.currency} but fitting what was "
                    "left as a whole"
                )
                if lower
                else ""
            )
            return [
                (
                    "budget_spent",
                    f"eligible donors' budgets ({names}) spent on requests with as much or more priority weight "
                    f"per {self.s.currency} requested: " + _listing(better, MAX_NAMED) + also,
                )
            ]
        if self.funded[r.id] > 0:
            got = self.funded[r.id]
            return [("budget_spent", f"eligible donors' budgets ({names}) are spent, {got:,} of them on this request")]
        return [("budget_spent", f"eligible donors' budgets ({names}) are spent")]

    def grant_limits(self, r, eligible) -> list[Reason]:
        """Eligible donors have money left, but their own grant limits (rule 5) stop every one of them:
        a minimum grant above what the request still asks, or the request already has their maximum."""
        room = r.amount - self.funded[r.id]
        given: dict[str, int] = defaultdict(int)
        for a in self.grants_to[r.id]:
            given[a.donor] += a.amount
        capped, above = [], []
        for d in eligible:
            if self.budget[d.id] - self.given[d.id] <= 0:
                continue
            if d.max_grant is not None and given[d.id] >= d.max_grant:
                capped.append(d)
            elif d.min_grant and not given[d.id] and d.min_grant > room:
                above.append(d)
            else:
                return []  # a donor with money and room to give: not its limits
        cur = self.s.currency
        more = ", ..."
        out: list[Reason] = []
        if capped:
            each = ", ".join(f"{d.id} ({d.max_grant:,} {cur})" for d in capped[:MAX_NAMED])
            tail = more if len(capped) > MAX_NAMED else ""
            out.append(("max_grant", f"max_grant reached: it has the most that {each}{tail} may give one request"))
        if above:
            each = ", ".join(f"{d.id} ({d.min_grant:,} {cur})" for d in above[:MAX_NAMED])
            tail = more if len(above) > MAX_NAMED else ""
            out.append(
                (
                    "min_grant",
                    f"min_grant above what it still needs ({room:,} {cur}): the least that "
                    f"{each}{tail} may give one request",
                )
            )
        return out

    def in_kind(self, r, offers) -> list[Reason]:
        out: list[Reason] = []
        for o in offers:
            d = next(x for x in self.s.donors if x.id == o.donor)
            if any(a.donor == o.donor for a in self.grants_to[r.id]):
                continue
            used = sum(a.units or 0 for a in self.by_donor[o.donor])
            if used + o.units > (d.capacity or 0):
                others = _listing(sorted({a.request for a in self.by_donor[o.donor]}), MAX_NAMED)
                out.append(("in_kind_capacity", f"in-kind capacity of {o.donor} used by other requests: {others}"))
        return out


def _listing(items: list[str], most: int) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")

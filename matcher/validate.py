"""Independent, solver-free check of a solution against every hard rule, in exact arithmetic.

Written straight from the spec's "Meaning of a solution" and kept apart from the engine on
purpose: it shares no code with the model, so a modelling bug cannot hide in both.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from fractions import Fraction

from matcher.domain import Scenario
from matcher.errors import SolutionError
from matcher.reference import countries
from matcher.result import Allocation, Result


def solution_problems(s: Scenario, result: Result) -> list[str]:
    """Every hard rule the allocations break, and every reported figure they do not give; empty when valid."""
    return violations(s, result.allocations) + _consistency(s, result)


def check_solution(s: Scenario, result: Result) -> None:
    """Raise SolutionError naming every violated rule; return quietly when the result is valid."""
    problems = solution_problems(s, result)
    if problems:
        raise SolutionError("the solution breaks hard rules (an engine bug):\n  " + "\n  ".join(problems))


def objective_terms(s: Scenario, allocations: Iterable[Allocation]) -> dict[str, float]:
    """coverage, volume, grants and cost recomputed from the allocations alone."""
    allocations = list(allocations)
    funded = _funded(s, allocations)
    offers = {(o.donor, o.request): o for o in s.offers}
    coverage = math.fsum(s.weight(r) * funded[r.id] / r.amount for r in s.requests)
    cost = sum(
        offers[(a.donor, a.request)].cost for a in allocations if a.kind == "in_kind" and (a.donor, a.request) in offers
    )
    return {
        "coverage": coverage,
        "volume": float(sum(funded.values())),
        "grants": float(sum(1 for a in allocations if a.amount > 0 or a.kind == "in_kind")),
        "cost": float(cost),
    }


def violations(s: Scenario, allocations: list[Allocation]) -> list[str]:
    """Every hard rule the allocations break, as readable lines (empty when valid)."""
    donors = {d.id: d for d in s.donors}
    requests = {r.id: r for r in s.requests}
    out: list[str] = []
    out += _known_and_whole(s, allocations, donors, requests)
    if out:
        return out
    funded = _funded(s, allocations)
    out += _earmarks(s, allocations, donors, requests)
    out += _budgets_and_capacity(s, allocations, donors)
    out += _amounts(s, funded)
    out += _grant_sizes(allocations, donors)
    out += _partners(s, funded)
    out += _donors_per_request(s, allocations)
    out += _prerequisites(s, funded)
    out += share_violations(s, funded)
    out += _commitments(s, allocations)
    return out


def _funded(s: Scenario, allocations: list[Allocation]) -> dict[str, int]:
    funded = {r.id: 0 for r in s.requests}
    for a in allocations:
        funded[a.request] = funded.get(a.request, 0) + a.amount
    return funded


def _known_and_whole(s, allocations, donors, requests) -> list[str]:
    out = []
    offers = {(o.donor, o.request): o for o in s.offers}
    seen = set()
    for a in allocations:
        if a.donor not in donors or a.request not in requests:
            out.append(f"allocation {a.donor}->{a.request}: unknown donor or request")
            continue
        if (a.donor, a.request, a.kind) in seen:
            out.append(f"allocation {a.donor}->{a.request}: listed twice")
        seen.add((a.donor, a.request, a.kind))
        if not isinstance(a.amount, int) or a.amount <= 0:
            out.append(f"allocation {a.donor}->{a.request}: amount {a.amount!r} is not a positive whole number")
        kind = donors[a.donor].kind
        if a.kind != kind:
            out.append(f"allocation {a.donor}->{a.request}: kind {a.kind} from a {kind} donor")
        if a.kind == "in_kind":
            o = offers.get((a.donor, a.request))
            if o is None or a.amount != o.value or a.units != o.units:
                out.append(f"delivery {a.donor}->{a.request}: does not match an offer (value, units)")
    return out


def _earmarks(s, allocations, donors, requests) -> list[str]:
    """Rule 1."""
    out = []
    ptype = {p.id: p.type for p in s.partners}
    for a in allocations:
        d, r = donors[a.donor], requests[a.request]
        c = countries()[r.country]
        areas = {c.region, c.sub_region, c.intermediate_region} - {""}
        ok = (
            (not d.regions or bool(areas & set(d.regions)))
            and (not d.countries or r.country in d.countries)
            and r.country not in d.exclude_countries
            and (not d.themes or r.theme in d.themes)
            and (not d.partner_types or ptype.get(r.partner or "") in d.partner_types)
        )
        if not ok:
            out.append(f"rule 1: {d.id} may not fund {r.id} (earmarks)")
    return out


def _budgets_and_capacity(s, allocations, donors) -> list[str]:
    """Rule 2 and the in-kind capacity."""
    out = []
    given: dict[str, int] = defaultdict(int)
    units: dict[str, int] = defaultdict(int)
    for a in allocations:
        given[a.donor] += a.amount
        units[a.donor] += a.units or 0
    for d in s.donors:
        if d.kind == "funds":
            budget = s.convert(d.budget or 0, d.currency)
            if given[d.id] > budget:
                out.append(f"rule 2: {d.id} gives {given[d.id]} over its budget {budget}")
        elif units[d.id] > (d.capacity or 0):
            out.append(f"capacity: {d.id} delivers {units[d.id]} units over its capacity {d.capacity}")
    return out


def _amounts(s, funded) -> list[str]:
    """Rules 3 and 4, and must_fund."""
    out = []
    exact: dict[float, Fraction] = {}  # min_funding as written, once per distinct value
    for r in s.requests:
        f = funded[r.id]
        if f > r.amount:
            out.append(f"rule 3: {r.id} funded {f} over its amount {r.amount}")
        share = exact.get(r.min_funding)
        if share is None:
            share = exact[r.min_funding] = Fraction(str(r.min_funding))
        least = math.ceil(share * r.amount)
        if 0 < f < least:
            out.append(f"rule 4: {r.id} funded {f}, below its minimum useful {least}")
        if r.must_fund and f != r.amount:
            out.append(f"must_fund: {r.id} funded {f} of {r.amount}")
    return out


def _grant_sizes(allocations, donors) -> list[str]:
    """Rule 5 (money grants only; in-kind deliveries are exempt)."""
    out = []
    for a in allocations:
        d = donors[a.donor]
        if a.kind != "funds":
            continue
        if d.min_grant is not None and a.amount < d.min_grant:
            out.append(f"rule 5: {d.id}->{a.request} grant {a.amount} below min_grant {d.min_grant}")
        if d.max_grant is not None and a.amount > d.max_grant:
            out.append(f"rule 5: {d.id}->{a.request} grant {a.amount} above max_grant {d.max_grant}")
    return out


def _partners(s, funded) -> list[str]:
    """Rule 6."""
    out = []
    projects: dict[str, int] = defaultdict(int)
    for r in s.requests:
        if r.partner is not None and funded[r.id] > 0:
            projects[r.partner] += 1
    for p in s.partners:
        if p.max_projects is None:
            continue
        n = projects[p.id]
        if n > p.max_projects:
            out.append(f"rule 6: partner {p.id} has {n} funded requests, over max_projects {p.max_projects}")
    return out


def _donors_per_request(s, allocations) -> list[str]:
    """Rule 7 (an in-kind delivery counts as one of the request's donors)."""
    limit = s.policy.max_donors_per_request
    if limit is None:
        return []
    donors_of: dict[str, set] = defaultdict(set)
    for a in allocations:
        donors_of[a.request].add(a.donor)
    return [f"rule 7: {r} has {len(ds)} donors, over {limit}" for r, ds in donors_of.items() if len(ds) > limit]


def _prerequisites(s, funded) -> list[str]:
    """Rule 8."""
    return [
        f"rule 8: {r.id} is funded but its prerequisite {q} is not"
        for r in s.requests
        if funded[r.id] > 0
        for q in r.prerequisites
        if funded[q] <= 0
    ]


def share_violations(s, funded: dict[str, int]) -> list[str]:
    """Rules 9 and 10, exactly, on the money each request gets (request id -> amount): shares are
    read as the decimals written in the file."""
    out = []
    total = sum(funded.values())
    share = s.policy.max_country_share
    if share is not None:
        by_country: dict[str, int] = defaultdict(int)
        for r in s.requests:
            by_country[r.country] += funded[r.id]
        cap = Fraction(str(share)) * total
        for c, amount in by_country.items():
            if amount > cap:
                out.append(f"rule 9: {c} receives {amount} of {total}, over the cap {share}")
    for g, floor in s.policy.region_floors.items():
        inside = sum(funded[r.id] for r in s.requests if g in countries()[r.country].areas)
        if inside < Fraction(str(floor)) * total:
            out.append(f"rule 10: region {g} receives {inside} of {total}, under the floor {floor}")
    return out


def _commitments(s, allocations) -> list[str]:
    """Rule 11."""
    given = {(a.donor, a.request): a.amount for a in allocations if a.kind == "funds"}
    committed: dict[tuple[str, str], int] = defaultdict(int)
    for c in s.commitments:
        committed[(c.donor, c.request)] += c.amount
    return [
        f"rule 11: {d}->{r} gives {given.get((d, r), 0)}, less than the {amount} committed"
        for (d, r), amount in committed.items()
        if given.get((d, r), 0) < amount
    ]


def _consistency(s: Scenario, result: Result) -> list[str]:
    """The reported outcomes, donor totals and objective agree with the allocations."""
    out = []
    funded = _funded(s, result.allocations)
    if [o.id for o in result.requests] != [r.id for r in s.requests]:
        out.append("requests: the outcomes do not list the scenario's requests once each, in its order")
    amounts = {r.id: r.amount for r in s.requests}
    for o in result.requests:
        got = funded.get(o.id, 0)
        if o.funded != got:
            out.append(f"request {o.id}: reported funded {o.funded}, allocations give {got}")
        status = "funded" if got >= amounts.get(o.id, 0) else ("partial" if got > 0 else "unfunded")
        if o.id in amounts and (o.amount != amounts[o.id] or o.status != status):
            out.append(
                f"request {o.id}: reported as {o.status} ({o.funded} of {o.amount}), the scenario and "
                f"allocations give {status} ({got} of {amounts[o.id]})"
            )
    out += _donor_totals(s, result)
    terms = objective_terms(s, result.allocations)
    for term, value in result.objective.items():
        if not math.isclose(value, terms[term], rel_tol=1e-9, abs_tol=1e-9):
            out.append(f"objective {term}: reported {value}, recomputed {terms[term]}")
    # Each stage's term may only move within the lexicographic tolerance (1e-6 relative) later on.
    for st in result.solver.stages:
        slack = 1.01e-6 * max(abs(st.value), 1.0)
        worse = st.value - terms[st.term] if st.sense == "max" else terms[st.term] - st.value
        if st.value == st.value and worse > slack:
            out.append(f"stage {st.term}: reached {st.value}, the allocation gives {terms[st.term]}")
    return out


def _donor_totals(s: Scenario, result: Result) -> list[str]:
    """Each donor's reported budget, money given, capacity and units used, against the allocations."""
    given: dict[str, int] = {}
    units: dict[str, int] = {}
    for a in result.allocations:
        given[a.donor] = given.get(a.donor, 0) + a.amount
        units[a.donor] = units.get(a.donor, 0) + (a.units or 0)
    if [d.id for d in result.donors] != [d.id for d in s.donors]:
        return ["donors: the totals do not list the scenario's donors once each, in its order"]
    out = []
    for d, use in zip(s.donors, result.donors, strict=True):
        expected = (
            (s.budget_in_currency(d), given.get(d.id, 0), None, None)
            if d.kind == "funds"
            else (None, given.get(d.id, 0), d.capacity, units.get(d.id, 0))
        )
        if (use.budget, use.allocated, use.capacity, use.used) != expected:
            out.append(
                f"donor {d.id}: reported budget {use.budget}, allocated {use.allocated}, capacity "
                f"{use.capacity}, used {use.used}; the scenario and allocations give {expected[0]}, "
                f"{expected[1]}, {expected[2]}, {expected[3]}"
            )
    return out

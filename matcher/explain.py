"""Why a request got what it got, and what would change it, found by honest re-solves.

Three parts:

* the rule that binds (the first reason the engine gives) and the eligible donors with where their
  money went;
* for each eligible money donor, the smallest extra budget that gets the request fully funded,
  found by bisection on re-solves and verified at the boundary: with that extra the request is
  funded, with one unit less it is not;
* what forcing it in would cost: the request made ``must_fund`` and re-solved; the requests that
  lose money and the priority-weighted coverage given up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from matcher.domain import Donor, Scenario, earmark_block
from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError
from matcher.result import Result
from matcher.value import optimal_coverage
from matcher.variants import vary

MAX_DOUBLINGS = 12  # the upper search bound grows to 2^12 times the missing amount, then we give up


def explain(
    scenario: Scenario,
    request_id: str,
    params: SolveParams | None = None,
    result: Result | None = None,
    what_if: bool = True,
) -> dict[str, Any]:
    """The explanation document of one request (plain JSON-able data)."""
    params = params or SolveParams(time_limit=30)
    request = _request(scenario, request_id)
    result = result or solve(scenario, params)
    if not result.has_solution():
        raise MatcherError(f"the scenario has no allocation to explain (status {result.status})")
    outcome = next(o for o in result.requests if o.id == request_id)
    doc: dict[str, Any] = {
        "request": request_id,
        "country": request.country,
        "region": request.m49_region,
        "theme": request.theme,
        "priority": request.priority,
        "weight": scenario.weight(request),
        "amount": outcome.amount,
        "funded": outcome.funded,
        "status": outcome.status,
        "currency": scenario.currency,
        "binding": _binding(outcome),
        "reasons": [{"code": c, "text": t} for c, t in zip(outcome.reason_codes, outcome.reasons, strict=True)],
        "donors": donor_views(scenario, result, request_id),
        "offers": _offers(scenario, result, request_id),
    }
    if what_if and outcome.status != "funded":
        doc["extra_budget"] = [
            smallest_extra_budget(scenario, request_id, d.id, params)
            for d in scenario.donors
            if d.kind == "funds" and _eligible(scenario, d, request)
        ]
        doc["forced"] = forced_in(scenario, request_id, result, params)
    return doc


def _request(scenario: Scenario, request_id: str):
    for r in scenario.requests:
        if r.id == request_id:
            return r
    known = ", ".join(r.id for r in scenario.requests[:8])
    raise MatcherError(f"no request '{request_id}' in scenario '{scenario.name}' (known: {known})")


def _eligible(scenario: Scenario, donor: Donor, request) -> bool:
    return earmark_block(donor, request, scenario.partner_of(request)) is None


def _binding(outcome) -> dict[str, str]:
    if outcome.status == "funded":
        return {"code": "funded", "text": "fully funded: no rule stops it"}
    return {"code": outcome.reason_codes[0], "text": outcome.reasons[0]}


def donor_views(scenario: Scenario, result: Result, request_id: str) -> list[dict[str, Any]]:
    """Each money donor: eligible or which earmark excludes it, and where its money went."""
    request = _request(scenario, request_id)
    uses = {d.id: d for d in result.donors}
    views = []
    for d in scenario.donors:
        if d.kind != "funds":
            continue
        block = earmark_block(d, request, scenario.partner_of(request))
        grants = [{"request": a.request, "amount": a.amount} for a in result.allocations if a.donor == d.id]
        budget = uses[d.id].budget or 0
        views.append(
            {
                "donor": d.id,
                "eligible": block is None,
                "excluded_by": block,
                "budget": budget,
                "allocated": uses[d.id].allocated,
                "left": budget - uses[d.id].allocated,
                "to_this_request": sum(g["amount"] for g in grants if g["request"] == request_id),
                "grants": sorted(grants, key=lambda g: -g["amount"]),
            }
        )
    return views


def _offers(scenario: Scenario, result: Result, request_id: str) -> list[dict[str, Any]]:
    delivered = {(a.donor, a.request) for a in result.allocations if a.kind == "in_kind"}
    return [
        {"donor": o.donor, "units": o.units, "value": o.value, "delivered": (o.donor, o.request) in delivered}
        for o in scenario.offers
        if o.request == request_id
    ]


# --- what would change the outcome -----------------------------------------------------------------


def with_extra_budget(scenario: Scenario, donor_id: str, extra: int) -> Scenario:
    """The scenario with ``extra`` units of the donor's own currency added to its budget."""
    return vary(scenario, [f"donors[{donor_id}].budget+={extra}"])


def _funds(scenario: Scenario, request_id: str, params: SolveParams) -> tuple[bool, Result]:
    result = solve(scenario, params)
    out = next(o for o in result.requests if o.id == request_id)
    return result.has_solution() and out.status == "funded", result


def smallest_extra_budget(scenario: Scenario, request_id: str, donor_id: str, params: SolveParams) -> dict[str, Any]:
    """Smallest extra budget of one donor (its currency) that gets the request fully funded.

    Bisection between an extra that does not fund it (0, today's outcome) and one that does
    (found by doubling from the missing amount). The answer is a verified boundary: ``extra``
    funds the request and ``extra - 1`` does not. Outcomes need not be monotone in the budget
    (a MIP can switch between allocations), so it is the smallest such boundary bisection finds.
    """
    donor = next(d for d in scenario.donors if d.id == donor_id)
    request = _request(scenario, request_id)
    to_donor = _to_donor_currency(scenario, donor)
    tried: list[int] = []

    def funds(extra: int) -> tuple[bool, Result]:
        tried.append(extra)
        return _funds(with_extra_budget(scenario, donor_id, extra), request_id, params)

    hi = to_donor(request.amount)
    ok, at_hi = funds(hi)
    doublings = 0
    while not ok and doublings < MAX_DOUBLINGS:
        hi, doublings = hi * 2, doublings + 1
        ok, at_hi = funds(hi)
    base = {"donor": donor_id, "currency": donor.currency or scenario.currency}
    if not ok:
        return {
            **base,
            "found": False,
            "tried_up_to": hi,
            "solves": len(tried),
            "text": f"no extra budget from {donor_id} up to {hi:,} funds it: another rule binds",
        }
    lo = 0  # today's solution does not fund it fully
    while hi - lo > 1:
        mid = (lo + hi) // 2
        ok_mid, res_mid = funds(mid)
        if ok_mid:
            hi, at_hi = mid, res_mid
        else:
            lo = mid
    return {
        **base,
        "found": True,
        "extra": hi,
        "extra_in_scenario_currency": scenario.convert(hi, donor.currency),
        "coverage_after": at_hi.objective.get("coverage"),
        "solves": len(tried),
        "text": f"{hi:,} {base['currency']} more from {donor_id} funds it in full ({hi - 1:,} does not)",
    }


def _to_donor_currency(scenario: Scenario, donor: Donor) -> Callable[[int], int]:
    """Scenario-currency amount -> at least that much in the donor's currency (rounded up)."""
    if donor.currency is None or donor.currency == scenario.currency:
        return lambda amount: max(1, amount)
    rate = scenario.fx[donor.currency]
    return lambda amount: max(1, math.ceil(amount / rate))


def forced_in(scenario: Scenario, request_id: str, result: Result, params: SolveParams) -> dict[str, Any]:
    """Re-solve with the request ``must_fund``: who loses money and the coverage it costs."""
    forced = vary(scenario, [f"requests[{request_id}].must_fund=true"])
    after = solve(forced, params)
    if not after.has_solution():
        text = (
            "cannot be funded in full under the hard rules, whatever else gives way"
            if after.status == "infeasible"
            else f"no allocation found within the limits (status {after.status})"
        )
        return {"feasible": False, "status": after.status, "text": text}
    before_f = {o.id: o.funded for o in result.requests}
    displaced = [
        {"request": o.id, "before": before_f[o.id], "after": o.funded}
        for o in after.requests
        if o.funded < before_f[o.id]
    ]
    cost = optimal_coverage(result) - optimal_coverage(after)
    names = ", ".join(d["request"] for d in displaced) or "no other request"
    return {
        "feasible": True,
        "status": after.status,
        "displaced": displaced,
        "coverage_before": optimal_coverage(result),
        "coverage_after": optimal_coverage(after),
        "coverage_cost": cost,
        "text": f"forcing it in displaces {names} and costs {cost:,.4g} of priority-weighted coverage",
    }


def to_text(doc: dict[str, Any]) -> str:
    """The explanation in plain words, for a national focal point."""
    cur = doc["currency"]
    lines = [
        f"{doc['request']} ({doc['country']}, {doc['region']}, {doc['theme']}, priority {doc['priority']}, "
        f"weight {doc['weight']:g}): {doc['status']}, {doc['funded']:,} of {doc['amount']:,} {cur}",
        f"Binding rule: {doc['binding']['text']}",
    ]
    for r in doc["reasons"][1:]:
        lines.append(f"  also: {r['text']}")
    eligible = [d for d in doc["donors"] if d["eligible"]]
    lines.append(f"Eligible donors ({len(eligible)} of {len(doc['donors'])}):")
    for d in eligible:
        went = ", ".join(f"{g['request']} {g['amount']:,}" for g in d["grants"][:5]) or "nothing"
        more = f" and {len(d['grants']) - 5} more" if len(d["grants"]) > 5 else ""
        lines.append(f"  {d['donor']}: budget {d['budget']:,}, left {d['left']:,}; gave {went}{more}")
    for d in doc["donors"]:
        if not d["eligible"]:
            lines.append(f"  not {d['donor']}: its {d['excluded_by']}")
    for o in doc["offers"]:
        done = "delivered" if o["delivered"] else "not delivered"
        lines.append(f"  in-kind offer from {o['donor']} ({o['value']:,} {cur}): {done}")
    if "extra_budget" in doc:
        lines.append("What would fund it:")
        for e in doc["extra_budget"]:
            lines.append(f"  {e['text']}")
        if not doc["extra_budget"]:
            lines.append("  no money donor may fund it; change an earmark or add a donor")
        lines.append(f"If forced in: {doc['forced']['text']}")
        for d in doc["forced"].get("displaced", []):
            lines.append(f"  {d['request']}: {d['before']:,} -> {d['after']:,}")
    return "\n".join(lines) + "\n"

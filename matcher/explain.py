"""Why a request got what it got, and what would change it, found by honest re-solves.

Three parts:

* the rule that binds (the first reason the engine gives) and the eligible donors with where their
  money went;
* for each eligible money donor, the smallest extra budget that gets the request fully funded,
  found by bisection on re-solves and verified at the boundary: with that extra the request is
  funded, with one unit less it is not (see :mod:`matcher.extra_budget`; within a time budget,
  so on a large round it may be a verified range instead);
* what forcing it in would cost: the request made ``must_fund`` and re-solved; the requests that
  lose money and the priority-weighted coverage given up.

The base allocation is solved once (or comes with the option) and reused; the what-if re-solves
share one wall-clock budget (``what_if_seconds``) and skip the grants stage. "Funds it in full" means
an allocation as good as the best (coverage within the spec's 1e-6) funds it: allocations often tie
(requests of equal priority weight per unit requested), and which of the equals `solve` picks is its
own tie-break, so each figure found is then checked with `solve` itself (every stage, the caller's
parameters) and the answer says when `solve` gives the money to an equal instead (must_fund chooses),
and which requests get less. When forcing the request in costs no coverage at all, no extra money is
needed and none is searched for.
"""

from __future__ import annotations

import difflib
from typing import Any

from matcher.domain import Donor, Scenario, earmark_block
from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError
from matcher.extra_budget import (
    WHAT_IF_SECONDS,
    Budget,
    as_good,
    money_proven,
    money_terms_only,
    smallest_extra_budgets,
    what_if_params,
    with_extra_budget,
)
from matcher.infeasible import no_allocation_why
from matcher.result import Result
from matcher.value import optimal_coverage
from matcher.variants import vary

__all__ = ["explain", "to_text", "with_extra_budget", "donor_views", "forced_in"]


def explain(
    scenario: Scenario,
    request_id: str,
    params: SolveParams | None = None,
    result: Result | None = None,
    what_if: bool = True,
    what_if_seconds: float | None = WHAT_IF_SECONDS,
) -> dict[str, Any]:
    """The explanation document of one request (plain JSON-able data).

    ``result`` is the base allocation when the caller has it (it is not solved again);
    ``what_if_seconds`` bounds all the what-if re-solves together (None: no limit)."""
    params = params or SolveParams(time_limit=30)
    request = _request(scenario, request_id)
    result = result or solve(scenario, params)
    if not result.has_solution():
        raise MatcherError(f"the scenario has no allocation to explain, {no_allocation_why(scenario, result.status)}")
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
        "base": {
            "status": result.status,
            "coverage": optimal_coverage(result),
            "coverage_bound": result.bound.get("coverage"),
            "money_proven": money_proven(result),
        },
        "binding": _binding(outcome),
        "reasons": [{"code": c, "text": t} for c, t in zip(outcome.reason_codes, outcome.reasons, strict=True)],
        "donors": donor_views(scenario, result, request_id),
        "offers": _offers(scenario, result, request_id),
    }
    if what_if and outcome.status != "funded":
        budget = Budget(what_if_seconds)
        doc["forced"] = forced_in(scenario, request_id, result, params, budget)
        donors = [d for d in scenario.donors if d.kind == "funds" and _eligible(scenario, d, request)]
        missing = outcome.amount - outcome.funded
        doc["no_extra_needed"] = bool(doc["forced"].get("proven")) and as_good(
            doc["forced"]["coverage_after"], doc["forced"]["coverage_before"]
        )
        doc["extra_budget"] = (
            []
            if doc["no_extra_needed"]
            else smallest_extra_budgets(scenario, request_id, missing, donors, params, budget, base_result=result)
        )
        if doc["no_extra_needed"]:  # verified: no rule holds it back, the solve chose among equals
            to = ", ".join(d["request"] for d in doc["forced"]["displaced"]) or "other requests"
            doc["binding"] = {
                "code": "equal_choice",
                "text": f"no rule: an allocation as good funds it in full; the solve's tie-break (an equal choice, "
                f"or fewer grants) gave the money to {to}",
            }
        else:
            doc["binding"], doc["not_binding"] = _checked_binding(scenario, request, outcome, params, budget)
        doc["what_if"] = {
            "solves": budget.solves,
            "seconds": round(budget.spent, 2),
            "budget_seconds": what_if_seconds,
            "node_limit": what_if_params(params).node_limit,
        }
    return doc


# A rule the engine names as a reason, and the --set assignments that lift it alone.
LIFTS = {
    "max_donors": lambda r: ["policy.max_donors_per_request=null"],
    "partner_capacity": lambda r: [f"partners[{r.partner}].max_projects=null"] if r.partner else None,
    "country_cap": lambda r: ["policy.max_country_share=null"],
    "region_floor": lambda r: ["policy.region_floors={}"],
}


def _checked_binding(
    scenario: Scenario, request, outcome, params: SolveParams, budget: Budget
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first of the engine's reasons that holds the request back, checked where the reason is a rule
    that can be lifted (max donors, partner projects, country cap, region floors): a re-solve without the
    rule must give the request more. A rule whose lifting changes nothing is listed as not binding (the
    engine names its reasons from the allocation, without re-solving)."""
    not_binding: list[dict[str, Any]] = []
    for code, text in zip(outcome.reason_codes, outcome.reasons, strict=True):
        lift = LIFTS.get(code, lambda r: None)(request)
        if lift is None or not budget.can_start():
            return {"code": code, "text": text}, not_binding
        after = budget.solve(vary(money_terms_only(scenario), lift), what_if_params(params))
        got = next((o.funded for o in after.requests if o.id == request.id), None)
        if not money_proven(after) or got is None:
            return {"code": code, "text": text}, not_binding
        if got > outcome.funded:
            return {"code": code, "text": text, "lifted_alone": got}, not_binding
        not_binding.append({"code": code, "text": text, "without_it": got})
    if not_binding:  # every reason named was lifted alone and changed nothing
        return {
            "code": "rules_together",
            "text": "no single rule: each one the engine names, lifted alone, leaves it "
            "where it is; they hold it back together",
        }, not_binding
    return _binding(outcome), not_binding


def _request(scenario: Scenario, request_id: str):
    for r in scenario.requests:
        if r.id == request_id:
            return r
    ids = [r.id for r in scenario.requests]
    close = difflib.get_close_matches(request_id, ids, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    known = ", ".join(ids[:8]) + (f", ... ({len(ids)} in all)" if len(ids) > 8 else "")
    raise MatcherError(f"no request '{request_id}' in scenario '{scenario.name}'{hint} (known: {known})")


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
        grants: list[dict[str, Any]] = [
            {"request": a.request, "amount": a.amount} for a in result.allocations if a.donor == d.id
        ]
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


def forced_in(
    scenario: Scenario, request_id: str, result: Result, params: SolveParams, budget: Budget | None = None
) -> dict[str, Any]:
    """Re-solve with the request ``must_fund``: who loses money and the coverage it costs."""
    forced = vary(money_terms_only(scenario), [f"requests[{request_id}].must_fund=true"])
    after = (budget or Budget(None)).solve(forced, what_if_params(params))
    if not after.has_solution():
        text = (
            "cannot be funded in full under the hard rules, whatever else gives way"
            if after.status == "infeasible"
            else f"no allocation found within the limits (status {after.status})"
        )
        return {"feasible": False, "status": after.status, "text": text}
    before_f = {o.id: o.funded for o in result.requests}
    displaced: list[dict[str, Any]] = [
        {"request": o.id, "before": before_f[o.id], "after": o.funded}
        for o in after.requests
        if o.funded < before_f[o.id]
    ]
    # the money freed elsewhere can fund other requests more: without them the cost does not add up
    gains: list[dict[str, Any]] = [
        {"request": o.id, "before": before_f[o.id], "after": o.funded}
        for o in after.requests
        if o.funded > before_f[o.id] and o.id != request_id
    ]
    cost = optimal_coverage(result) - optimal_coverage(after)
    names = ", ".join(d["request"] for d in displaced) or "no other request"
    also = f", funds {', '.join(g['request'] for g in gains)} more" if gains else ""
    proven = money_proven(after) and money_proven(result)
    return {
        "feasible": True,
        "status": after.status,
        "proven": proven,
        "displaced": displaced,
        "gains": gains,
        "coverage_before": optimal_coverage(result),
        "coverage_after": optimal_coverage(after),
        "coverage_cost": cost,
        "text": f"forcing it in displaces {names}{also} and costs {cost:,.4g} of priority-weighted coverage"
        + ("" if proven else " (not proven optimal: an estimate, see the stage bounds)"),
    }


def to_text(doc: dict[str, Any]) -> str:
    """The explanation in plain words, for a national focal point."""
    cur = doc["currency"]
    lines = [
        f"{doc['request']} ({doc['country']}, {doc['region']}, {doc['theme']}, priority {doc['priority']}, "
        f"weight {doc['weight']:g}): {doc['status']}, {doc['funded']:,} of {doc['amount']:,} {cur}",
        f"Binding rule: {doc['binding']['text']}"
        + (
            f" (checked: lifted alone, it gets {doc['binding']['lifted_alone']:,} {cur})"
            if "lifted_alone" in doc["binding"]
            else ""
        ),
    ]
    base = doc["base"]
    if not base["money_proven"]:
        bound = "?" if base["coverage_bound"] is None else f"{base['coverage_bound']:,.4g}"
        lines.append(
            f"Note: the base allocation is {base['status']}, not proven optimal: coverage {base['coverage']:,.4g} of "
            f"at most {bound}; raise --time-limit for a firmer answer"
        )
    if doc["binding"]["code"] != "equal_choice":  # else the solve's reasons name rules shown not to bind
        lifted = {n["code"] for n in doc.get("not_binding", [])}
        for r in doc["reasons"]:
            if r["text"] != doc["binding"]["text"] and r["code"] not in lifted:
                lines.append(f"  also: {r['text']}")
    for n in doc.get("not_binding", []):
        lines.append(f"  not binding: {n['text']} (lifted alone, it still gets {n['without_it']:,} {cur})")
    eligible = [d for d in doc["donors"] if d["eligible"]]
    lines.append(f"Eligible donors ({len(eligible)} of {len(doc['donors'])}, amounts in {cur}):")
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
        if doc.get("no_extra_needed"):
            lines.append(
                "  no extra money: an allocation as good as this one funds it in full (forcing it in costs no "
                "priority-weighted coverage); mark it must_fund: true to fund it"
            )
        elif not doc["extra_budget"]:
            lines.append("  no money donor may fund it; change an earmark or add a donor")
        w = doc["what_if"]
        lines.append(f"  ({w['solves']} re-solves in {w['seconds']:.1f} s, node limit {w['node_limit']} per stage)")
        lines.append(f"If forced in: {doc['forced']['text']}")
        for d in doc["forced"].get("displaced", []) + doc["forced"].get("gains", []):
            lines.append(f"  {d['request']}: {d['before']:,} -> {d['after']:,}")
    return "\n".join(lines) + "\n"

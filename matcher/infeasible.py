"""What to check when the hard rules admit no allocation: one line for a user, naming what can be named
(must_fund requests no donor may fund or that ask more than their donors can give, commitments the
rules cannot hold). Solver-free: it reads the scenario only."""

from __future__ import annotations

from matcher.domain import Scenario, commitment_conflicts, earmark_block
from matcher.graph import eligibility_graph, request_node


def infeasible_note(scenario: Scenario) -> str:
    """What to check when the hard rules admit no allocation, naming must_fund requests no donor may fund."""
    g = eligibility_graph(scenario)
    stranded = [r.id for r in scenario.requests if r.must_fund and g.degree(request_node(r.id)) == 0]
    note = "The hard rules admit no allocation (check commitments, must_fund, prerequisites, caps and region floors)."
    if stranded:
        note += f" must_fund but no donor may fund it: {', '.join(stranded)}."
    short = _must_fund_beyond_reach(scenario, set(stranded))
    if short:
        note += " must_fund beyond what its eligible donors can give: " + "; ".join(short) + "."
    conflicts = commitment_conflicts(scenario)
    if conflicts:
        note += " Commitments the rules cannot hold: " + "; ".join(conflicts) + "."
    return note


def _must_fund_beyond_reach(scenario: Scenario, skip: set[str]) -> list[str]:
    """must_fund requests asking more than their eligible donors can give at most (each donor its budget,
    at most its max_grant, the largest ones only under max_donors_per_request; offers at their value)."""
    partners = {p.id: p for p in scenario.partners}
    limit = scenario.policy.max_donors_per_request
    out = []
    for r in scenario.requests:
        if not r.must_fund or r.id in skip:
            continue
        partner = partners.get(r.partner) if r.partner else None
        gives = sorted(
            (
                min(scenario.budget_in_currency(d), d.max_grant if d.max_grant is not None else r.amount)
                for d in scenario.donors
                if d.kind == "funds" and not earmark_block(d, r, partner)
            ),
            reverse=True,
        )
        reach = sum(gives[:limit] if limit is not None else gives)
        reach += sum(o.value for o in scenario.offers if o.request == r.id)
        if reach < r.amount:
            out.append(f"{r.id} needs {r.amount:,}, its eligible donors can give at most {reach:,} {scenario.currency}")
    return out


def no_allocation_why(scenario: Scenario, status: str) -> str:
    """Why a solve gave no allocation, for the commands that need one (explain, value): one sentence on."""
    if status == "infeasible":
        return "status infeasible: " + infeasible_note(scenario)
    return (
        f"status {status}: none was found within the limits; give more --time-limit, or `matcher solve "
        "--progress` shows how far the solver got"
    )

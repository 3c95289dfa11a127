"""The value of money and of each limit: coverage gained by one step more, by honest re-solve.

For every money donor the step is ``step`` (USD 100,000 by default, in scenario currency, given to
the donor in its own currency); for every in-kind donor one unit of capacity; for every partner
with ``max_projects`` one project more; for the country cap one percentage point more; for every
region floor one percentage point less. Each entry re-solves the changed mixed-integer problem;
it is not an LP dual. The re-solves skip a trailing grants stage (it cannot change coverage).
When both coverage stages are proven optimal the gain is exact; otherwise it is given as a range
from the stage bounds (``gain_low`` .. ``gain_high``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from matcher.domain import Scenario
from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError
from matcher.extra_budget import money_terms_only
from matcher.infeasible import no_allocation_why
from matcher.result import Result
from matcher.variants import vary

DEFAULT_STEP = 100_000
SHARE_STEP = 0.01


@dataclass(frozen=True)
class Lever:
    """One thing to loosen: what it is, the edit that loosens it, and the step in words."""

    kind: str
    target: str
    assignment: str
    step: str


def levers(scenario: Scenario, step: int = DEFAULT_STEP) -> list[Lever]:
    """Every donor budget, in-kind capacity, partner capacity, country cap and region floor."""
    out = []
    for d in scenario.donors:
        if d.kind == "funds":
            own = _in_donor_currency(scenario, d.currency, step)
            out.append(
                Lever(
                    "donor_budget", d.id, f"donors[{d.id}].budget+={own}", f"+{own:,} {d.currency or scenario.currency}"
                )
            )
        else:
            out.append(Lever("in_kind_capacity", d.id, f"donors[{d.id}].capacity+=1", f"+1 {d.unit or 'unit'}"))
    for p in scenario.partners:
        if p.max_projects is not None:
            out.append(Lever("partner_capacity", p.id, f"partners[{p.id}].max_projects+=1", "+1 project"))
    share = scenario.policy.max_country_share
    if share is not None and share < 1:
        new = min(1.0, round(share + SHARE_STEP, 6))
        out.append(
            Lever("country_cap", "max_country_share", f"policy.max_country_share={new}", f"{share:.0%} -> {new:.0%}")
        )
    for g, floor in scenario.policy.region_floors.items():
        if floor > 0:
            new = max(0.0, round(floor - SHARE_STEP, 6))
            # Region slugs have hyphens, which a path step cannot name: replace the whole mapping.
            floors = json.dumps({**scenario.policy.region_floors, g: new})
            out.append(Lever("region_floor", g, f"policy.region_floors={floors}", f"{floor:.0%} -> {new:.0%}"))
    return out


def _in_donor_currency(scenario: Scenario, currency: str | None, amount: int) -> int:
    """At least ``amount`` scenario-currency units, in the donor's currency (rounded up)."""
    if currency is None or currency == scenario.currency:
        return amount
    return math.ceil(amount / scenario.fx[currency])


def marginal_values(
    scenario: Scenario, params: SolveParams | None = None, step: int = DEFAULT_STEP, base: Result | None = None
) -> dict[str, Any]:
    """The base coverage and, per lever, the coverage after loosening it and the gain."""
    params = params or SolveParams(time_limit=30)
    base = base or solve(scenario, params)
    if not base.has_solution():  # nothing to improve on: a gain over no allocation means nothing
        raise MatcherError(f"the scenario has no allocation to value, {no_allocation_why(scenario, base.status)}")
    entries = [_entry(scenario, lever, base, params) for lever in levers(scenario, step)]
    entries.sort(key=lambda e: (-(e["gain"] if e["gain"] is not None else e["gain_low"]), e["kind"], e["target"]))
    return {
        "scenario": scenario.name,
        "currency": scenario.currency,
        "step": step,
        "status": base.status,
        "coverage": optimal_coverage(base) if base.has_solution() else None,
        "allocation_coverage": base.objective.get("coverage"),  # solve's figure: later stages may give up 1e-6
        "levers": entries,
    }


def _coverage_proven(result: Result) -> bool:
    return any(st.term == "coverage" and st.status == "optimal" for st in result.solver.stages)


def optimal_coverage(result: Result) -> float:
    """The coverage its own stage reached. Later stages may give up a relative 1e-6 of it (the
    lexicographic tolerance), which would show as noise in a difference of two solves."""
    for stage in result.solver.stages:
        if stage.term == "coverage":
            return stage.value
    return result.objective["coverage"]


def _entry(scenario: Scenario, lever: Lever, base: Result, params: SolveParams) -> dict[str, Any]:
    # Only the coverage stage counts here: skip the grants stage, which cannot change it.
    after = solve(vary(money_terms_only(scenario), [lever.assignment]), params)
    entry: dict[str, Any] = {"kind": lever.kind, "target": lever.target, "step": lever.step, "status": after.status}
    if not (base.has_solution() and after.has_solution()):
        return {**entry, "coverage": None, "gain": None, "gain_low": 0.0, "gain_high": None}
    b, a = optimal_coverage(base), optimal_coverage(after)
    exact = _coverage_proven(base) and _coverage_proven(after)
    # A stopped solve still bounds its own optimum: the true gain lies between these.
    low = a - base.bound.get("coverage", b) if not exact else a - b
    high = after.bound.get("coverage", a) - b if not exact else a - b
    return {**entry, "coverage": a, "gain": (a - b) if exact else None, "gain_low": low, "gain_high": high}

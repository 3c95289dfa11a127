"""Read a MathOpt result back into whole-unit allocations, and assemble the Result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from matcher.engine.compile import Problem
from matcher.engine.model import Model
from matcher.reasons import all_reasons
from matcher.result import Allocation, DonorUse, RequestOutcome, Result, SolverInfo, StageInfo
from matcher.validate import check_solution, objective_terms


@dataclass
class Solution:
    """Integer allocation: grant per pair index, delivered offer indices, funding per request."""

    x: dict[int, int]
    delivered: set[int]
    funded: list[int] = field(default_factory=list)


def read_solution(p: Problem, m: Model, result) -> Solution:
    """Round the solver's values to whole units (they are integral within tolerance)."""
    xv = result.variable_values(list(m.x.values())) if m.x else []
    uv = result.variable_values(list(m.u.values())) if m.u else []
    delivered = {k for k, v in zip(m.u.keys(), uv) if v > 0.5}
    x = {k: int(round(v)) for k, v in zip(m.x.keys(), xv) if round(v) > 0}
    return Solution(x, delivered, _funding(p, x, delivered))


def _funding(p: Problem, x: dict[int, int], delivered: set[int]) -> list[int]:
    funded = [0] * p.n_requests
    for k, amount in x.items():
        funded[int(p.pair_request[k])] += amount
    for k in delivered:
        o = p.scenario.offers[k]
        funded[p.request_index[o.request]] += o.value
    return funded


def allocations(p: Problem, sol: Solution | None) -> list[Allocation]:
    """Grants in donor then request order, then in-kind deliveries in offer order."""
    if sol is None:
        return []
    s = p.scenario
    out = []
    keys = list(sol.x)
    donor, request = p.pair_donor[keys].tolist(), p.pair_request[keys].tolist()  # not p.pairs: 1.5M tuples on L
    commit = (p.pair_commit if p.pair_promised is None else p.pair_promised)[keys].tolist()
    for n in sorted(range(len(keys)), key=lambda n: (donor[n], request[n])):
        out.append(
            Allocation(
                donor=s.donors[donor[n]].id,
                request=s.requests[request[n]].id,
                amount=sol.x[keys[n]],
                committed=commit[n],
            )
        )
    for k in sorted(sol.delivered):
        o = s.offers[k]
        out.append(Allocation(donor=o.donor, request=o.request, amount=o.value, kind="in_kind", units=o.units))
    return out


def term_value(p: Problem, sol: Solution, term: str) -> float:
    """One objective term recomputed from the integer allocation."""
    return objective_terms(p.scenario, allocations(p, sol))[term]


NO_ALLOCATION = {
    "infeasible": (
        "no_allocation",
        "the hard rules admit no allocation of this round (check commitments, must_fund, "
        "prerequisites, country caps and region floors; `matcher graph` lists requests no donor can fund)",
    ),
    "unknown": ("no_allocation", "no allocation was found within the limits; raise --time-limit or --node-limit"),
}


def result_of(
    p: Problem, sol: Solution | None, status: str, stages: list[StageInfo], info: dict, explain: bool = True
) -> Result:
    """Assemble the Result, then check it against every hard rule: a violation is an engine bug.
    ``explain`` False leaves out the reasons why requests got less (a sweep's draws never show them)."""
    s = p.scenario
    allocs = allocations(p, sol)
    terms = objective_terms(s, allocs) if sol is not None else {}
    objective = {t: terms[t] for t in _reported_terms(s)} if sol is not None else {}
    bound = {st.term: st.bound for st in stages}
    funded = sol.funded if sol is not None else [0] * p.n_requests
    if sol is None:  # no allocation at all: the requests compete for nothing, so say that, not a trade-off
        reasons = [[NO_ALLOCATION.get(status, NO_ALLOCATION["unknown"])] for _ in s.requests]
    else:
        reasons = all_reasons(s, p.budgets, allocs, funded) if explain else [[] for _ in s.requests]
    outcomes = [_outcome(r.id, r.amount, funded[j], reasons[j]) for j, r in enumerate(s.requests)]
    started = info.pop("started")
    solver = SolverInfo(
        **info,
        seconds=round(time.perf_counter() - started, 3),
        stages=stages,
        gap=stages[0].gap if stages and sol is not None else None,  # no allocation: no gap to speak of
    )
    result = Result(
        scenario=s.name,
        status=status,  # type: ignore[arg-type]
        currency=s.currency,
        objective=objective,
        bound=bound,
        allocations=allocs,
        requests=outcomes,
        donors=_donor_use(p, allocs),
        solver=solver,
    )
    if result.has_solution():
        check_solution(s, result)
    return result


def _reported_terms(s) -> list[str]:
    terms = ["coverage", "volume", "grants"]
    if s.offers or "cost" in s.policy.objective:
        terms.append("cost")
    return terms


def _outcome(rid: str, amount: int, funded: int, reasons: list[tuple[str, str]]) -> RequestOutcome:
    status = "funded" if funded >= amount else ("partial" if funded > 0 else "unfunded")
    return RequestOutcome(
        id=rid,
        amount=amount,
        funded=funded,
        status=status,  # type: ignore[arg-type]
        reasons=[text for _code, text in reasons],
        reason_codes=[code for code, _text in reasons],
    )


def _donor_use(p: Problem, allocs: list[Allocation]) -> list[DonorUse]:
    s = p.scenario
    given: dict[str, int] = {}
    units: dict[str, int] = {}
    for a in allocs:
        given[a.donor] = given.get(a.donor, 0) + a.amount
        units[a.donor] = units.get(a.donor, 0) + (a.units or 0)
    out = []
    for i, d in enumerate(s.donors):
        if d.kind == "funds":
            out.append(DonorUse(id=d.id, budget=p.budgets[i], allocated=given.get(d.id, 0)))
        else:
            out.append(
                DonorUse(
                    id=d.id,
                    kind="in_kind",
                    allocated=given.get(d.id, 0),
                    capacity=d.capacity,
                    used=units.get(d.id, 0),
                    unit=d.unit,
                )
            )
    return out

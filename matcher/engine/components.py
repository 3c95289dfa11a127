"""Solve independent parts of a scenario separately, and merge their results into one.

Two requests are in the same part when a donor may fund both (its earmarks admit both, or it
offers in kind to both), when one requires the other, or when they share a partner with a project
limit. Parts then share no donor and no rule, so the lexicographic optimum of the whole is the
union of the parts' optima: every objective term is a sum over parts, and a part cannot gain on a
later term by giving up an earlier one that the other parts could make up for.

The country cap and the region floors are shares of *all* money placed: they tie every part to
every other, so a scenario with either is never split.

Merging, term by term in the objective's order:

* value: the sum of the parts' values;
* bound: the sum of the parts' bounds. A part's bound on a later term was found with its earlier
  terms held at what the part reached, a looser constraint than holding them at their optimum, so
  it is still a valid bound on that term of the part's lexicographic optimum, and the sum is a
  valid bound on the whole's; each part keeps its earlier terms within the engine's relative
  tolerance of its own values, at least as strict as the whole would;
* status: optimal only when the term is optimal in every part.

A part without a solution makes the merged result that part's status (infeasible wins); reasons
are recomputed on the whole scenario (an orphan's reason names every donor that excludes it).

Splitting pays only where it is measured to: :func:`worth_splitting` says when, and today it says
never (``MIN_PAIRS_TO_SPLIT``; see ``benchmarks/components_bench.py`` for the measurements).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from matcher.domain import Scenario, earmark_block
from matcher.reasons import reasons_for
from matcher.result import Allocation, DonorUse, RequestOutcome, RequestStatus, Result, SolverInfo, StageInfo, Status
from matcher.scenario_io import input_sha256
from matcher.validate import check_solution, objective_terms

if TYPE_CHECKING:
    from matcher.engine.params import SolveParams

# Off (None) until it pays: measured on regional rounds (benchmarks/components_bench.py, see
# benchmarks/RESULTS.md), splitting was not faster with this engine, whose grants stage and grant
# realisation run to their time limit whether split or not, and a part's share of the time limit
# can be too short for its realisation (it then falls back to the slower full model). Set a
# number of eligible pairs from which to split once the engine finishes small parts early.
MIN_PAIRS_TO_SPLIT: int | None = None
MIN_PARTS = 2


def coupled(scenario: Scenario) -> bool:
    """True when a rule on shares of all money (country cap, region floors) ties every part together."""
    p = scenario.policy
    return p.max_country_share is not None or any(f > 0 for f in p.region_floors.values())


def parts_of(scenario: Scenario) -> list[tuple[list[int], list[int]]]:
    """Independent parts as (donor indices, request indices), in the order of their first request.

    Donors that may fund nothing and requests that no donor may fund form no part of their own:
    they join the first part (they change no other part's optimum)."""
    n_d = len(scenario.donors)
    uf = _UnionFind(n_d + len(scenario.requests))
    request_index = {r.id: n_d + j for j, r in enumerate(scenario.requests)}
    donor_index = {d.id: i for i, d in enumerate(scenario.donors)}
    linked = [False] * uf.size
    for i, d in enumerate(scenario.donors):
        if d.kind != "funds":
            continue
        for j, r in enumerate(scenario.requests):
            if earmark_block(d, r, scenario.partner_of(r)) is None:
                uf.union(i, n_d + j)
                linked[i] = linked[n_d + j] = True
    for o in scenario.offers:
        a, b = donor_index[o.donor], request_index[o.request]
        uf.union(a, b)
        linked[a] = linked[b] = True
    for r in scenario.requests:
        for q in r.prerequisites:
            uf.union(request_index[r.id], request_index[q])
    limited: dict[str, int] = {}
    for r in scenario.requests:
        partner = scenario.partner_of(r)
        if partner is not None and partner.max_projects is not None:
            first = limited.setdefault(partner.id, request_index[r.id])
            uf.union(first, request_index[r.id])
    groups: dict[int, tuple[list[int], list[int]]] = {}
    loose: tuple[list[int], list[int]] = ([], [])
    for n in range(uf.size):
        root = uf.find(n)
        alone = not linked[n] and uf.count[root] == 1
        donors, requests = loose if alone else groups.setdefault(root, ([], []))
        (donors if n < n_d else requests).append(n if n < n_d else n - n_d)
    parts = sorted(groups.values(), key=lambda g: min(g[1], default=math.inf))
    if parts:
        parts[0][0].extend(loose[0])
        parts[0][1].extend(loose[1])
        parts[0][0].sort()
        parts[0][1].sort()
    elif loose[0] or loose[1]:
        parts = [loose]
    return parts


def eligible_pairs(scenario: Scenario) -> int:
    """Number of (money donor, request) pairs the earmarks admit: the size of the model."""
    return sum(
        1
        for d in scenario.donors
        if d.kind == "funds"
        for r in scenario.requests
        if earmark_block(d, r, scenario.partner_of(r)) is None
    )


def worth_splitting(scenario: Scenario, parts: list[tuple[list[int], list[int]]]) -> bool:
    """Split only into two or more real parts of a round big enough for it to pay."""
    if MIN_PAIRS_TO_SPLIT is None:
        return False
    return len(parts) >= MIN_PARTS and eligible_pairs(scenario) >= MIN_PAIRS_TO_SPLIT


def sub_scenario(scenario: Scenario, donors: list[int], requests: list[int], n: int) -> Scenario:
    """The part as a scenario of its own: its donors, requests, and their commitments and offers."""
    donor_ids = {scenario.donors[i].id for i in donors}
    request_ids = {scenario.requests[j].id for j in requests}
    return scenario.model_copy(
        update={
            "name": f"{scenario.name}.part{n}",
            "donors": [scenario.donors[i] for i in donors],
            "requests": [scenario.requests[j] for j in requests],
            "commitments": [c for c in scenario.commitments if c.donor in donor_ids and c.request in request_ids],
            "offers": [o for o in scenario.offers if o.donor in donor_ids and o.request in request_ids],
        }
    )


def solve_in_parts(scenario: Scenario, params: SolveParams, solve_part) -> Result | None:
    """The merged result of solving each independent part, or None when the scenario is not split.

    ``solve_part(scenario, params)`` solves one part without splitting it again."""
    if MIN_PAIRS_TO_SPLIT is None or params.method == "full" or coupled(scenario):
        return None
    parts = parts_of(scenario)
    if not worth_splitting(scenario, parts):
        return None
    started = time.perf_counter()
    subs = [sub_scenario(scenario, d, r, n) for n, (d, r) in enumerate(parts, 1)]
    weights = [max(1, eligible_pairs(s)) for s in subs]
    results = []
    for n, sub in enumerate(subs):
        results.append(solve_part(sub, replace(params, time_limit=_share(params, started, weights, n))))
    return merge(scenario, results, params, started)


def _share(params: SolveParams, started: float, weights: list[int], n: int) -> float | None:
    """This part's share of what is left of the time limit, by its number of pairs."""
    if params.time_limit is None:
        return None
    left = params.time_limit - (time.perf_counter() - started)
    return max(0.05, left * weights[n] / sum(weights[n:]))


def merge(scenario: Scenario, results: list[Result], params: SolveParams, started: float) -> Result:
    """One Result for the whole scenario from the results of its parts (see the module notes)."""
    status = _merged_status(results)
    solved = all(r.has_solution() for r in results)
    allocations = _allocations(scenario, results) if solved else []
    stages = _stages(results) if solved else []
    funded = {o.id: o.funded for r in results for o in r.requests} if solved else {}
    result = Result(
        scenario=scenario.name,
        status=status,
        currency=scenario.currency,
        objective=_objective(scenario, results, allocations) if solved else {},
        bound={st.term: st.bound for st in stages},
        allocations=allocations,
        requests=_outcomes(scenario, allocations, funded, params.explain),
        donors=_donors(scenario, results),
        solver=_solver(scenario, results, params, started, stages),
    )
    if result.has_solution():
        check_solution(scenario, result)
    return result


def _merged_status(results: list[Result]) -> Status:
    statuses = [r.status for r in results]
    worst: tuple[Status, ...] = ("infeasible", "unknown", "feasible")
    return next((s for s in worst if s in statuses), "optimal")


def _allocations(scenario: Scenario, results: list[Result]) -> list[Allocation]:
    """Grants in the engine's order (donor, then request, as in the file), then in-kind deliveries."""
    d_at = {d.id: i for i, d in enumerate(scenario.donors)}
    r_at = {r.id: j for j, r in enumerate(scenario.requests)}
    o_at = {(o.donor, o.request): k for k, o in enumerate(scenario.offers)}
    every = [a for r in results for a in r.allocations]
    money = sorted((a for a in every if a.kind == "funds"), key=lambda a: (d_at[a.donor], r_at[a.request]))
    in_kind = sorted((a for a in every if a.kind == "in_kind"), key=lambda a: o_at[(a.donor, a.request)])
    return money + in_kind


def _stages(results: list[Result]) -> list[StageInfo]:
    """Term by term: values and bounds add up; optimal only when optimal in every part."""
    out = []
    for k, first in enumerate(results[0].solver.stages):
        per = [r.solver.stages[k] for r in results if k < len(r.solver.stages)]
        value = math.fsum(st.value for st in per)
        bound = math.fsum(st.bound for st in per)
        optimal = len(per) == len(results) and all(st.status == "optimal" for st in per)
        out.append(
            StageInfo(
                term=first.term,
                sense=first.sense,
                value=value,
                bound=bound,
                gap=_gap(value, bound),
                status="optimal" if optimal else "feasible",
                seconds=round(sum(st.seconds for st in per), 3),
            )
        )
    return out


def _gap(value: float, bound: float) -> float:
    if value != value or bound != bound:
        return float("inf")
    return abs(bound - value) / max(abs(value), 1e-9)


def _objective(scenario: Scenario, results: list[Result], allocations: list[Allocation]) -> dict[str, float]:
    """The reported terms, recomputed on the whole scenario (as the engine does for one solve)."""
    terms = objective_terms(scenario, allocations)
    reported = {t for r in results for t in r.objective}
    return {t: v for t, v in terms.items() if t in reported}


def _outcomes(
    scenario: Scenario, allocations: list[Allocation], funded: dict[str, int], explain: bool = True
) -> list[RequestOutcome]:
    budgets = tuple(scenario.budget_in_currency(d) if d.kind == "funds" else 0 for d in scenario.donors)
    got = [funded.get(r.id, 0) for r in scenario.requests]
    out = []
    for j, r in enumerate(scenario.requests):
        reasons = reasons_for(scenario, budgets, allocations, got, j) if explain and got[j] < r.amount else []
        status: RequestStatus = "funded" if got[j] >= r.amount else ("partial" if got[j] > 0 else "unfunded")
        out.append(
            RequestOutcome(
                id=r.id,
                amount=r.amount,
                funded=got[j],
                status=status,
                reasons=[t for _c, t in reasons],
                reason_codes=[c for c, _t in reasons],
            )
        )
    return out


def _donors(scenario: Scenario, results: list[Result]) -> list[DonorUse]:
    uses = {u.id: u for r in results for u in r.donors}
    return [uses[d.id] for d in scenario.donors]


def _solver(
    scenario: Scenario, results: list[Result], params: SolveParams, started: float, stages: list[StageInfo]
) -> SolverInfo:
    engines = sorted({r.solver.engine for r in results})
    return SolverInfo(
        engine=f"{'+'.join(engines)} in {len(results)} parts",
        ortools=results[0].solver.ortools,
        matcher=results[0].solver.matcher,
        seed=params.seed,
        threads=params.threads,
        time_limit=params.time_limit,
        node_limit=params.node_limit,
        seconds=round(time.perf_counter() - started, 3),
        input_sha256=input_sha256(scenario),
        stages=stages,
        gap=stages[0].gap if stages else None,
    )


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.size = size
        self.parent = list(range(size))
        self.count = [1] * size

    def find(self, n: int) -> int:
        while self.parent[n] != n:
            self.parent[n] = self.parent[self.parent[n]]
            n = self.parent[n]
        return n

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.count[ra] < self.count[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.count[ra] += self.count[rb]

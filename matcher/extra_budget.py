"""The smallest extra budget per donor that gets a request fully funded, by bounded re-solves.

For each eligible money donor, a search over the extra budget ``e`` (whole units of the donor's
currency): ``e = 0`` is today's outcome (not funded in full); an upper end that funds it is found by
doubling from the missing amount; bisection then closes in. Every figure given is a verified one:
``hi`` funds the request (a re-solve says so) and ``lo`` does not, so the smallest extra lies in
``lo + 1 .. hi``; it is exact when ``hi - lo == 1``.

What makes it fast enough for a meeting:

* the re-solves keep only the money terms of the objective when ``grants`` is the last term: the
  engine fixes every funded amount before it counts grants, so minimising grants (the slow, often
  time-limited part on large rounds) cannot change whether the request is funded;
* each re-solve has a node limit (a fixed work limit, so the same answer on every machine) and a
  share of one wall-clock budget for all what-ifs; a re-solve whose money stages are not proven
  optimal is run once more with ten times the nodes, and if still unproven answers nothing and
  stops that donor's search;
* the donors' searches take turns, one re-solve each, so when the budget runs out every donor has
  the narrowest verified range it could get, and the answer says it is a range, not an exact figure.

Outcomes need not be monotone in the budget (a MIP can switch between allocations), so an exact
answer is the smallest boundary bisection finds, verified on both sides.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

from matcher.domain import Donor, Scenario
from matcher.engine import SolveParams, solve
from matcher.result import Result
from matcher.variants import vary

MAX_DOUBLINGS = 12  # the upper end grows to 2^12 times the missing amount, then we give up
WHAT_IF_NODE_LIMIT = 200  # per stage and re-solve, when the caller sets none
WHAT_IF_SECONDS = 30.0  # default wall-clock budget for all what-if re-solves of one request
COVERAGE_TOLERANCE = 1e-6  # the spec's lexicographic tolerance: allocations this close in coverage are as good


def with_extra_budget(scenario: Scenario, donor_id: str, extra: int) -> Scenario:
    """The scenario with ``extra`` units of the donor's own currency added to its budget."""
    return vary(scenario, [f"donors[{donor_id}].budget+={extra}"])


def money_terms_only(scenario: Scenario) -> Scenario:
    """The scenario without a trailing ``grants`` term: the same funded amounts, found sooner."""
    terms = list(scenario.policy.objective)
    if len(terms) < 2 or terms[-1] != "grants" or "grants" in terms[:-1]:
        return scenario
    return vary(scenario, ["policy.objective=" + json.dumps(terms[:-1])])


def what_if_params(params: SolveParams) -> SolveParams:
    """Per re-solve: the caller's node limit, or a small one; no grants polish."""
    return replace(params, node_limit=params.node_limit or WHAT_IF_NODE_LIMIT, polish_seconds=0.0, on_log=None)


def money_proven(result: Result) -> bool:
    """True when every money stage (all but grants) of the solve is proven optimal."""
    stages = [st for st in result.solver.stages if st.term != "grants"]
    return result.status in ("optimal", "feasible") and bool(stages) and all(st.status == "optimal" for st in stages)


@dataclass
class Budget:
    """One wall-clock budget shared by every what-if re-solve (None: no limit)."""

    seconds: float | None
    started: float = field(default_factory=time.perf_counter)
    solves: int = 0
    spent: float = 0.0

    def left(self) -> float | None:
        return None if self.seconds is None else self.seconds - (time.perf_counter() - self.started)

    def can_start(self) -> bool:
        """Room for one more re-solve, judged by the average one so far."""
        left = self.left()
        if left is None:
            return True
        average = self.spent / self.solves if self.solves else 0.0
        return left > 0 and (self.solves == 0 or left >= 0.5 * average)

    def solve(self, scenario: Scenario, params: SolveParams) -> Result:
        left = self.left()
        limit = params.time_limit
        if left is not None:
            limit = max(0.5, left) if limit is None else max(0.5, min(limit, left))
        t0 = time.perf_counter()
        result = solve(scenario, replace(params, time_limit=limit))
        self.solves += 1
        self.spent += time.perf_counter() - t0
        return result


@dataclass
class _Search:
    """One donor's search: ``lo`` verified not to fund it, ``hi`` (once found) verified to fund it."""

    donor: Donor
    lo: int = 0
    hi: int | None = None
    probe: int = 0
    doublings: int = 0
    solves: int = 0
    stopped: str | None = None  # why the search ended before an exact answer
    coverage_at_hi: float | None = None
    solve_funded: tuple[int, int] | None = None  # (funded, amount) in `solve` with ``hi`` more, when proven
    others_less: list[dict[str, Any]] = field(default_factory=list)  # who gets less in the allocation funding it

    def next_extra(self) -> int | None:
        if self.stopped is not None:
            return None
        if self.hi is None:
            return self.probe
        return None if self.hi - self.lo <= 1 else (self.lo + self.hi) // 2


def smallest_extra_budgets(
    scenario: Scenario,
    request_id: str,
    missing: int,
    donors: list[Donor],
    params: SolveParams,
    budget: Budget,
    base_result: Result | None = None,
) -> list[dict[str, Any]]:
    """For each donor, the smallest extra budget with which an allocation as good as the best funds the
    request in full (or a verified range), then what ``solve`` itself does with that extra.

    ``missing`` (scenario currency) is what the request lacks today: the first upper end tried.
    ``base_result`` (today's allocation) lets the answer name the requests that get less."""
    base = money_terms_only(scenario)
    per_solve = what_if_params(params)
    searches = [_Search(d, probe=_to_donor_currency(scenario, d)(missing)) for d in donors]
    cache: dict[tuple[str, int], tuple[bool | None, Result]] = {}
    while any(s.next_extra() is not None for s in searches):
        for s in searches:
            extra = s.next_extra()
            if extra is None:
                continue
            if not budget.can_start():
                s.stopped = "time"
                continue
            key = (s.donor.id, extra)
            if key not in cache:
                found = _fundable(with_extra_budget(base, s.donor.id, extra), request_id, per_solve, budget, s)
                if found is None:  # the time ran out between its two re-solves
                    s.stopped = "time"
                    continue
                cache[key] = found
            (funded, result) = cache[key]
            _step(s, extra, funded, result)
    for s in searches:
        if s.hi is not None and budget.can_start():
            _as_solved(scenario, s, request_id, params, budget, cache[(s.donor.id, s.hi)][1], base_result)
    return [_answer(scenario, s) for s in searches]


def as_good(coverage: float, best: float) -> bool:
    """Coverage within the spec's lexicographic tolerance (a relative 1e-6) of the best: as good."""
    return coverage >= best - COVERAGE_TOLERANCE * max(1.0, abs(best))


def _proven(scenario: Scenario, params: SolveParams, budget: Budget, s: _Search) -> Result:
    """A re-solve; when its money stages are not proven, one retry with ten times the nodes."""
    result = budget.solve(scenario, params)
    s.solves += 1
    if not money_proven(result) and budget.can_start():
        result = budget.solve(scenario, replace(params, node_limit=10 * (params.node_limit or 1)))
        s.solves += 1
    return result


def _fundable(
    varied: Scenario, request_id: str, params: SolveParams, budget: Budget, s: _Search
) -> tuple[bool | None, Result] | None:
    """Whether an allocation as good as the best funds the request in full: the re-solve funds it, or, when
    it gives the money to others as good (ties are common: equal priority weight per unit requested), the
    re-solve with the request ``must_fund`` reaches the same coverage. (None, result) when a re-solve is not
    proven optimal; None when the time ran out before the second re-solve."""
    result = _proven(varied, params, budget, s)
    funded = _funded(result, request_id)
    if funded is not False:
        return funded, result
    if not budget.can_start():
        return None
    forced = _proven(vary(varied, [f"requests[{request_id}].must_fund=true"]), params, budget, s)
    if forced.status == "infeasible":
        return False, result
    if not money_proven(forced):
        return None, forced
    got, best = _coverage(forced), _coverage(result)
    if got is not None and best is not None and as_good(got, best):
        return True, forced
    return False, result


def _as_solved(
    scenario: Scenario,
    s: _Search,
    request_id: str,
    params: SolveParams,
    budget: Budget,
    funding: Result,
    base_result: Result | None,
) -> None:
    """What ``solve`` (every stage, the caller's parameters) gives the request with the extra found, and
    which other requests get less in the allocation that funds it (solve's own, else the must_fund one)."""
    if s.hi is None:  # no extra found: nothing to check
        return
    solved = budget.solve(with_extra_budget(scenario, s.donor.id, s.hi), replace(params, on_log=None))
    s.solves += 1
    outcome = next(o for o in solved.requests if o.id == request_id)
    if solved.has_solution() and money_proven(solved):
        s.solve_funded = (outcome.funded, outcome.amount)
    if s.solve_funded is not None and outcome.status == "funded":
        funding = solved
    if base_result is not None:
        before = {o.id: o.funded for o in base_result.requests}
        s.others_less = [
            {"request": o.id, "before": before[o.id], "after": o.funded}
            for o in funding.requests
            if o.id != request_id and o.funded < before[o.id]
        ]


def _funded(result: Result, request_id: str) -> bool | None:
    """Funded in full (True/False), or None when the money stages are not proven optimal."""
    if not money_proven(result):
        return None
    return next(o.status for o in result.requests if o.id == request_id) == "funded"


def _step(s: _Search, extra: int, funded: bool | None, result: Result) -> None:
    if funded is None:
        s.stopped = "unproven"
        return
    if funded:
        s.hi, s.coverage_at_hi = extra, _coverage(result)
    elif s.hi is None:
        s.lo = extra
        if s.doublings >= MAX_DOUBLINGS:
            s.stopped = "exhausted"
        s.probe, s.doublings = extra * 2, s.doublings + 1
    else:
        s.lo = extra


def _coverage(result: Result) -> float | None:
    for st in result.solver.stages:
        if st.term == "coverage":
            return st.value
    return result.objective.get("coverage")


def _answer(scenario: Scenario, s: _Search) -> dict[str, Any]:
    cur = s.donor.currency or scenario.currency
    base = {"donor": s.donor.id, "currency": cur, "solves": s.solves}
    if s.hi is None and s.solves == 0:
        return {
            **base,
            "found": False,
            "exact": False,
            "tried_up_to": None,
            "text": f"{s.donor.id}: not tried, the time for what-ifs ran out first (raise --what-if-seconds)",
        }
    if s.hi is None:
        why = {
            "exhausted": "another rule binds",
            "time": "then the time for what-ifs ran out",
            "unproven": "a re-solve was not proven optimal within its limits",
        }.get(s.stopped or "", "")
        if s.lo == 0:  # the first re-solve already gave no answer: nothing is verified, no figure to give
            text = (
                f"{s.donor.id}: unknown: the time for what-ifs ran out during its first re-solves (raise "
                "--what-if-seconds)"
                if s.stopped == "time"
                else f"{s.donor.id}: unknown: the re-solve with {s.probe:,} {cur} more was not proven optimal within "
                "its limits (raise --node-limit or --time-limit)"
            )
            return {**base, "found": False, "exact": False, "tried_up_to": None, "text": text}
        demand = sum(r.amount for r in scenario.requests)
        if s.stopped == "exhausted" and scenario.convert(s.lo, s.donor.currency) >= demand:
            # the search's last step is no figure to read: more than everything requested did not do it
            text = f"no extra budget from {s.donor.id} funds it in full, however large ({why})"
        else:
            text = f"no extra budget from {s.donor.id} up to {s.lo:,} {cur} funds it in full ({why})"
        return {**base, "found": False, "exact": False, "tried_up_to": s.lo, "text": text}
    exact = s.hi - s.lo <= 1
    doc = {
        **base,
        "found": True,
        "exact": exact,
        "extra": s.hi,
        "at_least": s.hi if exact else s.lo + 1,
        "extra_in_scenario_currency": scenario.convert(s.hi, s.donor.currency),
        "coverage_after": s.coverage_at_hi,
        "solve_funds": None if s.solve_funded is None else s.solve_funded[0] >= s.solve_funded[1],
        "solve_funded": None if s.solve_funded is None else s.solve_funded[0],
        "others_less": s.others_less,
    }
    if exact:
        text = f"{s.hi:,} {cur} more from {s.donor.id} funds it in full ({s.hi - 1:,} does not)"
    else:
        why = (
            "time for what-ifs ran out"
            if s.stopped == "time"
            else "a re-solve was not proven optimal within its limits"
        )
        text = (
            f"{s.hi:,} {cur} more from {s.donor.id} funds it in full, {s.lo:,} does not: the smallest extra is "
            f"between {s.lo + 1:,} and {s.hi:,} ({why} after {s.solves} re-solves)"
        )
    doc["text"] = text + _as_solved_text(s, scenario.currency)
    return doc


def _as_solved_text(s: _Search, cur: str) -> str:
    """What `solve` does with the extra, and who gets less, after the figure."""
    if s.solve_funded is None:
        text = "; not checked with `solve` (the time for what-ifs ran out, or its money stages were not proven)"
    elif s.solve_funded[0] < s.solve_funded[1]:
        got = "nothing" if s.solve_funded[0] == 0 else f"{s.solve_funded[0]:,} of {s.solve_funded[1]:,} {cur}"
        text = (
            f"; but `solve` gives it {got}, the money going to requests as good (an equal choice): mark it "
            "must_fund: true to fund it in full at no cost in coverage"
        )
    else:
        text = ""
    if s.others_less:
        shown = ", ".join(f"{o['request']} {o['before']:,} -> {o['after']:,}" for o in s.others_less[:3])
        more = f" and {len(s.others_less) - 3} more" if len(s.others_less) > 3 else ""
        text += f"; then less for {shown}{more}"
    return text


def _to_donor_currency(scenario: Scenario, donor: Donor):
    """Scenario-currency amount -> at least that much in the donor's currency (rounded up)."""
    if donor.currency is None or donor.currency == scenario.currency:
        return lambda amount: max(1, amount)
    rate = scenario.fx[donor.currency]
    return lambda amount: max(1, math.ceil(amount / rate))

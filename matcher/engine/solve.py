"""solve(scenario, params) -> Result: the lexicographic objective, stage by stage.

Methods:
- ``full``: one model per stage with every rule, one binary per eligible pair where a per-grant
  rule or the grants term needs it. Plain and slow at scale; the reference the tests compare to.
- ``decomposed`` (auto for money rounds): the money stages (coverage, volume, cost) on the
  aggregate model (plan.py; aggregate.py: money per donor and class of requests, a relaxation whose
  bound is a true bound); the plan is turned into whole grants (realise.py); on small rounds, a plan whose
  grants cannot follow it is made again on a tighter aggregate (no leftovers below a donor's
  minimum grant: aggregate._crumbs); requests whose grants still cannot follow the plan are
  re-optimised with every rule, the rest fixed (repair.py); a greedy allocation
  that keeps every rule (greedy.py) is taken when it covers more. When the final funding differs
  from the plan, the stages are restated from the allocation and keep only bounds still true. The
  grants stage lowers the number of grants class by class under a work limit (the same answer on
  every run), then, given ``polish_seconds``, searches the full model for fewer. Small rounds the plan could
  not realise exactly get the full model, started from that allocation.
- ``cpsat`` (auto for rounds of in-kind offers only, up to 600 offers): assign.py.
Every result goes through the independent validator in readout.result_of.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import ortools
from ortools.math_opt.python import mathopt

from matcher import __version__
from matcher.domain import Scenario, commitment_conflicts
from matcher.engine.aggregate import Arcs, build_aggregate
from matcher.engine.compile import Problem, compile_problem
from matcher.engine.components import solve_in_parts
from matcher.engine.gapsearch import GapArrays, gap_arrays, search
from matcher.engine.greedy import greedy_allocation
from matcher.engine.model import SENSE, Model, build, term_expression
from matcher.engine.params import SolveParams, highs_parameters, solve_highs, whole_grants
from matcher.engine.plan import Planned, money_plan
from matcher.engine.readout import Solution, allocations, read_solution, result_of, term_value
from matcher.engine.realise import Plan, polish_grants, realise
from matcher.engine.repair import repair
from matcher.engine.stages import (
    INTEGRAL_TERMS,
    LEX_TOLERANCE,
    Stage,
    highs_log,
    keep_earlier_stages,
    keeps_earlier,
    log_stage,
    objective_scale,
    plan_value,
    relative_gap,
    say,
)
from matcher.errors import MatcherError
from matcher.result import Result, StageInfo
from matcher.scenario_io import input_sha256
from matcher.validate import violations


class _Clock:
    def __init__(self, params: SolveParams, n_requests: int = 0) -> None:
        self.params = params
        self.started = time.perf_counter()
        self.n_requests = n_requests
        self.limit = params.time_limit

    def until(self, seconds: float) -> _Clock:
        """The same clock, ending ``seconds`` from now (or at its own end, if sooner)."""
        other = _Clock(self.params, self.n_requests)
        other.started = self.started
        now = time.perf_counter() - self.started
        other.limit = now + seconds if self.limit is None else min(self.limit, now + seconds)
        return other

    def share(self, parts_left: int) -> float | None:
        """Split what is left of the time limit evenly over the parts still to run."""
        if self.limit is None:
            return None
        left = self.limit - (time.perf_counter() - self.started)
        return max(0.05, left / max(1, parts_left))

    def part(self, fraction: float) -> float | None:
        """A fraction of the time left, keeping back time to read out, validate and explain the
        allocation (about 0.6 ms per request, measured; at most 15% of the limit)."""
        if self.limit is None:
            return None
        reserve = min(0.15 * self.limit, 0.5 + 0.0006 * self.n_requests)
        left = self.limit - reserve - (time.perf_counter() - self.started)
        return max(0.05, left * fraction)

    def capped(self, seconds: float, parts_left: int) -> float:
        """At most ``seconds``, and no more than this part's share of the time left."""
        share = self.share(parts_left)
        return seconds if share is None else min(seconds, share)


# The largest amount, in scenario-currency units, that the engine solves reliably. HiGHS works to
# absolute tolerances near 1e-7 in double precision: with amounts of 5e9-1e10 a round came back
# "optimal" at coverage 1 where 16.3 is possible, and the bundled LAC round with every amount times
# 10,000 lost 2% of its coverage, still called optimal (times 3,000 it solved right). Above this, a
# round is refused with a way out rather than answered wrongly (benchmarks/RESULTS.md, session 12).
MAX_SOLVABLE_AMOUNT = 10**9


def solve(scenario: Scenario, params: SolveParams | None = None) -> Result:
    """Optimise the scenario's objective terms in order and return a validated Result."""
    check_scale(scenario)
    params = params or SolveParams()
    if commitment_conflicts(scenario):  # commitments stand in every allocation: none keeps the rules
        started = time.perf_counter()
        info = _solver_info_args(scenario, params, started, "mathopt-highs-decomposed")
        return result_of(compile_problem(scenario), None, "infeasible", [], info, params.explain)
    merged = solve_in_parts(scenario, params, solve)  # independent parts apart, where that is faster
    if merged is not None:
        return merged
    clock = _Clock(params, len(scenario.requests))
    problem = compile_problem(scenario)
    terms: list[str] = list(scenario.policy.objective)
    method = params.method
    if method == "cpsat" or (method == "auto" and len(problem.pair_donor) == 0):
        # pure assignment (in-kind offers only): CP-SAT, see assign.py (imported here: CP-SAT and
        # its pandas import cost 0.2 s of start-up that money rounds never need)
        from matcher.engine.assign import solve_assignment

        assigned = solve_assignment(problem, terms, params, clock.share)
        if assigned is not None:
            best, status, stages = assigned
            info = _solver_info_args(scenario, params, clock.started, "cpsat")
            return result_of(problem, best, status, [_info(st) for st in stages], info, params.explain)
        if method == "cpsat":
            raise MatcherError(
                "method 'cpsat' covers rounds of in-kind offers only (no funds donor can fund a"
                " request); use method 'auto'"
            )
    assignment = None
    if method == "auto":  # no money pairs (in-kind only): nothing to aggregate, the full model is the model
        method = "decomposed" if _decomposable(terms) and len(problem.pair_donor) else "full"
        assignment = gap_arrays(problem, terms) if method == "full" else None
    if assignment is not None:
        outcome, engine = _assignment_round(problem, assignment, terms, params, clock), "mathopt-highs-full"
    else:
        outcome, engine = _money_round(problem, terms, method, params, clock)
    best, status, stages = outcome
    infos = [_info(st) for st in stages]
    info = _solver_info_args(scenario, params, clock.started, engine)
    return result_of(problem, best, status, infos, info, params.explain)


def check_scale(s: Scenario) -> None:
    """MatcherError naming the first amount above MAX_SOLVABLE_AMOUNT in the scenario currency."""
    demand = sum(r.amount for r in s.requests)  # a budget beyond every request together never binds
    places = [(f"donors[{d.id}].budget", min(demand, s.budget_in_currency(d))) for d in s.donors if d.budget]
    places += [
        (f"donors[{d.id}].{key}", min(demand, v))
        for d in s.donors  # scenario currency, as compile reads them
        for key, v in (("min_grant", d.min_grant), ("max_grant", d.max_grant))
        if v is not None
    ]
    if s.donors and any(d.budget_range for d in s.donors):  # a sweep may draw up to the top of a range
        places += [
            (f"donors[{d.id}].budget_range", min(demand, s.convert(d.budget_range[1], d.currency)))
            for d in s.donors
            if d.budget_range
        ]
    places += [(f"requests[{r.id}].amount", r.amount) for r in s.requests]
    places += [(f"commitments[{c.donor}->{c.request}].amount", c.amount) for c in s.commitments]
    places += [
        (f"offers[{o.donor}->{o.request}].{key}", v)
        for o in s.offers
        for key, v in (("value", o.value), ("cost", o.cost))
    ]
    for place, amount in places:
        if amount > MAX_SOLVABLE_AMOUNT:
            raise MatcherError(
                f"{place}: {amount:,} {s.currency} is above {MAX_SOLVABLE_AMOUNT:,}, the largest amount the solver "
                f"handles reliably in whole units; state the round in a currency of larger units"
                + ("" if s.currency in ("USD", "EUR") else " (e.g. USD, with fx rates for the donors' own currencies)")
            )


def _money_round(problem: Problem, terms: list[str], method: str, params: SolveParams, clock: _Clock):
    """Every round that is not a plain assignment: the decomposed path, the full model where that is
    needed or asked for. Returns the outcome and the engine's name."""
    engine = "mathopt-highs-decomposed"
    outcome = _decomposed(problem, terms, params, clock) if method == "decomposed" else None
    if isinstance(outcome, _Unrealised) and len(problem.pair_donor) > SMALL_PAIRS:
        # too big for the full model in the time left: say so, with the money stages' true bounds
        for st in outcome.stages:  # no allocation reaches the plan's values: only the bounds stand
            st.value, st.status = float("nan"), "unknown"
        outcome = (None, "unknown", outcome.stages)
    if outcome is None or isinstance(outcome, _Unrealised):
        outcome = _full(problem, terms, params, clock)
        engine = "mathopt-highs-full"
    elif _unproven(outcome) and len(problem.pair_donor) <= SMALL_PAIRS:
        # a small round whose grants could not follow the plan exactly: the full model, started
        # from our allocation, proves or improves it within the time left
        full = _full(problem, terms, params, clock, start=outcome[0])
        if _first_stage_better(full, outcome):
            outcome, engine = full, "mathopt-highs-full"
    return outcome, engine


def _time_for_crumbs(params: SolveParams, clock: _Clock) -> bool:
    """Whether there is time to plan again on the tighter model (always under a work limit)."""
    left = clock.part(1.0)
    return params.node_limit is not None or left is None or left >= 1.0


@dataclass
class _Unrealised:
    """The money stages ran, but no whole grants were found for their plan."""

    stages: list


# The grants stage's work per solve without --node-limit: on 6 rounds (the bundled three, generated
# 200 x 15 seeds 1-3, 500 x 30) as few grants as 200 nodes give, in half the time (RESULTS.md).
GRANTS_NODE_LIMIT = 50


def _grants_work(params: SolveParams) -> SolveParams:
    """The grants stage's own solves (the class-by-class re-split and its bound) run under a work
    limit, never wall time: the caller's ``node_limit``, or GRANTS_NODE_LIMIT. So the default
    answer is the same on every run and machine (what ``matcher replay`` relies on) unless the
    time limit itself stops the solve."""
    return params if params.node_limit is not None else dataclasses.replace(params, node_limit=GRANTS_NODE_LIMIT)


def _effort(params: SolveParams, part: float | None, polish: _Polish, fraction: float) -> float | None:
    """Seconds for the full-model search for fewer grants (``--polish``): this fraction of what is
    left of ``polish_seconds``, within this part of the time left; under a work limit only the time
    left, so that nodes, not the machine's speed, decide."""
    if params.node_limit is not None:
        return part
    mine = max(0.05, fraction * polish.left())
    return mine if part is None else min(mine, part)


class _Polish:
    """The wall-clock budget of the full-model search for fewer grants: ``polish_seconds`` from its start."""

    def __init__(self, params: SolveParams):
        self.until = time.perf_counter() + params.polish_seconds

    def left(self) -> float:
        return max(0.0, self.until - time.perf_counter())


def _unproven(outcome) -> bool:
    best, _status, stages = outcome
    return best is not None and any(st.term != "grants" and st.status != "optimal" for st in stages)


def _first_stage_better(new, old) -> bool:
    """True when ``new`` reached at least as good a first stage, or proved it."""
    if new[0] is None or not new[2]:
        return False
    a, b = new[2][0], old[2][0]
    if a.status == "optimal":
        return True
    return a.value > b.value if SENSE[a.term] == "max" else a.value < b.value


# A generalized-assignment round (gapsearch.py). HiGHS alone first gets QUICK_SHARE of the time
# limit: that proves the easy rounds (Chu & Beasley types A to C on 100 items: 0.1-2 s) and leaves
# the others within a few tenths of a percent, except the hardest (type D: 1-2%). Only when its gap
# is still above SEARCH_GAP does the search run, for up to SEARCH_SHARE of the time left (it finds in
# 5-25 s what HiGHS does not find in 60 s); HiGHS then starts again from the better allocation
# (benchmarks/RESULTS.md). The search stops at once when the pace of its first pricing rounds says
# its column generation cannot converge in its time.
QUICK_SHARE = 0.1
SEARCH_GAP = 0.005
SEARCH_SHARE = 0.4


def _assignment_round(problem: Problem, g: GapArrays, terms: list[str], params: SolveParams, clock: _Clock):
    """HiGHS briefly; when that leaves a wide gap, the search's assignment (validated); then HiGHS
    again from the better of the two with the time left."""
    exact = params.node_limit is not None
    quick = None
    if clock.limit is not None and not exact:  # under a work limit nothing is cut by time: runs repeat
        quick = _full(problem, terms, params, clock.until(QUICK_SHARE * clock.limit))
        best, status, stages = quick
        if status in ("optimal", "infeasible"):
            return quick
        narrow = best is not None and all(relative_gap(st.value, st.bound) <= SEARCH_GAP for st in stages)
        if narrow:  # close already: HiGHS again with the time left, from scratch (a start slowed c20200's proof)
            return _full(problem, terms, params, clock)
    t0 = time.perf_counter()
    # under a work limit the search stops on counts, with the time limit only as a safety net
    found = search(problem, g, params.seed, clock.part(1.0 if exact else SEARCH_SHARE), exact)
    if found is not None and violations(problem.scenario, allocations(problem, found)):
        found = None  # never seen; HiGHS then starts from its own allocation
    if found is not None:
        say(
            params,
            f"assignment search: cost {term_value(problem, found, 'cost'):,.0f} in {time.perf_counter() - t0:.1f} s "
            "(column-generation dives, tabu search)",
        )
    start = quick[0] if quick is not None else None
    if found is not None and (start is None or _better(problem, found, start, "cost")):
        start = found
    return _full(problem, terms, params, clock, start=start)


def _better(problem: Problem, new: Solution, old: Solution, term: str) -> bool:
    a, b = term_value(problem, new, term), term_value(problem, old, term)
    return a > b if SENSE[term] == "max" else a < b


def _decomposable(terms: list[str]) -> bool:
    """The grants term, when present, must come last: earlier stages then never count grants."""
    return "grants" not in terms or terms[-1] == "grants"


def _full(problem: Problem, terms: list[str], params: SolveParams, clock: _Clock, start: Solution | None = None):
    stages: list[Stage] = []
    best: Solution | None = start
    status = "optimal"
    for n, term in enumerate(terms):
        model = build(problem, grants_counted="grants" in terms[: n + 1])
        keep_earlier_stages(problem, model, stages)
        # the grants stage under a work limit here too (unless --polish asks for wall time): the same answer
        # on every run, as on the decomposed path
        stage_params = _grants_work(params) if term == "grants" and not params.polish_seconds else params
        outcome = _solve_stage(problem, model, term, stage_params, clock.share(len(terms) - n), best)
        if outcome is None:  # proven infeasible; only the first stage can be, later ones start feasible
            status = "infeasible" if best is None else "feasible"
            break
        stage, solution = outcome
        if solution is None and best is not None:  # no better allocation found: keep the last one
            stage.value = term_value(problem, best, term)
            stage.status = "feasible"
        elif solution is not None and best is not None and not _better(problem, solution, best, term):
            solution = None  # the solver returned no better allocation than its start: keep the start
            stage.value = term_value(problem, best, term)
        best = solution or best
        if best is None:
            status = "unknown"
            break
        stages.append(stage)
        if stage.status != "optimal":
            status = "feasible"
    return best, status, stages


def _decomposed(problem: Problem, terms: list[str], params: SolveParams, clock: _Clock):
    """Money stages on the aggregate model, then whole grants; None when the plan is not realisable."""
    money_terms = [t for t in terms if t != "grants"]
    if not money_terms:  # objective [grants] alone: nothing to aggregate
        return None
    first = _first_allocation(problem, params, clock)
    arcs = Arcs.of(problem)
    planned = money_plan(problem, arcs, money_terms, params, clock, first, crumbs=False)
    if not isinstance(planned, Planned):
        return planned
    stages, plan, status = planned.stages, planned.plan, planned.status
    t0 = time.perf_counter()
    realised = realise(problem, plan, params, lambda: clock.part(0.3))
    broken = realised[1] if realised is not None else []
    if broken and len(problem.pair_donor) <= SMALL_PAIRS and _time_for_crumbs(params, clock):
        # grants cannot follow the plan: on a small round, plan again on the tighter model
        # (aggregate._crumbs), whose plans no longer lean on leftovers below a donor's minimum grant
        # and whose bounds are truer. It took 200 draws of a sweep of a 200 x 15 round from 112 s
        # to 53 s (the repair, then the full model, had taken 2-12 s on 5% of the draws); on
        # larger rounds the repair of the few requests left does better (M: gap 7.8e-5 against 1.0e-4)
        say(params, f"{len(broken)} requests cannot follow the plan: planning again without leftovers")
        tighter = money_plan(problem, arcs, money_terms, params, clock, first, crumbs=True)
        ok = isinstance(tighter, Planned) and len(tighter.stages) == len(stages)
        again = realise(problem, tighter.plan, params, lambda: clock.part(0.3)) if ok else None
        if again is not None:
            stages, plan, status, realised = tighter.stages, tighter.plan, tighter.status, again
    made = _grants_of(problem, plan, realised, terms, stages, params, clock)
    fallback = _better_first(problem, made, first, terms)
    if fallback is not None:
        say(params, "a greedy allocation that keeps every rule does better than the plan's grants: taking it")
        made = fallback
    if made is None:
        say(params, "no whole grants found for the plan within the limits")
        return _Unrealised(stages)
    best = made
    if best.funded != plan.funded:
        _restate(problem, arcs, best, stages, params, clock)
        if any(st.status != "optimal" for st in stages):
            status = "feasible"
    if "grants" not in terms:
        return best, status, stages
    grants = best.x
    work = _grants_work(params)
    left = clock.part(1.0)
    worth_it = params.node_limit is not None or left is None or left >= 3.0  # a work limit: never skip by time
    if worth_it:  # the bound first: it does not depend on the grants, and a late re-split may use up the time
        say(params, "bounding the grants")
        lower = _grants_lower_bound(problem, arcs, stages, work, clock)
    else:
        lower = 0.0  # no time to bound it better: 0 is a true (if weak) bound
    if len(grants) + len(best.delivered) > lower + 0.5:
        say(params, "fewer grants: re-splitting classes")
        polish_grants(problem, Plan(best.funded, best.delivered), grants, work, lambda: clock.part(0.5))
    value = float(len(grants) + len(best.delivered))
    proven = value <= lower + 0.5
    stage = Stage("grants", value, value if proven else lower, "optimal" if proven else "feasible", 0.0)
    pairs = len(problem.pair_donor)
    if not proven and params.polish_seconds > 0 and pairs <= SMALL_PAIRS:
        best, stage = _exact_grants(problem, stages, params, clock, best, stage, _Polish(params))
    elif not proven and pairs <= TINY_PAIRS:  # the full model proves it in milliseconds to half a second
        tiny = params if params.node_limit is not None else dataclasses.replace(params, node_limit=TINY_NODE_LIMIT)
        best, stage = _exact_grants(problem, stages, tiny, clock, best, stage, _Polish(params))
    elif not proven and pairs <= RELAXED_PAIRS:
        best, stage = _relaxed_grants(problem, stages, params, clock, best, stage)
        if stage.status != "optimal" and pairs <= FALLBACK_PAIRS:
            best, stage = _whole_money_search(problem, stages, params, clock, best, stage)
    stage.seconds = time.perf_counter() - t0
    stages.append(stage)
    log_stage(params, stage)
    if stage.status != "optimal":
        status = "feasible"
    return best, status, stages


def _grants_of(problem: Problem, plan: Plan, made, terms, stages, params, clock: _Clock) -> Solution | None:
    """Whole grants for the plan from ``made`` (realise's grants and trouble); requests whose grants
    cannot follow the plan are re-optimised with every rule (the rest held fixed), first alone,
    then, when that loses value against the plan, with the requests that share their donors (the
    better of the two is kept)."""
    if made is None:
        return None
    grants, trouble = made
    if not trouble:
        return Solution(grants, plan.delivered, plan.funded)
    free = set(trouble)
    best: Solution | None = None
    for widen in (False, True):
        left = clock.part(1.0)
        if params.node_limit is None and left is not None and left < max(1.0, REPAIR_SECONDS_PER_REQUEST * len(free)):
            say(params, f"no time left to re-optimise {len(free)} requests whose grants cannot follow the plan")
            break
        if widen:
            free |= _near(problem, grants, free)
        fixed = {k: v for k, v in grants.items() if int(problem.pair_request[k]) not in free}
        say(params, f"re-optimising {len(free)} requests whose grants cannot follow the plan")
        t0 = time.perf_counter()
        bounds = {st.term: st.bound for st in stages[:1]}
        out = repair(problem, plan.funded, plan.delivered, fixed, free, terms, params, lambda: clock.part(0.8), bounds)
        say(params, f"re-optimised in {time.perf_counter() - t0:.1f} s: {'done' if out else 'no completion'}")
        if out is not None:
            x, funded = out
            made_now = Solution({**fixed, **x}, plan.delivered, funded)
            if best is None or _ahead(problem, made_now, best, stages[0].term):
                best = made_now
            if not _ahead(problem, plan, best, stages[0].term):
                break  # as good as the plan: nothing to win by widening
    return best


def _ahead(problem: Problem, a, b, term: str) -> bool:
    """True when ``a`` is better than ``b`` on the term by more than the lexicographic tolerance."""
    va, vb = plan_value(problem, a, term), plan_value(problem, b, term)
    margin = LEX_TOLERANCE * max(1.0, abs(vb))
    return va > vb + margin if SENSE[term] == "max" else va < vb - margin


def _near(problem: Problem, grants: dict[int, int], free: set[int]) -> set[int]:
    """Requests that get money from the donors of the ``free`` requests, largest grants first
    (NEAR_PER_REQUEST per free request, at least NEAR_MIN, at most WIDEN): what a repair can take
    money from."""
    donors = {int(i) for j in free for i in problem.pair_donor[problem.request_pairs(j)]}
    ranked = sorted(
        ((v, k) for k, v in grants.items() if int(problem.pair_donor[k]) in donors), key=lambda t: (-t[0], t[1])
    )
    limit = min(WIDEN, max(NEAR_MIN, NEAR_PER_REQUEST * len(free)))
    near: set[int] = set()
    for _v, k in ranked:
        j = int(problem.pair_request[k])
        if j not in free:
            near.add(j)
            if len(near) >= limit:
                break
    return near


def _first_allocation(problem: Problem, params: SolveParams, clock: _Clock) -> Solution | None:
    """The greedy allocation (greedy.py) when the validator passes it: an allocation in hand within
    seconds on any size of round, shown with --progress, the first stage's start (kept, not handed
    to HiGHS, on a coverage stage: plan.money_plan) and the fallback when it covers more."""
    candidate = greedy_allocation(problem)
    if candidate is None or violations(problem.scenario, allocations(problem, candidate)):
        return None
    say(
        params,
        f"first allocation (greedy, every rule kept) at {time.perf_counter() - clock.started:.1f} s: coverage "
        f"{plan_value(problem, candidate, 'coverage'):.6g}, money placed {sum(candidate.funded):,}",
    )
    return candidate


def _better_first(problem: Problem, made: Solution | None, first: Solution | None, terms: list[str]) -> Solution | None:
    """The first (greedy) allocation, when there is one and it is better than ``made`` on the money
    terms in the objective's order (the first term that differs by more than the lexicographic
    tolerance decides: with [volume, coverage] money placed, not coverage)."""
    if first is None:
        return None
    if made is None:
        return first
    for term in (t for t in terms if t != "grants"):
        a, b = plan_value(problem, made, term), plan_value(problem, first, term)
        # money terms are whole units and kept exactly (stages.keep_earlier_stages): one unit decides
        tolerance = 0.5 if term in INTEGRAL_TERMS else LEX_TOLERANCE * max(1.0, abs(a))
        if abs(a - b) > tolerance:
            return first if (b > a if SENSE[term] == "max" else b < a) else None
    return None


# Building the repair model alone takes about this long per request to re-optimise (measured on L:
# 2,376 requests, 8 s with HiGHS); with less time left the repair would run past the time limit.
REPAIR_SECONDS_PER_REQUEST = 0.003
WIDEN = 600  # requests added around the trouble when re-optimising them alone is not enough
NEAR_PER_REQUEST, NEAR_MIN = 8, 40


def _restate(problem: Problem, arcs: Arcs, best: Solution, stages: list[Stage], params, clock: _Clock) -> None:
    """The repair changed the funding: restate each money stage's value from the allocation.

    A stage is proven when its value is within ``--gap`` of its bound (the README's meaning of
    optimal). Its bound stands only while every earlier stage kept its value; once one did not,
    a later stage's feasible set is larger and the old bound is no bound: it is bounded again on the
    aggregate model with the earlier stages held at the allocation's values (one small solve), or
    given the trivial bound when that solve fails or the time is short."""
    kept = True
    for n, st in enumerate(stages):
        value = plan_value(problem, best, st.term)
        same = abs(value - st.value) <= LEX_TOLERANCE * max(1.0, abs(st.value))
        if not kept:
            st.bound = _rebound(problem, arcs, best, stages[:n], st.term, params, clock)
        proven = st.status == "optimal" if same and kept else _within_gap(value, st.bound, params)
        st.value = value
        st.status = "optimal" if proven else "feasible"
        kept = kept and same
        log_stage(params, st)


def _within_gap(value: float, bound: float, params: SolveParams) -> bool:
    """True when ``value`` is proven within the relative gap asked for (and the lexicographic
    tolerance) of ``bound``."""
    return relative_gap(value, bound) <= max(LEX_TOLERANCE, params.relative_gap)


REBOUND_NODE_LIMIT = 500  # the rebound's work without --node-limit (it had a 2 s cap: bound and status then
# depended on the machine's speed)


def _rebound(problem: Problem, arcs: Arcs, best: Solution, earlier: list[Stage], term: str, params, clock) -> float:
    """A true bound on ``term`` among allocations that keep the earlier stages at ``best``'s values:
    the aggregate model's (a relaxation), with those stages kept; the trivial bound without one."""
    seconds = clock.part(0.1)
    if params.node_limit is None:
        if seconds is not None and seconds < 0.2:
            return _trivial_bound(problem, term)
        # a bound, not an allocation: HiGHS's bound when it stops is still true (M at 60 s: 4.7 s for the
        # volume bound uncapped, 3.3 s with a 2 s cap); a work limit, so that it is the same on any machine
        params = dataclasses.replace(params, node_limit=REBOUND_NODE_LIMIT)
    model = build_aggregate(problem, arcs, crumbs=len(problem.pair_donor) <= SMALL_PAIRS)  # tighter, where cheap
    keep_earlier_stages(problem, model, [Stage(st.term, st.value, st.bound, st.status, 0.0) for st in earlier])
    expr = term_expression(problem, model, term)
    model.mo.maximize(expr) if SENSE[term] == "max" else model.mo.minimize(expr)
    try:
        result = solve_highs(model.mo, highs_parameters(params, seconds, 1e-9))
    except MatcherError:
        return _trivial_bound(problem, term)
    bound = float(result.termination.objective_bounds.dual_bound)
    if not -1e30 < bound < 1e30:
        return _trivial_bound(problem, term)
    value = plan_value(problem, best, term)  # best keeps the earlier stages: it is in the bounded set
    return max(bound, value) if SENSE[term] == "max" else min(bound, value)


def _trivial_bound(problem: Problem, term: str) -> float:
    s = problem.scenario
    if term == "volume":
        money = sum(problem.budgets) + sum(s.offers[k].value for k in problem.offers)
        return float(min(money, sum(r.amount for r in s.requests)))
    if term == "coverage":
        return float(sum(problem.weights))
    return 0.0


SMALL_PAIRS = 2000  # below this many pairs the full grants model is cheap enough to try to prove the stage
TINY_PAIRS = 40  # and below this many, cheap enough to do so by default, under a work limit (TINY_NODE_LIMIT)
# nodes of that search by default: 50 (GRANTS_NODE_LIMIT) left a 4 x 5 round at 8 grants where 7 keep
# every rule (found by a brute-force check of 1,200 such rounds); 200 found and proved the 7
TINY_NODE_LIMIT = 1000


# Rounds of up to this many pairs get, by default, the search for fewer grants on the full model with
# money continuous (_relaxed_grants), under RELAXED_NODE_LIMIT nodes. On the bundled rounds (80 and 84
# pairs) it proves LAC's 21 grants and finds and proves Sahel's 32 (the re-split's 33) in about a
# second each; the whole-money model took 5-6 s for LAC's proof (HiGHS's bookkeeping for integers
# with domains in the millions), and 11 s for Sahel's. benchmarks/RESULTS.md, session 13. Session 14: at
# 100 pairs, rounds of 106-158 pairs kept 38, 21 and 29 grants where 24, 17 and 27 were found
# in 0.4-2.3 s with 250; rounds above 250 pairs gain little within the node limit (RESULTS.md).
RELAXED_PAIRS = 250
RELAXED_NODE_LIMIT = 1000
# Up to this many pairs, grants the search with money continuous left open get the full model too (a
# few seconds at most: a review's round of 46 pairs went from 16 grants to a proven 14 in 1.7 s).
FALLBACK_PAIRS = 100


def _relaxed_grants(problem: Problem, stages: list[Stage], params, clock, best: Solution, stage: Stage):
    """The fewest grants on the full model with grants and fundings continuous and only the on/off
    binaries whole: a relaxation, so its bound is a true bound on the grants; a grant pattern it finds
    with fewer grants is then made whole on the full model restricted to that pattern, and taken
    only when it keeps every rule and the earlier stages. Under a work limit (``--node-limit`` or
    RELAXED_NODE_LIMIT): the same answer on every run."""
    work = params if params.node_limit is not None else dataclasses.replace(params, node_limit=RELAXED_NODE_LIMIT)
    model = build(problem, grants_counted=True, whole_money=False)
    keep_earlier_stages(problem, model, stages)
    model.mo.minimize(term_expression(problem, model, "grants"))
    say(params, "fewer grants: the full model with money continuous")
    try:
        result = solve_highs(
            model.mo,
            highs_parameters(work, clock.part(0.5), 1e-9, started=True),
            _hints(model, best),
            highs_log(params, "grants"),
        )
    except MatcherError:  # HiGHS failed inside it: the re-split's grants stand, as the grants bound's solve does
        say(params, "fewer grants: HiGHS failed on the full model with money continuous; the re-split's grants stand")
        return best, stage
    bound = float(result.termination.objective_bounds.dual_bound)
    if math.isfinite(bound):
        stage.bound = max(stage.bound, float(math.ceil(bound - 1e-6)))
    if result.has_primal_feasible_solution() and result.objective_value() < stage.value - 0.5:
        pattern = {k for k, v in zip(model.z, result.variable_values(list(model.z.values()))) if v > 0.5}
        offers = {k for k, v in zip(model.u, result.variable_values(list(model.u.values()))) if v > 0.5}
        made = _grants_in_pattern(problem, stages, work, clock, best, pattern, offers)
        if made is not None and len(made.x) + len(made.delivered) < stage.value - 0.5:
            best, stage.value = made, float(len(made.x) + len(made.delivered))
    if stage.value <= stage.bound + 0.5:
        stage.bound, stage.status = stage.value, "optimal"
    return best, stage


def _whole_money_search(problem: Problem, stages: list[Stage], params, clock, best: Solution, stage: Stage):
    """When the search with money continuous leaves the grants open (its fewest-grant pattern may have no
    whole-unit allocation that keeps the earlier stages: a round of 46 pairs whose 14-grant pattern did
    not, where another 14 exists), the full model itself under the tiny rounds' work limit; its answer is
    taken only with fewer grants (an equal count would move money for nothing), its bound always."""
    work = params if params.node_limit is not None else dataclasses.replace(params, node_limit=TINY_NODE_LIMIT)
    found, after = _exact_grants(problem, stages, work, clock, best, dataclasses.replace(stage), _Polish(params))
    if after.value < stage.value - 0.5:
        return found, after
    stage.bound = max(stage.bound, after.bound)
    if stage.value <= stage.bound + 0.5:
        stage.bound, stage.status = stage.value, "optimal"
    return best, stage


def _grants_in_pattern(problem, stages, params, clock, best: Solution, pattern: set[int], offers: set[int]):
    """Whole grants on the given pairs and offers only (the rest held at zero), keeping every rule and
    the earlier stages; None when there are none within the work limit."""
    model = build(problem, grants_counted=True)
    keep_earlier_stages(problem, model, stages)
    for k, z in model.z.items():
        if k not in pattern:
            z.upper_bound = 0
    for k, u in model.u.items():
        if k not in offers:
            u.upper_bound = 0
    try:
        outcome = _solve_stage(problem, model, "grants", params, clock.part(0.5), None)
    except MatcherError:  # HiGHS failed inside it: no whole grants for this pattern
        return None
    if outcome is None:
        return None
    full_stage, solution = outcome
    if solution is None:
        return None
    return solution if _holds(problem, stages, full_stage, solution) else None


def _holds(problem: Problem, stages: list[Stage], full_stage: Stage, solution: Solution) -> bool:
    """Whether a full-model grants solution, read in whole units, keeps the earlier stages and counts the
    grants its objective says: HiGHS meets a keep row, or a grant's on/off binary, only within its tolerance."""
    counted = len(solution.x) + len(solution.delivered)
    return keeps_earlier(problem, solution, stages) and abs(counted - full_stage.value) <= 0.5


def _exact_grants(problem: Problem, stages: list[Stage], params, clock, best: Solution, stage: Stage, budget):
    """On small rounds, given ``polish_seconds``, search the full model for fewer grants and a proof,
    starting from our grants: for those seconds of wall time (so the answer may differ from run to
    run), or under a work limit, within the nodes."""
    model = build(problem, grants_counted=True)
    keep_earlier_stages(problem, model, stages)
    outcome = _solve_stage(problem, model, "grants", params, _effort(params, clock.part(0.9), budget, 1.0), best)
    if outcome is None:
        return best, stage
    full_stage, solution = outcome
    if solution is None:
        return best, stage
    if not _holds(problem, stages, full_stage, solution):
        say(params, "the full model's grants break a row within HiGHS's tolerance: keeping the re-split's")
        return best, stage
    if full_stage.value <= stage.value:
        full_stage.bound = max(full_stage.bound, stage.bound)
        return solution, full_stage
    stage.bound = max(stage.bound, full_stage.bound)
    return best, stage


def _grants_lower_bound(problem: Problem, arcs, stages: list[Stage], params, clock) -> float:
    """A true lower bound on the grants stage: every funded request needs at least one grant or
    delivery, so the fewest funded requests among plans that keep the earlier stages bound it."""
    model = build_aggregate(problem, arcs)
    keep_earlier_stages(problem, model, stages)
    model.mo.minimize(mathopt.fast_sum(model.y))
    try:
        result = solve_highs(model.mo, highs_parameters(params, clock.part(0.5), 1e-9))
    except MatcherError:
        # HiGHS failed inside this bound's solve (an internal error, seen on a 2 x 2 round found by
        # tests/test_properties.py): the allocation stands, with the trivial bound
        say(params, "bounding the grants: HiGHS failed; the grants bound stays 0")
        return 0.0
    bound = result.termination.objective_bounds.dual_bound
    return float(bound) if -1e30 < bound < 1e30 else 0.0  # only a finite bound is a bound


def _solve_stage(
    problem: Problem, model: Model, term: str, params: SolveParams, seconds: float | None, hint: Solution | None
) -> tuple[Stage, Solution | None] | None:
    """Solve one stage of the full model; None when the stage is proven infeasible."""
    scale = objective_scale(problem, term)  # as the money plan's stages: coverage's coefficients scaled to 1
    expr = scale * term_expression(problem, model, term)
    model.mo.maximize(expr) if SENSE[term] == "max" else model.mo.minimize(expr)
    t0 = time.perf_counter()
    largest = float(problem.pair_cap.max()) if len(problem.pair_cap) else 0.0
    result = solve_highs(
        model.mo,
        whole_grants(highs_parameters(params, seconds, 1e-9 * scale), largest),
        _hints(model, hint),
        highs_log(params, term),
    )
    seconds_used = time.perf_counter() - t0
    reason = result.termination.reason
    if reason in (mathopt.TerminationReason.INFEASIBLE, mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED):
        return None
    if not result.has_primal_feasible_solution():
        return Stage(term, float("nan"), float("nan"), "unknown", seconds_used), None
    solution = read_solution(problem, model, result)
    value = float(result.objective_value()) / scale
    bound = float(result.termination.objective_bounds.dual_bound) / scale
    optimal = reason == mathopt.TerminationReason.OPTIMAL
    return Stage(term, value, bound, "optimal" if optimal else "feasible", seconds_used), solution


def _hints(model: Model, hint: Solution | None) -> mathopt.ModelSolveParameters | None:
    """Start from the previous stage's allocation: it is feasible for this stage too."""
    if hint is None:
        return None
    values = {}
    for k, var in model.x.items():
        values[var] = hint.x.get(k, 0)
    for k, var in model.z.items():
        values[var] = 1 if hint.x.get(k, 0) > 0 else 0
    for j, var in enumerate(model.y):
        values[var] = 1 if hint.funded[j] > 0 else 0
    for k, var in model.u.items():
        values[var] = 1 if k in hint.delivered else 0
    return mathopt.ModelSolveParameters(solution_hints=[mathopt.SolutionHint(variable_values=values)])


def _info(st: Stage) -> StageInfo:
    bound = reported_bound(st)
    return StageInfo(
        term=st.term,
        sense=SENSE[st.term],  # type: ignore[arg-type]
        value=st.value,
        bound=bound,
        gap=relative_gap(st.value, bound),
        status=st.status,
        seconds=round(st.seconds, 3),
    )


def reported_bound(st: Stage) -> float:
    """The stage's bound, never on the wrong side of its value: the allocation reaching the value keeps every
    earlier stage (the validator checks it), so a true bound is at least as good. HiGHS's own bound can
    miss by its tolerances: a volume stage of 1 unit came back bounded by 0.9999991 when a whole f of
    0.9999991 (integral within 1e-6) was rounded to 1, a "bound" below the money the allocation placed."""
    if not (math.isfinite(st.value) and math.isfinite(st.bound)):
        return st.bound
    return max(st.bound, st.value) if SENSE[st.term] == "max" else min(st.bound, st.value)


def _solver_info_args(scenario: Scenario, params: SolveParams, started: float, engine: str) -> dict:
    return {
        "engine": engine,
        "ortools": ortools.__version__,
        "matcher": __version__,
        "seed": params.seed,
        "threads": params.threads,
        "time_limit": params.time_limit,
        "node_limit": params.node_limit,
        "started": started,
        "input_sha256": input_sha256(scenario),
    }

"""Pure-assignment rounds (in-kind offers only) on CP-SAT.

When no funds donor can fund any request, every variable is a 0/1 "offer delivered": a generalized
assignment problem with side rules, where CP-SAT's clause learning and its LP together beat the MIP path.
``solve_assignment`` returns None for every shape it does not cover; the MathOpt path then runs.

Order as in the OR-Tools samples: data (exact integer objective coefficients), variables, constraints
(one function per rule family), then the lexicographic stages. Every stage's objective is an integer
expression (rational coefficients scaled by their common denominator), so CP-SAT's bound is exact.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from ortools.sat.python import cp_model

from matcher.engine.compile import Problem
from matcher.engine.model import SENSE
from matcher.engine.params import SolveParams
from matcher.engine.readout import Solution
from matcher.engine.stages import LEX_TOLERANCE, Stage

MAX_SCALED = 2**53  # scaled objective magnitudes stay exact in a float and far from int64 overflow
DET_SECONDS_PER_NODE = 1e-3  # node_limit N -> N ms of CP-SAT deterministic time per stage
AUTO_MAX_OFFERS = 600  # method "auto" takes CP-SAT up to this many deliverable offers (measured: RESULTS.md)


@dataclass
class _Term:
    """An objective term as integer coefficients over the model's 0/1 variables, times 1/scale."""

    coefs: list[tuple[cp_model.IntVar, int]]
    scale: int

    def expr(self) -> cp_model.LinearExprT:
        return cp_model.LinearExpr.weighted_sum([v for v, _ in self.coefs], [c for _, c in self.coefs])


@dataclass
class _Model:
    cp: cp_model.CpModel
    u: dict[int, cp_model.IntVar]  # offer index -> delivered
    y: list[cp_model.IntVar]  # request -> funded at all


def covers(p: Problem, forced: bool = False) -> bool:
    """True for the shape this path handles: no funds donor has an eligible pair (so no commitments).

    Unless forced, only up to AUTO_MAX_OFFERS offers: above that HiGHS proved the Chu & Beasley
    instances faster than single-worker CP-SAT (benchmarks/RESULTS.md, "solver path")."""
    return len(p.pair_donor) == 0 and (forced or len(p.offers) <= AUTO_MAX_OFFERS)


def solve_assignment(
    p: Problem, terms: list[str], params: SolveParams, share: Callable[[int], float | None]
) -> tuple[Solution | None, str, list[Stage]] | None:
    """Optimise the terms in order on CP-SAT; None when the shape or the objective is not covered.

    ``share(n)`` gives the seconds this stage may use when n stages are left (None: no limit).
    """
    if not covers(p, forced=params.method == "cpsat"):
        return None
    m = _build(p)
    objective = {t: _term(p, m, t) for t in terms}
    if any(obj is None for obj in objective.values()):
        return None  # a coverage term whose exact scale does not fit: the MIP path reads floats
    best: Solution | None = None
    best_values: dict[int, int] = {}
    status = "optimal"
    stages: dict[str, Stage] = {}
    solved = [t for t in terms if not _fixed(p, t)] or terms[-1:]
    for n, t in enumerate(solved):
        obj = objective[t]
        assert obj is not None
        stage, values, stage_status = _solve_stage(m, t, obj, params, share(len(solved) - n), best_values)
        if stage_status == "infeasible" and best is None:
            return None, "infeasible", []
        if values is None:
            if best is None:
                return None, "unknown", list(stages.values())
            stage.value, stage.status = _scaled(obj, best_values) / obj.scale, "feasible"  # keep the last one
        else:
            best_values = values
            best = _solution(p, m, values)
        stages[t] = stage
        if stage.status != "optimal":
            status = "feasible"
        _keep(m, t, obj, _scaled(obj, best_values))
    for t in terms:  # a fixed term: every allocation gives it the same value, so any allocation is optimal
        if t not in stages:
            obj = objective[t]
            assert obj is not None
            value = _scaled(obj, best_values) / obj.scale
            stages[t] = Stage(t, value, value, "optimal", 0.0)
    return best, status, [stages[t] for t in terms]


def _fixed(p: Problem, term: str) -> bool:
    """When every request must be funded in full (the GAP shape), coverage and volume are the same for
    every allocation: such a stage needs no solve of its own, and no constraint to keep it."""
    return term in ("coverage", "volume") and all(r.must_fund for r in p.scenario.requests)


def _build(p: Problem) -> _Model:
    """Variables and every rule that applies to deliveries (the MathOpt model's rules 3, 4, 6-10)."""
    cp = cp_model.CpModel()
    u = {k: cp.new_bool_var(f"u_{k}") for k in p.offers}
    y = [cp.new_bool_var(f"y_{j}") for j in range(p.n_requests)]
    m = _Model(cp, u, y)
    _request_amounts(p, m)
    _capacities(p, m)
    _partner_projects(p, m)
    _donors_per_request(p, m)
    _prerequisites(p, m)
    _shares(p, m)
    return m


def _offers_to(p: Problem, m: _Model) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(p.n_requests)]
    for k in m.u:
        out[p.request_index[p.scenario.offers[k].request]].append(k)
    return out


def _funding(p: Problem, m: _Model, j: int, offers: list[int]) -> cp_model.LinearExprT:
    """f[r] = Σ_{offers o to r} value[o] u[o]."""
    s = p.scenario
    return cp_model.LinearExpr.weighted_sum([m.u[k] for k in offers], [s.offers[k].value for k in offers])


def _request_amounts(p: Problem, m: _Model) -> None:
    """Rules 3, 4 and must_fund: f = 0 or min_amount <= f <= amount; y marks f > 0.

    When every offer to a request is worth its whole amount (the GAP shape), this is at most one
    delivery (exactly one if must_fund), which CP-SAT propagates far better than the sum."""
    s = p.scenario
    for j, offers in enumerate(_offers_to(p, m)):
        r = s.requests[j]
        us = [m.u[k] for k in offers]
        if r.must_fund:
            m.cp.add(m.y[j] == 1)  # fixed, so presolve drops it: the model stays a plain assignment
        if all(s.offers[k].value == r.amount for k in offers):
            if r.must_fund:
                m.cp.add_exactly_one(us)
            else:
                m.cp.add_at_most_one(us)
                m.cp.add(m.y[j] == sum(us))
            continue
        for uk in us:
            m.cp.add_implication(uk, m.y[j])
        m.cp.add(sum(us) >= m.y[j])
        f = _funding(p, m, j, offers)
        m.cp.add(f <= r.amount * m.y[j])
        m.cp.add(f >= p.min_amount[j] * m.y[j])
        if r.must_fund:
            m.cp.add(f == r.amount)


def _capacities(p: Problem, m: _Model) -> None:
    """In-kind: a donor delivers at most its capacity in units."""
    s = p.scenario
    per_donor: dict[int, list[int]] = defaultdict(list)
    for k in m.u:
        per_donor[p.donor_index[s.offers[k].donor]].append(k)
    for i, offers in per_donor.items():
        units = [s.offers[k].units for k in offers]
        m.cp.add(cp_model.LinearExpr.weighted_sum([m.u[k] for k in offers], units) <= (s.donors[i].capacity or 0))


def _partner_projects(p: Problem, m: _Model) -> None:
    """Rule 6: at most max_projects funded requests per partner."""
    by_partner: dict[str, list] = defaultdict(list)
    for j, r in enumerate(p.scenario.requests):
        if r.partner is not None:
            by_partner[r.partner].append(m.y[j])
    for partner in p.scenario.partners:
        if partner.max_projects is not None and by_partner[partner.id]:
            m.cp.add(sum(by_partner[partner.id]) <= partner.max_projects)


def _donors_per_request(p: Problem, m: _Model) -> None:
    """Rule 7: at most K deliveries per request (each comes from a different donor)."""
    limit = p.scenario.policy.max_donors_per_request
    if limit is None:
        return
    for offers in _offers_to(p, m):
        if len(offers) > limit:
            m.cp.add(sum(m.u[k] for k in offers) <= limit)


def _prerequisites(p: Problem, m: _Model) -> None:
    """Rule 8: a request is funded only when every request it requires is funded."""
    for j, r in enumerate(p.scenario.requests):
        for q in r.prerequisites:
            m.cp.add_implication(m.y[j], m.y[p.request_index[q]])


def _shares(p: Problem, m: _Model) -> None:
    """Rules 9 and 10, exactly as the validator reads them: the shares are the decimals written."""
    s = p.scenario
    offers_to = _offers_to(p, m)
    f = [_funding(p, m, j, offers) for j, offers in enumerate(offers_to)]
    total = sum(f)
    cap = s.policy.max_country_share
    if cap is not None:
        share = Fraction(str(cap))
        by_country: dict[str, list] = defaultdict(list)
        for j, r in enumerate(s.requests):
            by_country[r.country].append(f[j])
        for fs in by_country.values():
            m.cp.add(share.denominator * sum(fs) <= share.numerator * total)
    for g, floor in s.policy.region_floors.items():
        share = Fraction(str(floor))
        inside = [f[j] for j, r in enumerate(s.requests) if g in r.areas]
        m.cp.add(share.denominator * sum(inside) >= share.numerator * total)


def _term(p: Problem, m: _Model, term: str) -> _Term | None:
    """The term as exact integer coefficients and a common scale; None when the scale is too large."""
    s = p.scenario
    exact: list[tuple[cp_model.IntVar, Fraction]] = []
    if term == "coverage":
        # An all-or-nothing request adds w[r] when funded: no division, so no large common denominator.
        whole = [p.min_amount[j] >= r.amount for j, r in enumerate(s.requests)]
        exact += [(m.y[j], Fraction(p.weights[j])) for j in range(p.n_requests) if whole[j]]
        for k, uk in m.u.items():
            o = s.offers[k]
            j = p.request_index[o.request]
            if not whole[j]:
                exact.append((uk, Fraction(p.weights[j]) * o.value / s.requests[j].amount))
    elif term == "volume":
        exact = [(uk, Fraction(s.offers[k].value)) for k, uk in m.u.items()]
    elif term == "grants":
        exact = [(uk, Fraction(1)) for uk in m.u.values()]
    elif term == "cost":
        exact = [(uk, Fraction(s.offers[k].cost)) for k, uk in m.u.items()]
    else:
        raise ValueError(term)
    scale = math.lcm(1, *(c.denominator for _, c in exact))
    coefs = [(v, int(c * scale)) for v, c in exact if c != 0]
    if sum(abs(c) for _, c in coefs) >= MAX_SCALED:
        return None
    return _Term(coefs, scale)


def _solve_stage(
    m: _Model, term: str, obj: _Term, params: SolveParams, seconds: float | None, hint: dict[int, int]
) -> tuple[Stage, dict[int, int] | None, str]:
    """One stage: optimise the term from the last allocation; the variables' values, or None."""
    if SENSE[term] == "max":
        m.cp.maximize(obj.expr())
    else:
        m.cp.minimize(obj.expr())
    m.cp.clear_hints()
    for v in _variables(m) if hint else []:
        m.cp.add_hint(v, hint[v.index])
    solver = cp_model.CpSolver()
    _set_parameters(solver, params, seconds)
    if params.on_log:
        solver.parameters.log_search_progress = True
        solver.parameters.log_to_stdout = False
        solver.log_callback = lambda line: params.on_log(f"[{term}] {line}")
    t0 = time.perf_counter()
    code = solver.solve(m.cp)
    seconds_used = time.perf_counter() - t0
    name = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible"}.get(
        code, "unknown"
    )
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the {term} model: {m.cp.validate()}")
    bound = _true_bound(solver, term, obj) / obj.scale
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Stage(term, float("nan"), bound, name, seconds_used), None, name
    values = {v.index: int(solver.boolean_value(v)) for v in _variables(m)}
    value = _scaled(obj, values) / obj.scale
    return Stage(term, value, bound, name, seconds_used), values, name


def _set_parameters(solver: cp_model.CpSolver, params: SolveParams, seconds: float | None) -> None:
    """Seed, workers and limits. More than one worker interleaves the subsolvers deterministically."""
    sp = solver.parameters
    sp.random_seed = params.seed
    sp.num_workers = max(1, params.threads)
    if sp.num_workers > 1:
        sp.interleave_search = True
    if seconds is not None:
        sp.max_time_in_seconds = max(0.01, seconds)
    if params.node_limit is not None:
        sp.max_deterministic_time = params.node_limit * DET_SECONDS_PER_NODE
    sp.relative_gap_limit = params.relative_gap
    sp.absolute_gap_limit = 0.5  # integer objective: a gap below one unit is a proof
    sp.log_search_progress = False


def _true_bound(solver: cp_model.CpSolver, term: str, obj: _Term) -> float:
    """CP-SAT's proven bound on the scaled term, or the trivial one when it has none."""
    bound = solver.best_objective_bound
    trivial = sum(c for _, c in obj.coefs if c > 0) if SENSE[term] == "max" else sum(c for _, c in obj.coefs if c < 0)
    if not math.isfinite(bound):
        return float(trivial)
    return min(bound, trivial) if SENSE[term] == "max" else max(bound, trivial)


def _scaled(obj: _Term, values: dict[int, int]) -> int:
    """The scaled term at an allocation (values keyed by CP-SAT variable index)."""
    return sum(c * values[v.index] for v, c in obj.coefs)


def _keep(m: _Model, term: str, obj: _Term, reached: int) -> None:
    """Keep the term within a relative 1e-6 of the value its stage reached (as the MathOpt path)."""
    slack = LEX_TOLERANCE * abs(reached)
    if SENSE[term] == "max":
        m.cp.add(obj.expr() >= math.ceil(reached - slack))
    else:
        m.cp.add(obj.expr() <= math.floor(reached + slack))


def _variables(m: _Model) -> list[cp_model.IntVar]:
    return list(m.u.values()) + m.y


def _solution(p: Problem, m: _Model, values: dict[int, int]) -> Solution:
    delivered = {k for k, uk in m.u.items() if values[uk.index]}
    funded = [0] * p.n_requests
    for k in delivered:
        o = p.scenario.offers[k]
        funded[p.request_index[o.request]] += o.value
    return Solution({}, delivered, funded)

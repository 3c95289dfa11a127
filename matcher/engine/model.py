"""The mixed-integer model of one stage, on OR-Tools MathOpt.

Order as in the OR-Tools samples: variables, constraints (one function per rule family), objective
terms. Variables are made only for eligible pairs and deliverable offers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
from ortools.math_opt.python import mathopt

from matcher.engine.compile import Problem
from matcher.engine.rows import add_row_blocks, ids_of

Expr: TypeAlias = mathopt.LinearExpression


@dataclass
class Model:
    """A MathOpt model and handles to its variables, keyed by domain indices."""

    mo: mathopt.Model
    x: dict[int, mathopt.Variable]  # pair index -> whole-unit grant
    y: list[mathopt.Variable]  # request -> funded at all
    z: dict[int, mathopt.Variable]  # pair index -> grant is positive (only where needed)
    u: dict[int, mathopt.Variable]  # offer index -> delivered
    f: list[mathopt.Variable] = field(default_factory=list)  # request -> funding f[r]
    total: mathopt.Variable | None = None  # Σ_r f[r]: keeps the share rules sparse
    w: dict[int, mathopt.Variable] = field(default_factory=dict)  # aggregate arc -> carries money

    @property
    def sum_f(self) -> mathopt.Variable:
        """The total variable, which every builder makes before its rows."""
        if self.total is None:
            raise RuntimeError("the model's total is made before the rows that use it")
        return self.total


def needs_grant_binaries(p: Problem, grants_counted: bool) -> list[bool]:
    """Which pairs need a 0/1 'grant made' variable: min_grant, max donors, or counting grants."""
    s = p.scenario
    per_request_rule = s.policy.max_donors_per_request is not None
    return [grants_counted or per_request_rule or bool(s.donors[i].min_grant) for (i, _j) in p.pairs]


def build(p: Problem, grants_counted: bool, whole_money: bool = True) -> Model:
    """The whole model of rules 1-11 (and the in-kind rules); objectives are set by the caller.
    ``whole_money`` False: grants and fundings continuous (the on/off binaries stay whole), a
    relaxation whose bounds are true bounds (solve._relaxed_grants)."""
    s = p.scenario
    mo = mathopt.Model(name=s.name)
    partial = [p.min_amount[j] < r.amount for j, r in enumerate(s.requests)]
    x = {
        k: mo.add_variable(lb=p.pair_lb[k], ub=p.pair_ub[k], is_integer=whole_money, name=f"x_{i}_{j}")
        for k, (i, j) in enumerate(p.pairs)
    }
    y = [mo.add_binary_variable(name=f"y_{j}") for j in range(p.n_requests)]
    need = needs_grant_binaries(p, grants_counted)
    z = {k: mo.add_binary_variable(name=f"z_{k}") for k in range(len(p.pairs)) if need[k]}
    u = {k: mo.add_binary_variable(name=f"u_{k}") for k in p.offers}
    m = Model(mo, x, y, z, u)
    # Explicit f[r] and total keep the share rules sparse; f is whole where a request may be partial.
    m.f = [
        mo.add_variable(lb=0, ub=r.amount, is_integer=whole_money and partial[j], name=f"f_{j}")
        for j, r in enumerate(s.requests)
    ]
    m.total = mo.add_variable(lb=0, name="total")
    _funding(p, m)
    _budgets(p, m)
    _capacities(p, m)
    _request_amounts(p, m)
    _grant_sizes(p, m)
    _partner_projects(p, m)
    _donors_per_request(p, m)
    _prerequisites(p, m)
    _country_caps(p, m)
    _region_floors(p, m)
    return m


def _funding(p: Problem, m: Model) -> None:
    """f[r] = Σ_d x[d,r] + Σ_{offers o to r} value[o] u[o]; total = Σ_r f[r]."""
    terms: list[list] = [[] for _ in range(p.n_requests)]
    for k, (_i, j) in enumerate(p.pairs):
        terms[j].append(m.x[k])
    s = p.scenario
    for k, var in m.u.items():
        o = s.offers[k]
        terms[p.request_index[o.request]].append(o.value * var)
    for j, t in enumerate(terms):
        m.mo.add_linear_constraint(mathopt.fast_sum(t) - m.f[j] == 0, name=f"funding_{j}")
    m.mo.add_linear_constraint(mathopt.fast_sum(m.f) - m.total == 0, name="total")


def _budgets(p: Problem, m: Model) -> None:
    """Rule 2: a donor gives at most its budget (scenario currency)."""
    per_donor = defaultdict(list)
    for k, (i, _j) in enumerate(p.pairs):
        per_donor[i].append(m.x[k])
    for i, xs in per_donor.items():
        m.mo.add_linear_constraint(mathopt.fast_sum(xs) <= p.budgets[i], name=f"budget_{i}")


def _capacities(p: Problem, m: Model) -> None:
    """In-kind: a donor delivers at most its capacity in units."""
    s = p.scenario
    per_donor = defaultdict(list)
    for k, var in m.u.items():
        o = s.offers[k]
        per_donor[p.donor_index[o.donor]].append(o.units * var)
    for i, terms in per_donor.items():
        m.mo.add_linear_constraint(mathopt.fast_sum(terms) <= (s.donors[i].capacity or 0), name=f"capacity_{i}")


def _request_amounts(p: Problem, m: Model) -> None:
    """Rules 3, 4 and must_fund: f = 0 or min_amount <= f <= amount; y marks f > 0. Per request
    the rows f - amount y <= 0, f - min_amount y >= 0 and, for must_fund, f >= amount (rows.py)."""
    s = p.scenario
    amount = np.array([r.amount for r in s.requests], dtype=np.float64)
    least = np.array(p.min_amount, dtype=np.float64)
    must = np.array([r.must_fund for r in s.requests], dtype=bool)
    start = np.concatenate([[0], np.cumsum(2 + must)])[:-1]
    n_rows = int(2 * len(amount) + must.sum())
    lower, upper = np.full(n_rows, -np.inf), np.full(n_rows, np.inf)
    upper[start] = 0.0  # f - amount y <= 0
    lower[start + 1] = 0.0  # f - min_amount y >= 0
    lower[start[must] + 2] = amount[must]  # f >= amount
    f, y = ids_of(m.f), ids_of(m.y)
    ones = np.ones(len(amount))
    add_row_blocks(
        m.mo,
        lower,
        upper,
        (start, f, ones),
        (start, y, -amount),
        (start + 1, f, ones),
        (start + 1, y, -least),
        (start[must] + 2, f[must], ones[must]),
    )


def _grant_sizes(p: Problem, m: Model) -> None:
    """Rule 5 (and the link z <-> x > 0): x = 0 or min_grant <= x <= max_grant."""
    for k, zk in m.z.items():
        i, _j = p.pairs[k]
        m.mo.add_linear_constraint(m.x[k] <= p.pair_ub[k] * zk, name=f"grant_on_{k}")
        m.mo.add_linear_constraint(m.x[k] >= max(1, p.scenario.donors[i].min_grant or 0) * zk, name=f"grant_min_{k}")
        if p.pair_lb[k] > 0:
            zk.lower_bound = 1


def _partner_projects(p: Problem, m: Model) -> None:
    """Rule 6: at most max_projects funded requests per partner."""
    by_partner = defaultdict(list)
    for j, r in enumerate(p.scenario.requests):
        if r.partner is not None:
            by_partner[r.partner].append(m.y[j])
    for partner in p.scenario.partners:
        if partner.max_projects is not None and by_partner[partner.id]:
            m.mo.add_linear_constraint(
                mathopt.fast_sum(by_partner[partner.id]) <= partner.max_projects, name=f"partner_{partner.id}"
            )


def _donors_per_request(p: Problem, m: Model) -> None:
    """Rule 7: at most K donors (grants plus in-kind deliveries) per request."""
    limit = p.scenario.policy.max_donors_per_request
    if limit is None:
        return
    per_request = defaultdict(list)
    for k, zk in m.z.items():
        per_request[p.pairs[k][1]].append(zk)
    for k, uk in m.u.items():
        per_request[p.request_index[p.scenario.offers[k].request]].append(uk)
    for j, vs in per_request.items():
        if len(vs) > limit:
            m.mo.add_linear_constraint(mathopt.fast_sum(vs) <= limit, name=f"donors_{j}")


def _prerequisites(p: Problem, m: Model) -> None:
    """Rule 8: a request is funded only when every request it requires is funded."""
    for j, r in enumerate(p.scenario.requests):
        for q in r.prerequisites:
            m.mo.add_linear_constraint(m.y[j] <= m.y[p.request_index[q]], name=f"requires_{j}_{p.request_index[q]}")


def _country_caps(p: Problem, m: Model) -> None:
    """Rule 9: no country receives more than max_country_share of all money allocated. Per
    country, in the order its first request comes, the row sum f - share total <= 0 (rows.py:
    a hundred rows were 40% of building the aggregate model of a 200 x 15 round one at a time)."""
    share = p.scenario.policy.max_country_share
    if share is None:
        return
    row_of: dict[str, int] = {}
    rows = np.array([row_of.setdefault(r.country, len(row_of)) for r in p.scenario.requests], dtype=np.int64)
    n = len(row_of)
    f = ids_of(m.f)
    add_row_blocks(
        m.mo,
        np.full(n, -np.inf),
        np.zeros(n),
        (rows, f, np.ones(len(f))),
        (np.arange(n), np.full(n, m.sum_f.id), np.full(n, -share)),
    )


def _region_floors(p: Problem, m: Model) -> None:
    """Rule 10: at least region_floors[g] of all money allocated goes to region g (rows.py)."""
    floors = p.scenario.policy.region_floors
    if not floors:
        return
    f = ids_of(m.f)
    rows, cols, coefs = [], [], []
    for n, (g, share) in enumerate(floors.items()):  # per region: sum f - share total >= 0
        inside = [j for j, r in enumerate(p.scenario.requests) if g in r.areas]
        rows += [n] * (len(inside) + 1)
        cols += f[inside].tolist() + [m.sum_f.id]
        coefs += [1.0] * len(inside) + [-share]
    add_row_blocks(m.mo, np.zeros(len(floors)), np.full(len(floors), np.inf), (rows, cols, coefs))


def term_expression(p: Problem, m: Model, term: str) -> Expr:
    """The linear expression of one objective term."""
    s = p.scenario
    if term == "coverage":
        return mathopt.fast_sum((p.weights[j] / r.amount) * m.f[j] for j, r in enumerate(s.requests))
    if term == "volume":
        return 1.0 * m.sum_f
    if term == "grants":
        return mathopt.fast_sum(list(m.z.values()) + list(m.u.values()))
    if term == "cost":
        return mathopt.fast_sum(s.offers[k].cost * uk for k, uk in m.u.items())
    raise ValueError(term)


SENSE = {"coverage": "max", "volume": "max", "grants": "min", "cost": "min"}

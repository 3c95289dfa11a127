"""The aggregate model: money routed per (donor, class of requests), without per-grant binaries.

A relaxation of the full model: any full allocation gives aggregate values (sum each donor's grants
over a class), so the aggregate optimum bounds the full optimum and its bound is a true bound. It
keeps every rule on f[r], y[r] and the in-kind deliveries exactly, drops min_grant (rule 5) and
max donors (rule 7) per grant, and keeps their consequences as valid inequalities:
- with at most K donors, f[r] is at most the sum of r's K largest possible grants or deliveries;
- money for r is at most the sum of its eligible donors' largest grants;
- when every eligible donor has a minimum grant above r's minimum funding, r's money is 0 or at
  least the smallest of those minimum grants.
The plan it finds is turned into whole grants by realise.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from ortools.math_opt.python import mathopt

from matcher.engine import model as rules
from matcher.engine.compile import Problem


@dataclass(frozen=True)
class Arcs:
    """The (donor, class) arcs of the aggregate model, with their bounds."""

    donor: tuple[int, ...]
    cls: tuple[int, ...]
    lb: tuple[int, ...]  # committed money on the arc
    ub: tuple[int, ...]  # most money the arc can carry

    @staticmethod
    def of(p: Problem) -> Arcs:
        donor, cls, lb, ub = [], [], [], []
        for c, js in enumerate(p.classes):
            lo, hi = int(p.request_start[js[0]]), int(p.request_start[js[0] + 1])
            caps = np.zeros(hi - lo, dtype=np.int64)
            commits = np.zeros(hi - lo, dtype=np.int64)
            for j in js:
                a, b = int(p.request_start[j]), int(p.request_start[j + 1])
                caps += p.pair_cap[a:b]
                commits += p.pair_commit[a:b]
            for n, i in enumerate(p.pair_donor[lo:hi].tolist()):
                donor.append(i)
                cls.append(c)
                lb.append(int(commits[n]))
                ub.append(int(min(caps[n], p.budgets[i])))
        return Arcs(tuple(donor), tuple(cls), tuple(lb), tuple(ub))


ARC_MINIMUMS = False  # binaries for donors' minimum grants per arc: fewer plans that cannot be split


def build_aggregate(p: Problem, arcs: Arcs) -> rules.Model:
    """Rules 1-4, 6, 8-11 and the in-kind rules exactly, rules 5 and 7 relaxed; no objective."""
    s = p.scenario
    mo = mathopt.Model(name=s.name)
    x = {a: mo.add_variable(lb=arcs.lb[a], ub=arcs.ub[a], name=f"X_{a}") for a in range(len(arcs.donor))}
    y = [mo.add_binary_variable(name=f"y_{j}") for j in range(p.n_requests)]
    u = {k: mo.add_binary_variable(name=f"u_{k}") for k in p.offers}
    m = rules.Model(mo, x, y, {}, u)
    # f starts continuous; solve.py makes an f integer only where a plan comes back fractional.
    m.f = [mo.add_variable(lb=0, ub=r.amount, name=f"f_{j}") for j, r in enumerate(s.requests)]
    m.total = mo.add_variable(lb=0, name="total")
    mo.add_linear_constraint(mathopt.fast_sum(m.f) - m.total == 0, name="total")
    deliveries = _deliveries(p, m)
    _class_balance(p, arcs, m, deliveries)
    _class_budgets(p, arcs, m)
    _grant_consequences(p, m, deliveries)
    _arc_caps(p, arcs, m)
    if ARC_MINIMUMS:
        _arc_minimums(p, arcs, m)
    rules._capacities(p, m)
    rules._request_amounts(p, m)
    rules._partner_projects(p, m)
    rules._prerequisites(p, m)
    rules._country_caps(p, m)
    rules._region_floors(p, m)
    return m


def _deliveries(p: Problem, m: rules.Model) -> dict[int, list]:
    """Per request, the value terms of its possible in-kind deliveries."""
    out: dict[int, list] = defaultdict(list)
    for k, var in m.u.items():
        o = p.scenario.offers[k]
        out[p.request_index[o.request]].append((o.value, var))
    return out


def money_expr(m: rules.Model, j: int, deliveries: dict[int, list]):
    """The money part of f[j]: f[j] minus the value of its deliveries."""
    return m.f[j] - mathopt.fast_sum(v * var for v, var in deliveries.get(j, []))


def _class_balance(p: Problem, arcs: Arcs, m: rules.Model, deliveries) -> None:
    """Money into a class equals the money part of its requests' funding."""
    into: dict[int, list] = defaultdict(list)
    for a, c in enumerate(arcs.cls):
        into[c].append(m.x[a])
    in_class = set()
    for c, js in enumerate(p.classes):
        in_class.update(js)
        money = mathopt.fast_sum(money_expr(m, j, deliveries) for j in js)
        m.mo.add_linear_constraint(mathopt.fast_sum(into[c]) - money == 0, name=f"class_{c}")
    for j in range(p.n_requests):
        if j not in in_class:  # no eligible money: only deliveries fund it
            m.mo.add_linear_constraint(money_expr(m, j, deliveries) == 0, name=f"no_money_{j}")


def _class_budgets(p: Problem, arcs: Arcs, m: rules.Model) -> None:
    """Rule 2 per donor, where the donor's arcs could carry more than its budget."""
    per_donor: dict[int, list] = defaultdict(list)
    reach: dict[int, int] = defaultdict(int)
    for a, i in enumerate(arcs.donor):
        per_donor[i].append(m.x[a])
        reach[i] += arcs.ub[a]
    for i, xs in per_donor.items():
        if reach[i] > p.budgets[i]:
            m.mo.add_linear_constraint(mathopt.fast_sum(xs) <= p.budgets[i], name=f"budget_{i}")


def _arc_caps(p: Problem, arcs: Arcs, m: rules.Model) -> None:
    """A donor sends a class at most its largest grants to the class's funded requests, where a
    maximum grant (or the donor's budget) is below a request's amount."""
    amounts = np.array([r.amount for r in p.scenario.requests], dtype=np.int64)
    for a, (i, c) in enumerate(zip(arcs.donor, arcs.cls)):
        js = p.classes[c]
        ks = [p.pair_index(i, j) for j in js]
        caps = p.pair_cap[ks]
        if not (caps < amounts[list(js)]).any():
            continue
        terms = [int(cap) * m.y[j] for cap, j in zip(caps.tolist(), js)]
        m.mo.add_linear_constraint(m.x[a] - mathopt.fast_sum(terms) <= 0, name=f"arc_cap_{a}")


def _arc_minimums(p: Problem, arcs: Arcs, m: rules.Model) -> None:
    """Every grant of a donor with a minimum grant is at least that, so what it sends a class is 0
    or at least that too: one binary per such arc (few: only donors with a minimum)."""
    s = p.scenario
    for a, i in enumerate(arcs.donor):
        least = s.donors[i].min_grant or 0
        if least <= 1 or arcs.lb[a] >= least:
            continue
        on = m.w[a] = m.mo.add_binary_variable(name=f"w_{a}")
        m.mo.add_linear_constraint(m.x[a] >= least * on, name=f"arc_min_{a}")
        m.mo.add_linear_constraint(m.x[a] <= arcs.ub[a] * on, name=f"arc_on_{a}")


def _grant_consequences(p: Problem, m: rules.Model, deliveries) -> None:
    """Valid inequalities implied by rules 5 and 7 (see the module docstring)."""
    s = p.scenario
    limit = s.policy.max_donors_per_request
    min_grant = [d.min_grant or 0 for d in s.donors]
    for j, r in enumerate(s.requests):
        ks = p.request_pairs(j)
        caps = p.pair_cap[ks.start : ks.stop]
        values = [v for v, _var in deliveries.get(j, [])]
        if values:
            m.mo.add_linear_constraint(money_expr(m, j, deliveries) >= 0, name=f"money_{j}")
        if len(ks) and int(caps.sum()) < r.amount:
            m.mo.add_linear_constraint(money_expr(m, j, deliveries) <= int(caps.sum()), name=f"money_cap_{j}")
        if limit is not None:
            top = sorted(caps.tolist() + values, reverse=True)[:limit]
            if sum(top) < r.amount:
                m.mo.add_linear_constraint(m.f[j] <= sum(top) * m.y[j], name=f"top_donors_{j}")
        if len(ks) and not values:
            smallest = min(max(1, min_grant[i]) for i in p.pair_donor[ks.start : ks.stop].tolist())
            if smallest > p.min_amount[j]:
                m.mo.add_linear_constraint(m.f[j] >= smallest * m.y[j], name=f"min_grant_{j}")

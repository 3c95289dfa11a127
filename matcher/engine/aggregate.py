"""The aggregate model: money routed per (donor, class of requests), without per-grant binaries.

A relaxation of the full model: any full allocation gives aggregate values (sum each donor's grants
over a class), so the aggregate optimum bounds the full optimum and its bound is a true bound. It
keeps every rule on f[r], y[r] and the in-kind deliveries exactly, drops min_grant (rule 5) and
max donors (rule 7) per grant, and keeps their consequences as valid inequalities:
- with at most K donors, f[r] is at most the sum of r's K largest possible grants or deliveries;
- money for r is at most the sum of its eligible donors' largest grants;
- when every eligible donor has a minimum grant above r's minimum funding, r's money is 0 or at
  least the smallest of those minimum grants;
- with ``crumbs`` (solve.py builds it when a plan's grants failed): a request given less than a
  minimum grant M gets it only from the class's donors whose minimum is below M.
The plan it finds is turned into whole grants by realise.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from ortools.math_opt.python import mathopt

from matcher.engine import model as rules
from matcher.engine.compile import Problem
from matcher.engine.rows import add_row_blocks, add_rows, add_variables, ids_of


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
                ub.append(int(max(min(caps[n], p.budgets[i]), commits[n])))  # over budget: the budget row says no
        return Arcs(tuple(donor), tuple(cls), tuple(lb), tuple(ub))


ARC_MINIMUMS = False  # binaries for donors' minimum grants per arc: fewer plans that cannot be split


def build_aggregate(p: Problem, arcs: Arcs, crumbs: bool = False) -> rules.Model:
    """Rules 1-4, 6, 8-11 and the in-kind rules exactly, rules 5 and 7 relaxed; no objective.
    ``crumbs`` adds the small-amount inequalities of ``_crumbs``: a tighter model, with a binary per
    request and level, that solve.py builds when a plan of the lighter one could not be split."""
    s = p.scenario
    mo = mathopt.Model(name=s.name)
    # variables and rows as arrays (rows.py): one at a time, they were half of building a 200 x 15 round
    x = dict(enumerate(add_variables(mo, arcs.lb, arcs.ub)))  # one per arc: 10^5 on a large round
    n = p.n_requests
    y = add_variables(mo, np.zeros(n), np.ones(n), integer=True)  # funded at all
    u = {k: mo.add_binary_variable(name=f"u_{k}") for k in p.offers}
    m = rules.Model(mo, x, y, {}, u)
    # f starts continuous; solve.py makes an f integer only where a plan comes back fractional.
    m.f = add_variables(mo, np.zeros(n), np.array([r.amount for r in s.requests], dtype=np.float64))
    m.total = mo.add_variable(lb=0, name="total")
    add_row_blocks(mo, np.zeros(1), np.zeros(1), (np.zeros(n), ids_of(m.f), np.ones(n)), ([0], [m.total.id], [-1.0]))
    deliveries = _deliveries(p, m)
    _class_balance(p, arcs, m, deliveries)
    _class_budgets(p, arcs, m)
    _grant_consequences(p, m, deliveries)
    _arc_caps(p, arcs, m)
    if crumbs:
        _crumbs(p, arcs, m, deliveries)
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
    """Money into a class equals the money part of its requests' funding: per class the row
    sum_arcs x - sum_j (f[j] - deliveries' value) = 0, then a row money(j) = 0 for every request
    outside any class (no eligible money: only deliveries fund it). Built from arrays (rows.py)."""
    n_cls = len(p.classes)
    cls_of = p.class_of
    alone = np.nonzero(cls_of < 0)[0]
    row_of = cls_of.copy()
    row_of[alone] = n_cls + np.arange(len(alone))
    n_rows = n_cls + len(alone)
    x_ids, f_ids = ids_of(m.x[a] for a in range(len(arcs.donor))), ids_of(m.f)
    js = np.nonzero(cls_of >= 0)[0]
    members = np.concatenate([np.concatenate([np.asarray(c_js, dtype=np.int64) for c_js in p.classes] or [js]), alone])
    d_rows, d_vars, d_coefs = [], [], []
    for j, terms in deliveries.items():
        for value, var in terms:
            d_rows.append(row_of[j])
            d_vars.append(var.id)
            d_coefs.append(float(value) if cls_of[j] >= 0 else -float(value))  # a lone row is money(j) = 0
    add_row_blocks(
        m.mo,
        np.zeros(n_rows),
        np.zeros(n_rows),
        (np.asarray(arcs.cls, dtype=np.int64), x_ids, np.ones(len(x_ids))),
        (row_of[members], f_ids[members], np.where(cls_of[members] >= 0, -1.0, 1.0)),
        (np.array(d_rows, dtype=np.int64), np.array(d_vars, dtype=np.int64), np.array(d_coefs)),
    )


def _class_budgets(p: Problem, arcs: Arcs, m: rules.Model) -> None:
    """Rule 2 per donor, where the donor's arcs could carry more than its budget (rows.py)."""
    donor = np.asarray(arcs.donor, dtype=np.int64)
    if not len(donor):
        return
    reach = np.bincount(donor, weights=np.asarray(arcs.ub, dtype=np.float64), minlength=len(p.budgets))
    budgets = np.asarray(p.budgets, dtype=np.float64)
    present = np.bincount(donor, minlength=len(p.budgets)) > 0
    order_seen = list(dict.fromkeys(donor.tolist()))  # donors in the order of their first arc
    rows = [i for i in order_seen if present[i] and reach[i] > budgets[i]]
    if not rows:
        return
    row_of = np.full(len(p.budgets), -1, dtype=np.int64)
    row_of[rows] = np.arange(len(rows))
    keep = row_of[donor] >= 0
    x_ids = ids_of(m.x[a] for a in range(len(donor)))
    add_row_blocks(
        m.mo,
        np.full(len(rows), -np.inf),
        budgets[rows],
        (row_of[donor[keep]], x_ids[keep], np.ones(int(keep.sum()))),
    )


def _arc_caps(p: Problem, arcs: Arcs, m: rules.Model) -> None:
    """A donor sends a class at most its largest grants to the class's funded requests, where a
    maximum grant (or the donor's budget) is below a request's amount. Built from arrays (rows.py):
    a large round has one such row per arc, 10^5 of them."""
    arc = _arc_of_pairs(p, arcs)
    has = arc >= 0
    k = np.nonzero(has)[0]
    k = k[np.lexsort((p.pair_request[k], arc[k]))]  # by arc, then request: the class's order
    a_k, j_k, cap_k = arc[k], p.pair_request[k], p.pair_cap[k]
    amounts = np.array([r.amount for r in p.scenario.requests], dtype=np.int64)
    short = np.bincount(a_k, weights=(cap_k < amounts[j_k]), minlength=len(arcs.donor)) > 0
    rows = np.nonzero(short)[0]  # the arcs that get a row, in arc order
    if not len(rows):
        return
    row_of = np.full(len(arcs.donor), -1, dtype=np.int64)
    row_of[rows] = np.arange(len(rows))
    keep = short[a_k]
    x_ids, y_ids = ids_of(m.x[a] for a in range(len(arcs.donor))), ids_of(m.y)
    row = np.concatenate([np.arange(len(rows)), row_of[a_k[keep]]])
    var = np.concatenate([x_ids[rows], y_ids[j_k[keep]]])
    coef = np.concatenate([np.ones(len(rows)), -cap_k[keep].astype(np.float64)])
    order = np.argsort(row, kind="stable")
    add_rows(m.mo, np.full(len(rows), -np.inf), np.zeros(len(rows)), row[order], var[order], coef[order])


def _arc_of_pairs(p: Problem, arcs: Arcs) -> np.ndarray:
    """Per pair, the aggregate arc (donor, class of its request) that carries it; -1 when none."""
    n_cls = max(1, len(p.classes))
    arc_key = np.asarray(arcs.donor, dtype=np.int64) * n_cls + np.asarray(arcs.cls, dtype=np.int64)
    order = np.argsort(arc_key, kind="stable")
    c = p.class_of[p.pair_request]
    key = p.pair_donor * n_cls + c
    at = np.searchsorted(arc_key[order], key)
    at = np.minimum(at, len(order) - 1) if len(order) else at
    found = (c >= 0) & (len(order) > 0)
    if len(order):
        found &= arc_key[order][at] == key
    return np.where(found, order[at] if len(order) else -1, -1)


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
            smallest = int(p.min_grants[p.pair_donor[ks.start : ks.stop]].min())
            if smallest > p.min_amount[j]:
                m.mo.add_linear_constraint(m.f[j] >= smallest * m.y[j], name=f"min_grant_{j}")


def _crumbs(p: Problem, arcs: Arcs, m: rules.Model, deliveries) -> None:
    """Small amounts come only from donors with small minimum grants.

    For each minimum grant M > 1 among a class's donors, let S be the class's donors whose minimum
    is below M: a request given less than M has every grant from S. With a binary b[j] (1: the
    request gets at least M) and s[j] the money it gets below M:
        money[j] >= M b[j],   s[j] <= (M - 1)(1 - b[j]),   s[j] >= money[j] - amount[j] b[j],
        sum over the class of s[j] <= sum over S of the class's arcs.
    Any whole allocation meets these (b[j] = 1 exactly when money[j] >= M), so the aggregate stays
    a relaxation, but a plan can no longer fund a request with a donor's leftover below its
    minimum grant, the commonest plan that no whole grants can follow. Built from arrays (rows.py)."""
    least = p.min_grants
    donor = np.asarray(arcs.donor, dtype=np.int64)
    arcs_of: dict[int, list[int]] = defaultdict(list)
    for a, c in enumerate(arcs.cls):
        arcs_of[c].append(a)
    amounts = np.array([r.amount for r in p.scenario.requests], dtype=np.int64)
    js: list[int] = []
    bigs: list[int] = []
    groups: list[tuple[int, int, np.ndarray]] = []  # (first row, rows, arcs below) per class and level
    for c, members in enumerate(p.classes):
        mine = np.asarray(arcs_of[c], dtype=np.int64)
        for big in sorted({int(v) for v in least[donor[mine]] if v > 1}):
            keep = [j for j in members if not deliveries.get(j) and p.min_amount[j] < big <= amounts[j]]
            if keep:
                groups.append((len(js), len(keep), mine[least[donor[mine]] < big]))
                js += keep
                bigs += [big] * len(keep)
    if not js:
        return
    n = len(js)
    j_a, big_a = np.asarray(js, dtype=np.int64), np.asarray(bigs, dtype=np.float64)
    b_ids = ids_of(add_variables(m.mo, np.zeros(n), np.ones(n), integer=True))
    s_ids = ids_of(add_variables(m.mo, np.zeros(n), big_a - 1))
    f_ids = ids_of(m.f)[j_a]
    rows, zero, inf = np.arange(n), np.zeros(n), np.full(n, np.inf)
    add_row_blocks(m.mo, zero, inf, (rows, f_ids, np.ones(n)), (rows, b_ids, -big_a))  # money >= M b
    add_row_blocks(m.mo, -inf, big_a - 1, (rows, s_ids, np.ones(n)), (rows, b_ids, big_a - 1))  # s <= (M-1)(1-b)
    add_row_blocks(  # s >= money - amount b
        m.mo,
        zero,
        inf,
        (rows, s_ids, np.ones(n)),
        (rows, f_ids, -np.ones(n)),
        (rows, b_ids, amounts[j_a].astype(np.float64)),
    )
    x_ids = ids_of(m.x[a] for a in range(len(donor)))
    row, var, coef = [], [], []
    for g, (start, count, below) in enumerate(groups):  # sum of s over the level <= the arcs below it
        row += [g] * (count + len(below))
        var += s_ids[start : start + count].tolist() + x_ids[below].tolist()
        coef += [1.0] * count + [-1.0] * len(below)
    n_groups = len(groups)
    add_rows(m.mo, np.full(n_groups, -np.inf), np.zeros(n_groups), np.asarray(row), np.asarray(var), np.asarray(coef))

"""Re-optimise a few requests with every rule, the rest of the allocation held fixed.

When a plan of the aggregate model cannot be split into grants for some requests (a donor's share
below its minimum grant, more donors than allowed), those requests are solved again in the full
model restricted to them: one binary per pair of theirs, every rule, and the money, projects and
shares of all other requests as constants. The objective is the scenario's, stage by stage, on
those requests only (the rest is constant), so the result is the best completion of the fixed part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from ortools.math_opt.python import mathopt

from matcher.engine.compile import Problem
from matcher.engine.params import highs_parameters, solve_highs
from matcher.engine.realise import cap, donor_slots
from matcher.engine.rows import add_row_blocks, add_variables, ids_of
from matcher.engine.stages import KEEP_SHARE, LEX_TOLERANCE


def repair(
    p: Problem,
    funded: list[int],
    delivered: set[int],
    fixed: dict[int, int],
    free: set[int],
    terms: list[str],
    params,
    left: Callable[[], float | None],
    bounds: dict[str, float] | None = None,
) -> tuple[dict[int, int], list[int]] | None:
    """Grants and funding for the ``free`` requests given the ``fixed`` grants of all others.

    ``funded`` is the plan's funding (used for the fixed requests' totals); deliveries stay as
    planned. ``bounds`` gives a true bound on each whole-round term (the aggregate model's): the
    free requests can reach at most that minus the fixed part, which lets the solver stop as soon
    as it is within the lexicographic tolerance (relative 1e-6 of the whole round) of it.
    Returns (grants of the free requests, new funding list) or None when no completion exists
    (the caller frees more requests)."""
    s = p.scenario
    mo = mathopt.Model(name="repair")
    value = [0] * p.n_requests  # in-kind value per request
    for k in delivered:
        o = s.offers[k]
        value[p.request_index[o.request]] += o.value
    used: defaultdict[int, int] = defaultdict(int)
    for k, v in fixed.items():
        used[int(p.pair_donor[k])] += v
    rest = [0 if j in free else funded[j] for j in range(p.n_requests)]
    order = sorted(free)
    y = {j: mo.add_binary_variable() for j in order}
    f = {j: mo.add_integer_variable(lb=0, ub=s.requests[j].amount) for j in order}
    per_donor = defaultdict(list)
    limit = s.policy.max_donors_per_request
    grants_of: dict[int, list[int]] = {}
    pairs, low, room_of, least_of = [], [], [], []
    for j in order:
        grants = []
        for k in _candidates(p, j, used, max(CANDIDATES, PAIRS // max(1, len(order)))):
            i = int(p.pair_donor[k])
            room = min(int(p.pair_cap[k]), p.budgets[i] - used[i])
            if room < max(1, s.donors[i].min_grant or 0, int(p.pair_commit[k])):
                if p.pair_commit[k]:
                    return None
                continue
            pairs.append(k)
            low.append(int(p.pair_commit[k]))
            room_of.append(room)
            least_of.append(max(1, s.donors[i].min_grant or 0))
            grants.append(k)
            per_donor[i].append(k)
        grants_of[j] = grants
    # one grant variable x and one "granted" z per pair, and x <= room z, x >= least z: the bulk of
    # the model, written at once (rows.py)
    low_a = np.array(low, dtype=np.float64)
    xs = add_variables(mo, low_a, np.array(room_of, dtype=np.float64), integer=True)
    zs = add_variables(mo, (low_a > 0).astype(np.float64), np.ones(len(pairs)), integer=True)
    x, z = dict(zip(pairs, xs)), dict(zip(pairs, zs))
    n = len(pairs)
    rows, ones, zero, inf = np.arange(n), np.ones(n), np.zeros(n), np.full(n, np.inf)
    xid, zid = ids_of(xs), ids_of(zs)
    add_row_blocks(mo, -inf, zero, (rows, xid, ones), (rows, zid, -np.array(room_of, dtype=np.float64)))
    add_row_blocks(mo, zero, inf, (rows, xid, ones), (rows, zid, -np.array(least_of, dtype=np.float64)))
    deliveries: defaultdict[int, int] = defaultdict(int)
    for k in delivered:
        deliveries[p.request_index[s.offers[k].request]] += 1
    for j in order:
        r, grants = s.requests[j], grants_of[j]
        mo.add_linear_constraint(f[j] - mathopt.fast_sum(x[k] for k in grants) == value[j])
        mo.add_linear_constraint(f[j] <= r.amount * y[j])
        mo.add_linear_constraint(f[j] >= p.min_amount[j] * y[j])
        if r.must_fund:
            mo.add_linear_constraint(f[j] >= r.amount)
        if value[j]:
            y[j].lower_bound = 1
        if limit is not None and len(grants) + deliveries[j] > limit:
            mo.add_linear_constraint(mathopt.fast_sum(z[k] for k in grants) <= limit - deliveries[j])
    for i, ks in per_donor.items():
        mo.add_linear_constraint(mathopt.fast_sum(x[k] for k in ks) <= p.budgets[i] - used[i])
    if not _links(p, mo, y, rest, free):
        return None
    _shares(p, mo, f, rest, order)
    weights = {j: p.weights[j] / s.requests[j].amount for j in order}
    exprs = {
        "coverage": (mathopt.fast_sum(weights[j] * f[j] for j in order), "max"),
        "volume": (mathopt.fast_sum(f.values()), "max"),
    }  # fewer grants: polish_grants afterwards, class by class
    hint = _greedy_hint(p, funded, value, used, order, donor_slots(p, delivered), x, z, y, f)
    values = None
    stages = [t for t in terms if t in exprs]
    if not stages:  # e.g. objective [cost]: any completion that keeps every rule will do
        result = solve_highs(mo, highs_parameters(params, left()), hint)
        if not result.has_primal_feasible_solution():
            return None
        values = result
    for n, term in enumerate(stages):
        expr, sense = exprs[term]
        mo.maximize(expr) if sense == "max" else mo.minimize(expr)
        # the later stages keep the first's value and only settle ties: a work limit, not 2 s of wall time,
        # so the same grants on any machine (without --node-limit; with it, that limit)
        stage = params if n == 0 or params.node_limit is not None else replace(params, node_limit=REPAIR_NODE_LIMIT)
        seconds = left() if n == 0 else cap(stage, left(), 2.0)
        whole = (bounds or {}).get(term)
        fixed_part = _fixed_value(p, rest, term)
        tolerance = None
        if whole is not None and whole == whole:
            mo.add_linear_constraint(expr <= whole - fixed_part + LEX_TOLERANCE * abs(whole))
            # the gap that matters is the whole round's: stop once within --gap of the whole bound
            tolerance = max(LEX_TOLERANCE / 2, params.relative_gap) * abs(whole)
        result = solve_highs(mo, highs_parameters(stage, seconds, tolerance), hint if n == 0 else None)
        if not result.has_primal_feasible_solution():
            if values is None:
                return None
            break
        values = result
        reached = result.objective_value()
        slack = KEEP_SHARE * LEX_TOLERANCE * abs(reached)
        if sense == "max":
            mo.add_linear_constraint(expr >= reached - slack)
        else:
            mo.add_linear_constraint(expr <= reached + slack)
    if values is None:  # not reached: the first stage returns None when it finds nothing
        return None
    found = {k: int(round(v)) for k, v in zip(x, values.variable_values(list(x.values()))) if round(v) > 0}
    new = list(rest)
    for j, v in zip(order, values.variable_values([f[j] for j in order])):
        new[j] = int(round(v))
    return found, new


REPAIR_NODE_LIMIT = 500  # a later repair stage's work without --node-limit
CANDIDATES = 10  # donors considered per re-optimised request at least: those with the most money left
PAIRS = 40_000  # and as many more as keep the repair model within about this many pairs


def _candidates(p: Problem, j: int, used, most: int) -> list[int]:
    """The pairs of request j worth a variable: committed ones, then those whose donor has the most
    money left (a restriction: the repair is a heuristic; its result is checked like any other)."""
    ks = list(p.request_pairs(j))
    if len(ks) <= most:
        return ks
    ranked = sorted(
        ks,
        key=lambda k: (
            -int(p.pair_commit[k]),
            -min(int(p.pair_cap[k]), p.budgets[int(p.pair_donor[k])] - used[int(p.pair_donor[k])]),
            k,
        ),
    )
    return sorted(ranked[:most])


def _greedy_hint(p: Problem, funded, value, used, order, slots, x, z, y, f):
    """A start for the solver: the plan's funding of each free request (those that must be funded
    first, then highest weight per dollar first) from the donors with the most money left, at most
    the allowed donors, each grant within its donor's bounds; a request that does not fit gets nothing."""
    s = p.scenario
    left = {i: p.budgets[i] - used[i] for i in range(len(p.budgets))}
    projects = _projects_left(p, funded, set(order))
    values = {}
    given: dict[int, list[tuple[int, int]]] = {}
    for j in sorted(order, key=lambda j: (-y[j].lower_bound, -p.weights[j] / s.requests[j].amount, j)):
        partner = s.requests[j].partner
        need = funded[j] - value[j]
        if y[j].upper_bound < 1 or (partner in projects and projects[partner] < 1 and not value[j]):
            need = 0  # a prerequisite left unfunded, or the partner's projects all taken
        pieces: list[tuple[int, int]] = []
        rest = need
        options = sorted(
            (k for k in p.request_pairs(j) if k in x),
            key=lambda k: -min(left[int(p.pair_donor[k])], int(p.pair_cap[k])),
        )
        for k in options:
            if rest <= 0 or len(pieces) == slots[j]:
                break
            i = int(p.pair_donor[k])
            amount = min(left[i], int(p.pair_cap[k]), rest)
            if amount >= max(1, s.donors[i].min_grant or 0, int(p.pair_commit[k])):
                pieces.append((k, amount))
                rest -= amount
        if rest > 0 or need <= 0:
            pieces = []
        for k, amount in pieces:
            left[int(p.pair_donor[k])] -= amount
        if pieces and partner in projects and not value[j]:
            projects[partner] -= 1
        given[j] = pieces
    _drop_unmet_prerequisites(p, given, value)
    for j, pieces in given.items():
        for k, amount in pieces:
            values[x[k]] = amount
            values[z[k]] = 1
        got = sum(a for _k, a in pieces) + value[j]
        values[f[j]] = got
        values[y[j]] = 1 if got > 0 else 0
    for k in x:
        values.setdefault(x[k], 0)
        values.setdefault(z[k], 0)
    if any(not var.lower_bound <= v <= var.upper_bound for var, v in values.items()):
        return None  # a commitment the greedy pass did not keep: no start
    return mathopt.ModelSolveParameters(solution_hints=[mathopt.SolutionHint(variable_values=values)])


def _projects_left(p: Problem, funded: list[int], free: set[int]) -> dict[str, int]:
    """Per partner with a project cap: the projects the fixed requests leave to the free ones."""
    s = p.scenario
    left = {q.id: q.max_projects for q in s.partners if q.max_projects is not None}
    for j, r in enumerate(s.requests):
        if j not in free and funded[j] > 0 and r.partner in left:
            left[r.partner] -= 1
    return left


def _drop_unmet_prerequisites(p: Problem, given: dict[int, list[tuple[int, int]]], value: list[int]) -> None:
    """Unfund (in the start only) free requests whose free prerequisite got nothing, until none is left."""
    s = p.scenario
    changed = True
    while changed:
        changed = False
        for j, pieces in given.items():
            if not pieces or value[j]:
                continue
            for q in s.requests[j].prerequisites:
                jq = p.request_index[q]
                if jq in given and not given[jq] and not value[jq]:
                    given[j] = []
                    changed = True
                    break


def _links(p: Problem, mo, y, rest: list[int], free: set[int]) -> bool:
    """Rules 6 and 8 with the fixed requests as constants; False when they cannot hold."""
    s = p.scenario
    taken: defaultdict[str, int] = defaultdict(int)
    mine: defaultdict[str, list] = defaultdict(list)
    for j, r in enumerate(s.requests):
        if r.partner is None:
            continue
        if j in free:
            mine[r.partner].append(y[j])
        elif rest[j] > 0:
            taken[r.partner] += 1
    for partner in s.partners:
        if partner.max_projects is not None and mine[partner.id]:
            mo.add_linear_constraint(mathopt.fast_sum(mine[partner.id]) <= partner.max_projects - taken[partner.id])
    for j, r in enumerate(s.requests):
        for q in r.prerequisites:
            jq = p.request_index[q]
            if j in free and jq in free:
                mo.add_linear_constraint(y[j] <= y[jq])
            elif j in free and rest[jq] == 0:
                y[j].upper_bound = 0
            elif jq in free and rest[j] > 0:
                y[jq].lower_bound = 1
    return True


def _shares(p: Problem, mo, f, rest: list[int], order: list[int]) -> None:
    """Rules 9 and 10 with the fixed requests' money as constants."""
    s = p.scenario
    fixed_total = sum(rest)
    total = mathopt.fast_sum(f.values())
    share = s.policy.max_country_share
    if share is not None:
        mine: defaultdict[str, list] = defaultdict(list)
        others: defaultdict[str, int] = defaultdict(int)
        for j in order:
            mine[s.requests[j].country].append(f[j])
        for j, v in enumerate(rest):
            if v:
                others[s.requests[j].country] += v
        for c in set(mine) | set(others):
            mo.add_linear_constraint(mathopt.fast_sum(mine[c]) - share * total <= share * fixed_total - others[c])
    for g, floor in (s.policy.region_floors or {}).items():
        mine_g = mathopt.fast_sum(f[j] for j in order if g in s.requests[j].areas)
        others_g = sum(v for j, v in enumerate(rest) if v and g in s.requests[j].areas)
        mo.add_linear_constraint(mine_g - floor * total >= floor * fixed_total - others_g)


def _fixed_value(p: Problem, rest: list[int], term: str) -> float:
    s = p.scenario
    if term == "coverage":
        return sum(p.weights[j] * v / s.requests[j].amount for j, v in enumerate(rest) if v)
    return float(sum(rest))

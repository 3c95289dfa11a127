"""Turn an aggregate funding plan into whole grants x[d,r] that obey every per-grant rule.

The plan fixes f[r] for every request (and the deliveries); which donor pays how much of it is
a transportation problem with side rules (minimum grants, donors per request). Steps:
1. a min-cost flow over the eligible pairs gives whole grants meeting every request's money
   exactly within budgets and maximum grants; a few rounds make dearer the pairs that carried a grant
   below its donor's minimum or beyond a request's allowed donors, so the money goes elsewhere;
2. exchanges along short paths (exchange.py) mend most grants that still break a rule;
3. if some still do: on rounds of up to RESTRICTED_MAX funded requests one MIP over all of them,
   each restricted to the donors of the flow and a few with money left (binaries only where a rule
   needs them, keeping as many of the flow's grants as the root node can), keeps the plan exactly;
   when that restriction has no grants, the same MIP with every donor a request can take;
   otherwise, class by class (requests with the same eligible
   donors), a small MIP re-splits the class's money; where that fails, the requests with a grant
   still breaking a rule are returned as trouble, and the caller re-optimises them with every rule
   and the rest fixed (repair.py).
``polish_grants`` lowers the number of grants afterwards, class by class, for the grants stage.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.math_opt.python import mathopt

from matcher.engine.compile import Problem
from matcher.engine.exchange import breaking, mend
from matcher.engine.params import highs_parameters, solve_highs
from matcher.engine.rows import add_rows, add_variables


@dataclass
class Plan:
    """A solution of the aggregate model: funding per request, deliveries, money per arc."""

    funded: list[int]
    delivered: set[int]
    flows: list[float] = field(default_factory=list)


NO_LIMIT = 1 << 30  # donor slots of a request when no rule limits its donors


def money_demand(p: Problem, funded: list[int], delivered: set[int]) -> list[int]:
    """Per request, the part of f[r] that money must cover (in-kind deliveries take the rest)."""
    need = list(funded)
    for k in delivered:
        o = p.scenario.offers[k]
        need[p.request_index[o.request]] -= o.value
    return need


def donor_slots(p: Problem, delivered: set[int]) -> list[int]:
    """Per request, how many money grants rule 7 still allows after its deliveries."""
    limit = p.scenario.policy.max_donors_per_request
    slots = [NO_LIMIT if limit is None else limit] * p.n_requests
    if limit is not None:
        for k in delivered:
            slots[p.request_index[p.scenario.offers[k].request]] -= 1
    return slots


def realise(p: Problem, plan: Plan, params, left: Callable[[], float | None]) -> tuple[dict[int, int], set[int]] | None:
    """Whole grants for the plan where they can be made (pair index -> amount), and the requests
    whose grants cannot follow it (the caller re-optimises those with every rule, the rest fixed).
    None when even the flow fails (the plan's money does not fit the pair bounds).

    ``left()`` is the time left in seconds (None: no limit)."""
    need = money_demand(p, plan.funded, plan.delivered)
    slots = donor_slots(p, plan.delivered)
    flow = _rerouted_flow(p, need, slots)
    if flow is None:
        return None
    flow = mend(p, flow, slots)
    bad = breaking(p, flow, slots)
    if not bad:
        return flow, set()
    budget = left()
    deadline = None if budget is None else time.perf_counter() + budget
    if sum(1 for g in need if g > 0) <= RESTRICTED_MAX:
        # under a work limit, as the class MIPs below, the time left only a safety net: the same grants on any
        # machine (they had 40% of the time left each, which a slower machine could reach first)
        work = params if params.node_limit is not None else replace(params, node_limit=RESTRICTED_NODE_LIMIT)
        fixed = restricted_grants(p, need, slots, flow, work, budget)
        if fixed is None and sum(len(p.request_pairs(j)) for j, g in enumerate(need) if g > 0) <= EVERYONE_MAX_PAIRS:
            fixed = restricted_grants(p, need, slots, flow, work, _until(deadline), everyone=True)
        if fixed is not None:
            return fixed, set()
    # class by class: a small MIP re-splits the money each donor gives the class; where it fails, the
    # requests with a breaking grant are the trouble (the rest keep the flow's grants)
    class_of = p.class_of
    by_class: dict[int, dict[int, int]] = defaultdict(dict)
    for k, v in flow.items():
        by_class[int(class_of[p.pair_request[k]])][k] = v
    grants: dict[int, int] = {}
    trouble: set[int] = set()
    broken = {int(class_of[p.pair_request[k]]) for k in bad}
    for c, xs in sorted(by_class.items()):
        if c not in broken:
            grants.update(xs)
            continue
        mending = params if params.node_limit is not None else replace(params, node_limit=MEND_NODE_LIMIT)
        seconds = cap(mending, _until(deadline), 0.5)  # a work limit, not 0.5 s: the same grants on any machine
        x = None
        if seconds is None or seconds > 0.05 or mending.node_limit is not None:
            supply: dict[int, int] = defaultdict(int)
            for k, v in xs.items():
                supply[int(p.pair_donor[k])] += v
            x, _bound, _opt = fewest_grants(p, need, slots, p.classes[c], supply, xs, mending, seconds, True)
        if x is not None:
            grants.update(x)
            continue
        mine = {int(p.pair_request[k]) for k in bad if int(class_of[p.pair_request[k]]) == c}
        trouble |= mine
        grants.update({k: v for k, v in xs.items() if int(p.pair_request[k]) not in mine})
    return grants, trouble


def _until(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.perf_counter())


# Above this many funded requests the MIP over all of them (restricted_grants) failed within its time
# on the generated M and L rounds (0.65 s and 3.3 s spent for nothing), while the class MIPs and the
# repair dealt with the few grants the exchanges left broken; on S it keeps the plan exactly in
# 0.1-0.2 s.
RESTRICTED_MAX = 400
# The MIP with every donor a request can take (restricted_grants' ``everyone``) is tried up to this many
# pairs of funded requests: the S sweep's (463-654 in 300 draws) took 0.01-0.6 s; larger ones are not measured.
EVERYONE_MAX_PAIRS = 2000
# Nodes of the grants MIP over all funded requests once its root finds none, without --node-limit: on 1,000
# draws of the S sweep that search, restricted or with every donor, took 1-149 nodes (0.01-0.45 s).
RESTRICTED_NODE_LIMIT = 500
MEND_NODE_LIMIT = 200  # a class's grants MIP (any grants will do) without --node-limit: work, not wall time
REROUTE_ROUNDS = 8


ALTERNATIVES = 2  # donors offered to a request besides those of the flow, when no donor limit applies


def restricted_grants(
    p: Problem, need, slots, flow: dict[int, int], params, seconds, everyone: bool = False
) -> dict[int, int] | None:
    """Grants for every funded request at once, with each request restricted to the donors of the
    flow plus the donors with the most money left (up to its donor limit): a small MIP where only
    pairs of donors with a minimum grant, and requests with more candidate donors than allowed,
    need a binary. None when this restriction has no solution within its limits (the caller goes on).

    ``everyone``: each request may take every donor it is eligible for (the plan's grants exist
    exactly when this MIP has a solution). The caller tries it when the restriction has none: on
    1,000 draws of an S sweep that found the plan's grants in 0.01-0.6 s where the repair, and
    after it the full model, had taken up to 8.8 s (draw 466) and sometimes ended a little below
    the plan (benchmarks/RESULTS.md, session 16).

    It first keeps as many of the flow's grants as it can (the objective counts them), at the root
    node only: the LP then leans towards the flow, and HiGHS finds grants 3.5x faster than with no
    objective (median 0.04 s against 0.15 s on the 37 such MIPs of 100 draws of an S sweep, every
    one at the root). When the root finds none, the plain feasibility model decides (it also proves
    a restriction with no solution faster: 0.02 s against 1.3 s, seen once). A node limit, not a
    time limit, ends that first search, and the caller gives the second one a node limit too
    (RESTRICTED_NODE_LIMIT or --node-limit), so which grants come back does not depend on the machine."""
    least = p.min_grants
    used: defaultdict[int, int] = defaultdict(int)
    by_request: dict[int, list[int]] = defaultdict(list)
    for k, v in flow.items():
        used[int(p.pair_donor[k])] += v
        by_request[int(p.pair_request[k])].append(k)
    spare = {i: p.budgets[i] - used[i] for i in range(len(p.budgets))}
    mo = mathopt.Model(name="restricted-grants")
    b = _Rows()  # built as arrays, then written at once (rows.py): 26 ms a model one row at a time
    x, z = {}, {}
    per_donor: dict[int, list[int]] = defaultdict(list)
    for j, g in enumerate(need):
        if g <= 0:
            continue
        usable = [k for k in p.request_pairs(j) if least[p.pair_donor[k]] <= g or p.pair_commit[k]]
        chosen = sorted((k for k in by_request[j] if k in usable), key=lambda k: -flow[k])
        if everyone:
            chosen += [k for k in usable if k not in flow and p.pair_cap[k] > 0]
        limit = slots[j] if slots[j] < NO_LIMIT else len(chosen) + ALTERNATIVES
        taken = set(chosen)
        others = sorted(
            (k for k in usable if k not in taken and p.pair_cap[k] > 0),
            key=lambda k: (-min(spare[int(p.pair_donor[k])], int(p.pair_cap[k])), k),
        )
        chosen += others[: max(0, limit - len(chosen))]
        if slots[j] < NO_LIMIT:  # the donors that can give most, so that few donors can cover it
            biggest = sorted(usable, key=lambda k: (-int(p.pair_cap[k]), k))[: slots[j]]
            chosen += [k for k in biggest if k not in chosen]
        binding = len(chosen) > slots[j]
        for k in chosen:
            i, cap_k = int(p.pair_donor[k]), int(p.pair_cap[k])
            x[k] = b.variable(int(p.pair_commit[k]), cap_k)  # whole: see solve_whole
            per_donor[i].append(k)
            if least[i] > 1 or binding:
                z[k] = b.variable(1 if p.pair_commit[k] else 0, 1, integer=True)
                b.row(-np.inf, 0, (x[k], 1.0), (z[k], -cap_k))  # x <= cap z
                b.row(0, np.inf, (x[k], 1.0), (z[k], -float(least[i])))  # x >= least z
        b.row(g, g, *((x[k], 1.0) for k in chosen))
        if binding:
            b.row(-np.inf, slots[j], *((z[k], 1.0) for k in chosen))
    for i, ks in per_donor.items():
        b.row(-np.inf, p.budgets[i], *((x[k], 1.0) for k in ks))
    var = b.write(mo)
    x = {k: var[n] for k, n in x.items()}
    z = {k: var[n] for k, n in z.items()}
    kept = [var for k, var in z.items() if k in flow]
    if not kept:
        return solve_whole(mo, x, params, seconds)[1]
    started = time.perf_counter()
    mo.maximize(mathopt.fast_sum(kept))
    result, grants = solve_whole(mo, x, replace(params, node_limit=1), seconds, root_search=True)  # root only
    if grants is not None or result.termination.reason in _NO_SOLUTION:
        return grants
    mo.objective.clear()  # any grants will do: the plain feasibility model
    left = None if seconds is None else seconds - (time.perf_counter() - started)
    return solve_whole(mo, x, params, left)[1]


_NO_SOLUTION = (mathopt.TerminationReason.INFEASIBLE, mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED)


class _Rows:
    """A model's variables and rows collected as lists, then written in a few array calls
    (rows.add_variables, rows.add_rows) in the order they were collected."""

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[bool] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.at: list[int] = []
        self.var: list[int] = []
        self.coef: list[float] = []

    def variable(self, lb: float, ub: float, integer: bool = False) -> int:
        """A new variable's position."""
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(integer)
        return len(self.lb) - 1

    def row(self, lo: float, hi: float, *terms: tuple[int, float]) -> None:
        """lo <= sum coef * variable <= hi, the variables by position."""
        r = len(self.lo)
        self.lo.append(lo)
        self.hi.append(hi)
        for v, c in terms:
            self.at.append(r)
            self.var.append(v)
            self.coef.append(c)

    def write(self, mo: mathopt.Model) -> list[mathopt.Variable]:
        """Write everything into ``mo``; the variables, by position."""
        variables = add_variables(mo, self.lb, self.ub, np.array(self.integer, dtype=bool))
        ids = np.array([v.id for v in variables], dtype=np.int64)
        add_rows(
            mo,
            np.array(self.lo),
            np.array(self.hi),
            np.array(self.at, dtype=np.int64),
            ids[np.array(self.var, dtype=np.int64)] if self.var else np.zeros(0, dtype=np.int64),
            np.array(self.coef),
        )
        return variables


def solve_whole(mo: mathopt.Model, x: dict, params, seconds: float | None, hints=None, root_search: bool = False):
    """Solve a grants MIP whose grant variables ``x`` are continuous: (result, whole grants by
    pair), the grants None when it finds none.

    With the binaries fixed, what is left is a transportation problem with whole bounds (per
    request a sum, per donor a budget), whose vertices are whole, and the solver returns a vertex:
    x integer made most of the branching (restricted_grants on S: 0.6-0.9 s -> 0.07-0.13 s). A
    value that comes back fractional all the same is made integer, and the model solved again.
    ``root_search``: see params.highs_parameters."""
    started = time.perf_counter()
    for _attempt in range(3):
        left = None if seconds is None else max(0.05, seconds - (time.perf_counter() - started))
        result = solve_highs(mo, highs_parameters(params, left, root_search=root_search), hints)
        if not result.has_primal_feasible_solution():
            return result, None
        values = result.variable_values(list(x.values()))
        if not make_whole(x.values(), values):
            return result, {k: int(round(v)) for k, v in zip(x.keys(), values) if round(v) > 0}
    return result, None


def make_whole(variables, values) -> bool:
    """Mark integer every variable whose value came back fractional; True when any did (solve
    again). Once they are integer the next solve cannot bring them back fractional, so this ends."""
    fractional = [var for var, v in zip(variables, values) if abs(v - round(v)) > 1e-6 and not var.integer]
    for var in fractional:
        var.integer = True
    return bool(fractional)


def _rerouted_flow(p: Problem, need: list[int], slots: list[int]) -> dict[int, int] | None:
    """The flow, re-routed a few rounds: each round makes dearer the pairs that carried a grant
    below the donor's minimum, or a request's smallest extra grant beyond its allowed donors, so
    the money goes elsewhere where it can. Returns the flow with the fewest such grants (each
    round is one min-cost flow: milliseconds)."""
    cost = np.ones(len(p.pair_donor), dtype=np.int64)
    best, fewest = None, None
    for _round in range(REROUTE_ROUNDS):
        flow = flow_grants(p, need, cost)
        if flow is None:
            return None
        bad = breaking(p, flow, slots)
        if fewest is None or len(bad) < fewest:
            best, fewest = flow, len(bad)
        if not bad:
            break
        cost[list(bad)] *= 4
    return best


def flow_grants(p: Problem, need: list[int], cost: np.ndarray | None = None) -> dict[int, int] | None:
    """Whole grants meeting ``need`` exactly within budgets and pair bounds (a min-cost flow: a
    vertex, so at most one split per donor), or None when no such grants exist."""
    remaining = np.array(p.budgets, dtype=np.int64)
    demand = np.array(need, dtype=np.int64)
    np.subtract.at(remaining, p.pair_donor, p.pair_commit)
    np.subtract.at(demand, p.pair_request, p.pair_commit)
    if (remaining < 0).any() or (demand < 0).any():
        return None
    x = {int(k): int(p.pair_commit[k]) for k in np.nonzero(p.pair_commit)[0]}
    total = int(demand.sum())
    if total == 0:
        return x
    live = np.nonzero((demand[p.pair_request] > 0) & (p.pair_cap > p.pair_commit))[0]
    n_d, n_r = len(p.budgets), p.n_requests
    source, sink = n_d + n_r, n_d + n_r + 1
    donors = np.nonzero(remaining > 0)[0]
    requests = np.nonzero(demand > 0)[0]
    tails = np.concatenate([p.pair_donor[live], np.full(len(donors), source), n_d + requests])
    heads = np.concatenate([n_d + p.pair_request[live], donors, np.full(len(requests), sink)])
    caps = np.concatenate([p.pair_cap[live] - p.pair_commit[live], remaining[donors], demand[requests]])
    unit = cost[live] if cost is not None else np.ones(len(live), dtype=np.int64)
    costs = np.concatenate([unit, np.zeros(len(donors) + len(requests), dtype=np.int64)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    ids = mcf.add_arcs_with_capacity_and_unit_cost(tails.astype(np.int32), heads.astype(np.int32), caps, costs)
    mcf.set_node_supply(source, total)
    mcf.set_node_supply(sink, -total)
    if mcf.solve_max_flow_with_min_cost() != mcf.OPTIMAL or mcf.maximum_flow() != total:
        return None
    flows = mcf.flows(ids[: len(live)])
    for k, v in zip(live[flows > 0].tolist(), flows[flows > 0].tolist()):
        x[k] = x.get(k, 0) + v
    return x


def polish_grants(p: Problem, plan: Plan, grants: dict[int, int], params, left: Callable[[], float | None]) -> int:
    """Fewer grants for the same plan: re-split, class by class, the money each donor gives the
    class, where the class has more grants than funded requests. Changes ``grants`` in place;
    returns how many classes got fewer grants. Stops when ``left()`` runs out."""
    need = money_demand(p, plan.funded, plan.delivered)
    slots = donor_slots(p, plan.delivered)
    by_class: dict[int, dict[int, int]] = defaultdict(dict)
    class_of = {j: c for c, js in enumerate(p.classes) for j in js}
    for k, v in grants.items():
        by_class[class_of[int(p.pair_request[k])]][k] = v
    excess = []
    for c, xs in by_class.items():
        extra = len(xs) - sum(1 for j in p.classes[c] if need[j] > 0)
        if extra > 0:
            excess.append((-extra, c))
    better = 0
    for _extra, c in sorted(excess):
        seconds = left()
        if seconds is not None and seconds < 0.05:
            break
        xs = by_class[c]
        capacity: dict[int, int] = defaultdict(int)
        for k, v in xs.items():
            capacity[int(p.pair_donor[k])] += v
        x, _bound, _opt = fewest_grants(p, need, slots, p.classes[c], capacity, xs, params, cap(params, seconds, 1.0))
        if x is not None and len(x) < len(xs):
            for k in xs:
                del grants[k]
            grants.update(x)
            better += 1
    return better


def cap(params, seconds: float | None, most: float) -> float | None:
    """Seconds for one small MIP: at most ``most`` and the time left. Under a work limit
    (``node_limit``) only the time left counts, so that the answer does not depend on the
    machine's speed: the node limit bounds the work instead."""
    if params.node_limit is not None:
        return seconds
    return most if seconds is None else max(0.05, min(most, seconds))


def fewest_grants(
    p: Problem,
    need: list[int],
    slots: list[int],
    requests,
    capacity: dict[int, int],
    hint: dict[int, int] | None,
    params,
    seconds: float | None,
    any_grants: bool = False,
) -> tuple[dict[int, int] | None, float, bool]:
    """Grants meeting ``need`` exactly for ``requests`` from donors' ``capacity``, with every
    per-grant rule and as few grants as possible (``any_grants``: the first found will do):
    (grants or None, bound on their number, proven)."""
    s = p.scenario
    mo = mathopt.Model(name="fewest-grants")
    x, z = {}, {}
    per_request, per_donor = defaultdict(list), defaultdict(list)
    for j in requests:
        if need[j] <= 0:
            continue
        for k in p.request_pairs(j):
            i = int(p.pair_donor[k])
            commit, cap = int(p.pair_commit[k]), int(p.pair_cap[k])
            room = min(cap, capacity.get(i, 0))
            if room < max(1, s.donors[i].min_grant or 0, commit):
                if commit:
                    return None, 0.0, False
                continue
            x[k] = mo.add_variable(lb=commit, ub=room)  # whole at a vertex: solve_whole
            z[k] = mo.add_variable(lb=1 if commit else 0, ub=1, is_integer=True)
            mo.add_linear_constraint(x[k] <= room * z[k])
            mo.add_linear_constraint(x[k] >= max(1, s.donors[i].min_grant or 0) * z[k])
            per_request[j].append(k)
            per_donor[i].append(k)
        if j not in per_request:
            return None, 0.0, False
        mo.add_linear_constraint(mathopt.fast_sum(x[k] for k in per_request[j]) == need[j])
        if len(per_request[j]) > slots[j]:
            mo.add_linear_constraint(mathopt.fast_sum(z[k] for k in per_request[j]) <= slots[j])
    for i, ks in per_donor.items():
        mo.add_linear_constraint(mathopt.fast_sum(x[k] for k in ks) <= capacity[i])
    if not any_grants:
        mo.minimize(mathopt.fast_sum(z.values()))
    result, grants = solve_whole(mo, x, params, seconds, _hint(x, z, hint))
    if grants is None:
        return None, 0.0, False
    optimal = result.termination.reason == mathopt.TerminationReason.OPTIMAL
    return grants, float(result.termination.objective_bounds.dual_bound), optimal


def _hint(x, z, hint: dict[int, int] | None):
    if not hint:
        return None
    values = {}
    for k, var in x.items():
        values[var] = hint.get(k, 0)
        values[z[k]] = 1 if hint.get(k, 0) > 0 else 0
    return mathopt.ModelSolveParameters(solution_hints=[mathopt.SolutionHint(variable_values=values)])

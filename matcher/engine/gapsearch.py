"""A start for large generalized-assignment rounds: column-generation dives, then a tabu search.

The shape (``gap_arrays``): in-kind offers only, every request must be funded and each offer is
worth its request's whole amount (so a request takes exactly one delivery), and the objective has a
``cost`` term. Every other term is then the same for every allocation, and the round is the
generalized assignment problem (GAP): items (requests) to agents (in-kind donors) at least cost,
within each agent's capacity. On the hardest literature instances (Chu & Beasley type D) HiGHS's own
heuristics stall about 1% above the optimum; this search finds allocations within a few tenths of a
percent in seconds (benchmarks/RESULTS.md), and the MIP then starts from the best of them and keeps
the only bound that counts.

1. Column generation (Dantzig-Wolfe): the master LP (GLOP) chooses, per agent, one set of items that
   fits its capacity; pricing is one 0/1 knapsack per agent on smoothed dual values (``_knapsacks``,
   all agents at once in numpy). Its bound is the Lagrangian one, well above the LP relaxation's.
   When the first pricing rounds show it cannot converge within a third of the search's time, the
   search stops and leaves the time to the exact model.
2. Dives: fix the column with the largest LP value, generate columns again, repeat until every agent
   is fixed or the rest cannot be covered. Later dives break ties with seeded noise.
3. Each dive's assignment (completed greedily where a dive ends early) goes through a tabu search with
   shift and swap moves and capacity excess penalised by adaptive weights (strategic oscillation).

Nothing here is a bound or a proof: the result is a hint for the exact model, checked like any other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from matcher.engine.compile import Problem
from matcher.engine.readout import Solution

NO_OFFER = 1e12  # cost of an (agent, item) pair without an offer: never chosen
DIVES = 6  # dives at most, time permitting
STALE_DIVES = 2  # and no more once this many dives in a row found nothing cheaper
WORK_LIMIT_DIVES = 2  # under a work limit (counts, not time, stop the search): fewer, so it ends in time
TABU_MOVES = 3000  # tabu iterations after each dive
BACKTRACKS = 3  # dead ends undone per dive before it is completed greedily
SMOOTHING = 0.7  # weight of the best-bound duals in pricing (dual smoothing)
ROOT_ROUNDS = 100  # pricing rounds the root usually needs (measured 60-160 on the Chu & Beasley set)
PACE_ROUNDS = 10  # rounds timed to foresee whether the root converges in its time
ROOT_SHARE = 0.6  # of the search's time, at most for the root's column generation
MAX_ITEMS = 1000  # the tabu search holds a few item x item arrays
MAX_TABLE = 50_000_000  # knapsack table cells (items x agents x capacity) the pricing may hold


@dataclass
class GapArrays:
    """A GAP round as arrays: item (request) x agent (in-kind donor)."""

    cost: np.ndarray  # float, NO_OFFER where the agent offers nothing for the item
    units: np.ndarray  # int, capacity + 1 where there is no offer
    capacity: np.ndarray  # int per agent
    offer: np.ndarray  # scenario offer index per (item, agent), -1 where none

    def total(self, x: np.ndarray) -> float:
        return float(self.cost[np.arange(len(x)), x].sum())

    def fits(self, x: np.ndarray) -> bool:
        load = np.bincount(x, weights=self.units[np.arange(len(x)), x], minlength=len(self.capacity))
        return bool((load <= self.capacity).all()) and bool((self.offer[np.arange(len(x)), x] >= 0).all())


def gap_arrays(p: Problem, terms: list[str]) -> GapArrays | None:
    """The round as a GAP, or None when it is not one (see the module docstring)."""
    s = p.scenario
    if len(p.pair_donor) or "cost" not in terms or not p.offers:
        return None
    if not all(r.must_fund for r in s.requests):
        return None
    agents = sorted({p.donor_index[s.offers[k].donor] for k in p.offers})
    column = {i: a for a, i in enumerate(agents)}
    n, m = p.n_requests, len(agents)
    capacity = np.array([s.donors[i].capacity or 0 for i in agents], dtype=np.int64)
    cost = np.full((n, m), NO_OFFER)
    units = np.repeat((capacity + 1)[None, :], n, axis=0)
    offer = np.full((n, m), -1, dtype=np.int64)
    for k in p.offers:
        o = s.offers[k]
        j, a = p.request_index[o.request], column[p.donor_index[o.donor]]
        if o.value != s.requests[j].amount or offer[j, a] >= 0:
            return None  # a part delivery, or two offers for one pair: not the plain GAP
        cost[j, a], units[j, a], offer[j, a] = o.cost, o.units, k
    if (offer < 0).all(axis=1).any():
        return None  # a request nobody can deliver: infeasible, the exact model says so
    if n > MAX_ITEMS or n * m * (int(capacity.max()) + 1) > MAX_TABLE:
        return None  # too large for this search's arrays: the exact model alone
    return GapArrays(cost, units, capacity, offer)


def search(p: Problem, g: GapArrays, seed: int, seconds: float | None, exact_work: bool) -> Solution | None:
    """The cheapest capacity-feasible assignment of ``g`` (``gap_arrays(p, ...)``) found within
    ``seconds`` (None: no time limit), as a Solution; None when nothing feasible was found. With
    ``exact_work`` (a work limit was asked for) the search runs WORK_LIMIT_DIVES dives and does not
    give up on a slow root, so runs that end before ``seconds`` agree."""
    deadline = None if seconds is None else time.perf_counter() + seconds
    x = best_assignment(g, seed, deadline, by_time=not exact_work)
    if x is None:
        return None
    delivered = {int(k) for k in g.offer[np.arange(len(x)), x]}
    funded = [r.amount for r in p.scenario.requests]
    return Solution({}, delivered, funded)


def best_assignment(g: GapArrays, seed: int, deadline: float | None, by_time: bool = True) -> np.ndarray | None:
    """Dives and tabu searches until the dives or the time run out; the best feasible assignment.
    ``by_time`` False (a work limit): no giving up on a slow root and WORK_LIMIT_DIVES dives, so the
    same input gives the same assignment whenever the deadline (a safety net then) is not reached."""
    rng = np.random.default_rng(seed)
    master = _Master(g)
    # the root's column generation is the costly part; when it cannot finish in ROOT_SHARE of the
    # time, the dives could not either: give the time back to the exact model
    root_deadline = deadline
    if deadline is not None and by_time:
        root_deadline = time.perf_counter() + (deadline - time.perf_counter()) * ROOT_SHARE
    if not master.generate(root_deadline, foresee=by_time):
        return None
    # costs are whole units, so an assignment costing the root bound rounded up is optimal
    floor = math.ceil(master.value() - 1e-6)
    best, best_cost, stale = None, np.inf, 0
    for d in range(DIVES if by_time else WORK_LIMIT_DIVES):
        if best_cost <= floor or stale == STALE_DIVES or (deadline is not None and time.perf_counter() > deadline):
            break
        x = master.dive(rng if d else None, deadline)
        if x is None:
            break
        # the tabu search gets at least a second: a dive cut by the deadline is often over capacity
        x = tabu(g, x, TABU_MOVES, rng, None if deadline is None else max(deadline, time.perf_counter() + 1.0))
        stale += 1
        if x is not None and g.total(x) < best_cost:
            best, best_cost, stale = x, g.total(x), 0
    return best


class _Master:
    """The set-partitioning LP over generated columns (one item set per agent), on GLOP."""

    def __init__(self, g: GapArrays) -> None:
        from ortools.linear_solver import pywraplp  # 0.08 s to import: only rounds that search pay it

        self.g = g
        n, m = g.cost.shape
        self.lp = pywraplp.Solver.CreateSolver("GLOP")
        self.optimal = pywraplp.Solver.OPTIMAL
        inf = self.lp.infinity()
        self.rows = [self.lp.Constraint(1, 1) for _ in range(n)] + [self.lp.Constraint(-inf, 1) for _ in range(m)]
        self.objective = self.lp.Objective()
        self.objective.SetMinimization()
        big = 10.0 * float(g.cost[g.offer >= 0].max()) + 1  # an uncovered item costs more than any column
        self.artificial = []  # one per item: keeps every dive's LP feasible
        for row in self.rows[:n]:
            var = self.lp.NumVar(0, 1, "")
            row.SetCoefficient(var, 1)
            self.objective.SetCoefficient(var, big)
            self.artificial.append(var)
        self.n = n
        self.vars: list = []
        self.columns: list[tuple[int, tuple[int, ...]]] = []
        self.seen: set[tuple[int, tuple[int, ...]]] = set()
        self.covered = np.zeros(n, dtype=bool)
        self.used = np.zeros(m, dtype=bool)

    def _add(self, a: int, items: tuple[int, ...]) -> None:
        var = self.lp.NumVar(0, 1, "")
        for i in (*items, self.n + a):
            self.rows[i].SetCoefficient(var, 1)
        self.objective.SetCoefficient(var, float(self.g.cost[list(items), a].sum()))
        self.vars.append(var)
        self.columns.append((a, items))
        self.seen.add((a, items))

    def _bounds(self, k: int, lower: float, upper: float) -> None:
        self.vars[k].SetBounds(lower, upper)

    def _solve(self) -> bool:
        return self.lp.Solve() == self.optimal

    def _duals(self) -> tuple[np.ndarray, np.ndarray]:
        dual = np.array([row.dual_value() for row in self.rows])
        return dual[: self.n], dual[self.n :]

    def _values(self) -> tuple[np.ndarray, np.ndarray]:
        """(artificial columns' values, generated columns' values)."""
        artificial = np.array([var.solution_value() for var in self.artificial])
        return artificial, np.array([var.solution_value() for var in self.vars])

    def value(self) -> float:
        return float(self.objective.Value())

    def generate(self, deadline: float | None, foresee: bool = False) -> bool:
        """Price columns until none has a negative reduced cost; False when out of time.

        Pricing uses smoothed duals (Wentges): a mix of the LP's duals and those that gave the best
        Lagrangian bound so far, which damps the duals' oscillation and cuts the number of LP
        solves; when the mix finds no column the LP's own duals decide (so the end is exact)."""
        g = self.g
        center, center_bound = None, -np.inf
        started, rounds = time.perf_counter(), 0
        while True:
            now = time.perf_counter()
            if deadline is not None and now > deadline:
                return False
            if foresee and deadline is not None and rounds == PACE_ROUNDS:
                if (now - started) * ROOT_ROUNDS / PACE_ROUNDS > deadline - started:
                    return False  # at this pace the root would not converge in time: give up now
            rounds += 1
            if not self._solve():
                return False
            u, v = self._duals()
            gain = u[:, None] - g.cost  # a column enters when its reduced cost under the LP's duals is negative
            smooth = center is not None
            while True:
                duals = SMOOTHING * center + (1 - SMOOTHING) * u if smooth and center is not None else u
                profit = np.where(self.covered[:, None], -1.0, duals[:, None] - g.cost)
                profit[:, self.used] = -1.0
                chosen, best = _knapsacks(profit, g.units, g.capacity)
                if not self.covered.any() and not self.used.any():  # the Lagrangian bound at these duals
                    bound = duals.sum() - np.maximum(best, 0.0).sum()
                    if bound > center_bound:
                        center, center_bound = duals, bound
                worth = np.where(chosen, gain, 0.0).sum(axis=0) + v
                added = 0
                for a in np.flatnonzero((worth > 1e-6) & ~self.used):
                    key = (int(a), tuple(np.flatnonzero(chosen[:, a]).tolist()))
                    if key not in self.seen:
                        self._add(*key)
                        added += 1
                if added or not smooth:
                    break
                smooth = False  # mispricing: price at the LP's duals before concluding
            if not added:
                return True

    def dive(self, rng: np.random.Generator | None, deadline: float | None) -> np.ndarray | None:
        """Fix columns one by one (largest LP value first; ``rng`` adds noise to break ties),
        re-pricing after each; the assignment, completed greedily where the dive ends early.
        The master is left as it was found, with its columns."""
        fixed: list[int] = []
        forbidden: list[int] = []
        backtracks = 0
        while not self.covered.all():
            if not self.generate(deadline):
                break
            artificial, values = self._values()
            if artificial.max() > 1e-6:  # the rest cannot be covered
                if not fixed or backtracks == BACKTRACKS:
                    break
                k = fixed.pop()
                self._release(k)
                self._bounds(k, 0.0, 0.0)
                forbidden.append(k)
                backtracks += 1
                continue
            free = np.array([not self.used[a] for a, _ in self.columns]) & (values > 1e-6)
            if not free.any():
                break
            score = values + (rng.uniform(0, 0.3, len(values)) if rng is not None else 0.0)
            k = int(np.flatnonzero(free)[np.argmax(score[free])])
            a, items = self.columns[k]
            self._bounds(k, 1.0, 1.0)
            self.used[a] = True
            self.covered[list(items)] = True
            fixed.append(k)
        x = self._assignment(fixed)
        for k in fixed:
            self._release(k)
        for k in forbidden:
            self._bounds(k, 0.0, 1.0)
        return x

    def _release(self, k: int) -> None:
        a, items = self.columns[k]
        self._bounds(k, 0.0, 1.0)
        self.used[a] = False
        self.covered[list(items)] = False

    def _assignment(self, fixed: list[int]) -> np.ndarray:
        g = self.g
        n, m = g.cost.shape
        x = np.full(n, -1, dtype=np.int64)
        for k in fixed:
            a, items = self.columns[k]
            x[list(items)] = a
        placed = np.flatnonzero(x >= 0)
        load = np.bincount(x[placed], weights=g.units[placed, x[placed]], minlength=m)
        for i in np.flatnonzero(x < 0):  # the cheapest agent with room, else the least overloaded
            room = np.flatnonzero((load + g.units[i] <= g.capacity) & (g.offer[i] >= 0))
            offered = np.flatnonzero(g.offer[i] >= 0)
            if len(room):
                a = room[np.argmin(g.cost[i, room])]
            else:
                a = offered[np.argmin(load[offered] + g.units[i, offered])]
            x[i] = a
            load[a] += g.units[i, a]
        return x


def _knapsacks(profit: np.ndarray, units: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every agent a at once: the 0/1 knapsack max Σ profit[i,a] x_i, Σ units[i,a] x_i <= capacity[a]
    (items of profit <= 0 never taken). Returns the chosen items (n x m) and each agent's best profit."""
    n, m = profit.shape
    top = int(capacity.max())
    r = np.arange(top + 1)[None, :]
    agents = np.arange(m)[:, None]
    fits = r <= capacity[:, None]
    dp = np.where(fits, 0.0, -np.inf)
    take = np.zeros((n, m, top + 1), dtype=bool)
    for i in range(n):
        active = profit[i] > 0
        if not active.any():
            continue
        src = r - units[i][:, None]
        ok = (src >= 0) & fits & active[:, None]
        candidate = np.where(ok, dp[agents, np.maximum(src, 0)] + profit[i][:, None], -np.inf)
        better = candidate > dp
        take[i] = better
        dp = np.where(better, candidate, dp)
    end = dp.argmax(axis=1)
    chosen = np.zeros((n, m), dtype=bool)
    for a in range(m):
        left = int(end[a])
        for i in range(n - 1, -1, -1):
            if take[i, a, left]:
                chosen[i, a] = True
                left -= int(units[i, a])
    return chosen, dp[np.arange(m), end]


def tabu(g: GapArrays, x0: np.ndarray, moves: int, rng: np.random.Generator, deadline: float | None):
    """Tabu search over shift and swap moves from ``x0``; capacity excess costs alpha per unit per
    agent, alpha rising while an agent is over and falling while all fit. Returns the best
    capacity-feasible assignment seen (None if none)."""
    c, w, b = g.cost, g.units.astype(float), g.capacity.astype(float)
    n, m = c.shape
    items = np.arange(n)
    x = x0.copy()
    load = np.bincount(x, weights=w[items, x], minlength=m)
    offered = g.offer >= 0
    # a unit of excess starts dearer than any cost difference, then adapts
    alpha = np.full(m, float(c[offered].max()) / max(1.0, float(w[offered].min())))
    until = np.zeros((n, m), dtype=np.int64)  # (item, agent) may not be re-entered before this move
    best, best_cost = (x.copy(), g.total(x)) if g.fits(x) else (None, np.inf)
    cost_now = g.total(x)
    lower = np.tril(np.ones((n, n), dtype=bool))
    for it in range(1, moves + 1):
        if deadline is not None and it % 64 == 0 and time.perf_counter() > deadline:
            break
        over = np.maximum(0.0, load - b)
        mine_c, mine_w = c[items, x], w[items, x]
        tabu_now = until > it
        # shift item i to agent a
        after_out = np.maximum(0.0, load[x] - mine_w - b[x])
        after_in = np.maximum(0.0, load[None, :] + w - b[None, :])
        d_cost = c - mine_c[:, None]
        d_shift = d_cost + (alpha[x] * (after_out - over[x]))[:, None] + alpha[None, :] * (after_in - over[None, :])
        excess = over.sum() - over[x][:, None] - over[None, :] + after_out[:, None] + after_in
        allowed = ~tabu_now | ((excess <= 0) & (cost_now + d_cost < best_cost))  # aspiration
        d_shift = np.where(allowed, d_shift, np.inf)
        d_shift[items, x] = np.inf
        # swap items i and j (i to x[j], j to x[i])
        cx, wx = c[:, x], w[:, x]  # cx[i, j] = c[i, x[j]]
        d_cost2 = cx + cx.T - mine_c[:, None] - mine_c[None, :]
        load_i = load[x][:, None] - mine_w[:, None] + wx.T
        load_j = load[x][None, :] - mine_w[None, :] + wx
        over_i = np.maximum(0.0, load_i - b[x][:, None])
        over_j = np.maximum(0.0, load_j - b[x][None, :])
        d_swap = (
            d_cost2 + alpha[x][:, None] * (over_i - over[x][:, None]) + alpha[x][None, :] * (over_j - over[x][None, :])
        )
        excess2 = over.sum() - over[x][:, None] - over[x][None, :] + over_i + over_j
        tabu2 = tabu_now[:, x] | tabu_now[:, x].T
        allowed2 = ~tabu2 | ((excess2 <= 0) & (cost_now + d_cost2 < best_cost))
        d_swap = np.where(allowed2 & ~lower & (x[:, None] != x[None, :]), d_swap, np.inf)
        k1, k2 = int(np.argmin(d_shift)), int(np.argmin(d_swap))
        if not np.isfinite(min(d_shift.flat[k1], d_swap.flat[k2])):
            until[:] = 0
            continue
        if d_shift.flat[k1] <= d_swap.flat[k2]:
            i, a = divmod(k1, m)
            steps = [(i, a)]
        else:
            i, j = divmod(k2, n)
            steps = [(i, int(x[j])), (j, int(x[i]))]
        for i, a in steps:
            old = x[i]
            until[i, old] = it + rng.integers(2, 6)
            load[old] -= w[i, old]
            load[a] += w[i, a]
            cost_now += c[i, a] - c[i, old]
            x[i] = a
        if (load <= b).all():
            if cost_now < best_cost:
                best, best_cost = x.copy(), cost_now
            alpha = np.maximum(alpha / 1.02, 1e-3)
        else:
            alpha = np.where(load > b, alpha * 1.02, alpha)
    return best

"""Mend grants that break a per-grant rule by moving money along short exchange paths.

A min-cost flow (realise.py) meets every request's money within budgets, but a vertex of the flow
leaves some grants below their donor's minimum (rule 5) or gives a request more donors than allowed
(rule 7). Most of these are mended by moving money along a path that alternates requests and donors,
which keeps every request's money, every donor's total and every other rule:

- drop the grant (d1, r1) of v: some donor d2 gives r1 v more; when d2 has no v to spare it gives a
  request r2 v less, which another donor gives v more, and so on until a donor with v to spare (d1
  has v now) -- breadth first, at most DEPTH donors;
- raise the grant (d1, r1) to d1's minimum by delta: another donor of r1 gives r1 delta less, and
  d1's delta comes from its spare money or from a request r2 it gives delta less, which gets delta
  along such a path.

A move is made only when every grant it touches ends at 0 or within its bounds (minimum, commitment,
maximum grant and earmark cap) and no request ends with more donors than allowed, so a move never
breaks a rule it did not find broken. What cannot be mended this way goes on to the MIPs.
"""

from __future__ import annotations

from collections import defaultdict

from matcher.engine.compile import Problem


class _Grants:
    """Grants as a mutable table, with per-request and per-donor indexes and each donor's spare money."""

    def __init__(self, p: Problem, flow: dict[int, int]):
        self.p = p
        self.x = dict(flow)
        self.of_request: dict[int, set[int]] = defaultdict(set)
        self.of_donor: dict[int, set[int]] = defaultdict(set)
        self.spare = list(p.budgets)
        for k, v in flow.items():
            if v > 0:
                self._link(k)
                self.spare[int(p.pair_donor[k])] -= v
        self.least = [max(1, int(m)) for m in p.min_grants]

    def _link(self, k: int) -> None:
        self.of_request[int(self.p.pair_request[k])].add(k)
        self.of_donor[int(self.p.pair_donor[k])].add(k)

    def _unlink(self, k: int) -> None:
        self.of_request[int(self.p.pair_request[k])].discard(k)
        self.of_donor[int(self.p.pair_donor[k])].discard(k)

    def fits(self, k: int, value: int) -> bool:
        """A grant of ``value`` on pair k keeps rule 5, the pair's cap and its commitment."""
        commit = int(self.p.pair_commit[k])
        if value == 0:
            return commit == 0
        return max(self.least[int(self.p.pair_donor[k])], commit) <= value <= int(self.p.pair_cap[k])

    def donors(self, j: int) -> int:
        return len(self.of_request[j])

    def add(self, k: int, delta: int) -> None:
        old = self.x.get(k, 0)
        new = old + delta
        if old == 0 and new > 0:
            self._link(k)
        elif old > 0 and new == 0:
            self._unlink(k)
        if new:
            self.x[k] = new
        else:
            self.x.pop(k, None)
        self.spare[int(self.p.pair_donor[k])] -= delta

    def apply(self, moves: list[tuple[int, int]]) -> None:
        for k, delta in moves:
            self.add(k, delta)


def breaking(p: Problem, x: dict[int, int], slots: list[int]) -> list[int]:
    """The grants that break rule 5 (below the donor's minimum) or rule 7 (a request's smallest
    grants beyond its allowed donors), in a fixed order."""
    least = p.min_grants
    bad = {k for k, v in x.items() if 0 < v < least[p.pair_donor[k]] and not p.pair_commit[k]}
    per_request: dict[int, list[int]] = defaultdict(list)
    for k, v in x.items():
        if v > 0:
            per_request[int(p.pair_request[k])].append(k)
    for j, ks in per_request.items():
        over = len(ks) - slots[j]
        if over > 0:
            movable = sorted((k for k in ks if not p.pair_commit[k]), key=lambda k: (x[k], k))
            bad.update(movable[:over])
    return sorted(bad)


def mend(p: Problem, flow: dict[int, int], slots: list[int], rounds: int = 3) -> dict[int, int]:
    """The flow's grants with as many breaking grants mended by exchange paths as found (a copy)."""
    g = _Grants(p, flow)
    for _round in range(rounds):
        bad = breaking(p, g.x, slots)
        if not bad:
            break
        mended = 0
        for k in bad:
            if g.x.get(k, 0) > 0 and (_drop(g, k, slots) or _raise(g, k, slots)):
                mended += 1
        if not mended:
            break
    return g.x


DEPTH = 3  # donors on an exchange path


def _drop(g: _Grants, k1: int, slots: list[int]) -> bool:
    """Take grant k1 = (d1, r1) to 0, its money found for r1 along an exchange path."""
    p = g.p
    if p.pair_commit[k1]:
        return False
    r1, v = int(p.pair_request[k1]), g.x[k1]
    g.add(k1, -v)
    path = _path(g, r1, v, slots, {k1})
    if path is None:
        g.add(k1, v)
        return False
    g.apply(path)
    return True


def _raise(g: _Grants, k1: int, slots: list[int]) -> bool:
    """Lift grant k1 = (d1, r1) to its donor's minimum by delta: another donor of r1 gives delta
    less, and d1's delta comes from its spare money or from a request r2 it gives delta less, which
    gets delta along an exchange path."""
    p = g.p
    d1, r1 = int(p.pair_donor[k1]), int(p.pair_request[k1])
    if g.donors(r1) > slots[r1]:
        return False
    target = max(g.least[d1], int(p.pair_commit[k1]))
    delta = target - g.x[k1]
    if delta <= 0 or not g.fits(k1, target):
        return False
    for k2 in sorted(g.of_request[r1]):
        if int(p.pair_donor[k2]) == d1 or not g.fits(k2, g.x[k2] - delta):
            continue
        g.apply([(k2, -delta), (k1, delta)])
        if g.spare[int(p.pair_donor[k1])] >= 0:
            return True
        for k3 in sorted(g.of_donor[d1]):
            if k3 == k1 or not g.fits(k3, g.x[k3] - delta):
                continue
            g.add(k3, -delta)
            path = _path(g, int(p.pair_request[k3]), delta, slots, {k1, k2, k3})
            if path is not None:
                g.apply(path)
                return True
            g.add(k3, delta)
        g.apply([(k1, -delta), (k2, delta)])
    return False


def _path(g: _Grants, r0: int, amount: int, slots: list[int], banned: set[int]) -> list[tuple[int, int]] | None:
    """Moves that give request r0 ``amount`` more: a donor d gives r0 more, and when d has no
    spare money it gives a request r2 as much less, which another donor gives more, and so on (at
    most DEPTH donors, breadth first). Every grant the moves touch ends at 0 or within its bounds,
    and no request ends with more donors than allowed. None when no such path exists."""
    p = g.p
    came: dict[int, tuple[int, int] | None] = {r0: None}  # request -> (pair that gives it less, donor) on the path
    via: dict[int, tuple[int, int]] = {}  # donor -> (pair that gives more, request)
    frontier = [r0]
    for _depth in range(DEPTH):
        reached = []
        for r in frontier:
            step = came[r]
            lost = step is not None and g.x[step[0]] == amount  # r loses that donor on the path
            for k in p.request_pairs(r):
                d = int(p.pair_donor[k])
                if d in via or k in banned:
                    continue
                have = g.x.get(k, 0)
                if not g.fits(k, have + amount) or (have == 0 and g.donors(r) + 1 - lost > slots[r]):
                    continue
                via[d] = (k, r)
                if g.spare[d] >= amount:
                    return _moves(p, came, via, d, amount)
                for k2 in sorted(g.of_donor[d]):
                    r2 = int(p.pair_request[k2])
                    if r2 in came or k2 in banned or not g.fits(k2, g.x[k2] - amount):
                        continue
                    came[r2] = (k2, d)
                    reached.append(r2)
        frontier = reached
        if not frontier:
            break
    return None


def _moves(p: Problem, came, via, d: int, amount: int) -> list[tuple[int, int]]:
    moves = []
    while True:
        k, r = via[d]
        moves.append((k, amount))
        if came[r] is None:
            return moves
        k2, d = came[r]
        moves.append((k2, -amount))

"""Seeded draws of uncertain pledges: which envelopes arrive, and how much of each.

A donor with ``confidence`` c arrives in full with probability c, else not at all; a donor with
``budget_range: [low, high]`` brings a whole amount uniform in [low, high]; both may combine.
Every (seed, draw, donor) has its own random stream, so a draw's outcome depends neither on the
worker that solves it, nor on the order of the donors, nor on which other donors are uncertain.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from fractions import Fraction
from typing import Any

from matcher.domain import Donor, Scenario
from matcher.errors import MatcherError

Pledges = dict[str, int]  # donor id -> drawn budget (donor currency) or in-kind capacity (units)


def uncertain_donors(scenario: Scenario) -> list[Donor]:
    """Donors whose pledge is uncertain, in file order."""
    return [d for d in scenario.donors if d.confidence is not None or d.budget_range is not None]


def check_uncertainty(scenario: Scenario) -> None:
    """A ``budget_range`` only makes sense on a funds donor: say so before any draw is made."""
    for i, d in enumerate(scenario.donors):
        if d.kind == "in_kind" and d.budget_range is not None:
            raise MatcherError(
                f"donors[{i}].budget_range: '{d.id}' is an in-kind donor; use 'confidence' for its capacity"
            )


def draw_pledges(scenario: Scenario, seed: int, draw: int) -> Pledges:
    """What arrives in draw number ``draw``: a drawn amount for each uncertain donor, others as pledged."""
    return _drawn(uncertain_donors(scenario), committed_floors(scenario), seed, draw)[0]


def draw_all(scenario: Scenario, seed: int, draws: int) -> tuple[list[Pledges], dict[str, float]]:
    """Every draw's pledges and, per uncertain donor, the share of the draws in which its envelope
    arrives (a lost envelope counts as lost even when a commitment keeps part of the money in the
    draw), in one pass."""
    donors, floors = uncertain_donors(scenario), committed_floors(scenario)
    arrived = dict.fromkeys((d.id for d in donors), 0)
    out = []
    for k in range(draws):
        pledges, came = _drawn(donors, floors, seed, k)
        for did in came:
            arrived[did] += 1
        out.append(pledges)
    return out, {did: n / draws if draws else 0.0 for did, n in arrived.items()}


MAX_EXACT_CASES = 10_000


def exact_cases(scenario: Scenario) -> tuple[list[Pledges], dict[str, float]]:
    """Every combination of arriving and lost envelopes, each repeated in proportion to its exact
    probability, as equally likely cases (Japan at 0.7: 7 cases with it, 3 without; with Norway at 0.8
    too: 50 cases, 28 with both), and per uncertain donor its confidence. The sweep's shares over these
    cases are the exact probabilities. Confidence only: a budget_range is a range of amounts."""
    donors = uncertain_donors(scenario)
    for i, d in enumerate(scenario.donors):
        if d.budget_range is not None:
            raise MatcherError(
                f"--exact: donors[{i}].budget_range: '{d.id}' brings a range of amounts, which no list of cases "
                "covers; use --draws N"
            )
    sure = [_probability(d.confidence) for d in donors]
    open_ = [c for c in sure if 0 < c < 1]  # a pledge at 0 or 1 is certain: it doubles nothing
    if 2 ** len(open_) > MAX_EXACT_CASES:  # before any combination is made: 2^20 of them took 45 s
        raise MatcherError(
            f"--exact: {len(open_)} pledges between 0 and 1 make {2 ** len(open_):,} combinations (at most "
            f"{MAX_EXACT_CASES:,}); use --draws N"
        )
    branching = [i for i, c in enumerate(sure) if 0 < c < 1]
    worlds = []
    for bits in itertools.product((True, False), repeat=len(branching)):
        arrive = [c == 1 for c in sure]
        for i, bit in zip(branching, bits, strict=True):
            arrive[i] = bit
        weight = math.prod((sure[i] if arrive[i] else 1 - sure[i] for i in branching), start=Fraction(1))
        worlds.append((arrive, weight))
    cases = math.lcm(*(w.denominator for _a, w in worlds))
    if cases > MAX_EXACT_CASES:
        raise MatcherError(
            f"--exact: the {len(worlds):,} combinations of {len(open_)} uncertain pledges need {cases:,} equally "
            f"likely cases (at most {MAX_EXACT_CASES:,}); use --draws N, or write the confidences with fewer decimals"
        )
    floors = committed_floors(scenario)
    out: list[Pledges] = []
    for arrive, weight in worlds:
        pledges = {
            d.id: max((d.budget if d.kind == "funds" else d.capacity) or 0 if a else 0, floors.get(d.id, 0))
            for d, a in zip(donors, arrive, strict=True)
        }
        out += [pledges] * int(weight * cases)
    return out, {d.id: float(c) for d, c in zip(donors, sure, strict=True)}


def _probability(confidence: float | None) -> Fraction:
    """A confidence as the exact fraction it stands for: 0.7 is 7/10, and 0.5249999999999999 (0.7 x 0.75
    in floating point, from --set or --vary factors) is 21/40."""
    if confidence is None:
        return Fraction(1)
    near = Fraction(confidence).limit_denominator(MAX_EXACT_CASES)
    return near if abs(near - Fraction(confidence)) < 1e-12 else Fraction(str(confidence))


def arrival_shares(scenario: Scenario, seed: int, draws: int) -> dict[str, float]:
    """Per uncertain donor, the share of the draws in which its envelope arrives (see draw_all)."""
    return draw_all(scenario, seed, draws)[1]


def _drawn(donors: list[Donor], floors: dict[str, int], seed: int, draw: int) -> tuple[Pledges, list[str]]:
    """(the pledges of one draw, the ids of the donors whose envelope arrives in it)."""
    pledges: Pledges = {}
    came = []
    for d in donors:
        amount, arrives = draw_donor(d, seed, draw)
        pledges[d.id] = max(amount if arrives else 0, floors.get(d.id, 0))
        if arrives:
            came.append(d.id)
    return pledges, came


def draw_donor(donor: Donor, seed: int, draw: int) -> tuple[int, bool]:
    """(the amount drawn, whether the envelope arrives) for one donor in one draw. Both numbers are
    always drawn so the stream never shifts."""
    rng = random.Random(f"{seed}:{draw}:{donor.id}")
    arrives = rng.random()
    if donor.budget_range is not None:
        low, high = donor.budget_range
        amount = rng.randint(low, high)
    else:
        amount = donor.budget if donor.kind == "funds" else donor.capacity  # type: ignore[assignment]
    return int(amount or 0), donor.confidence is None or arrives < donor.confidence


def committed_floors(scenario: Scenario) -> dict[str, int]:
    """Per funds donor, the smallest budget (donor currency) that still covers its commitments (each
    at least the donor's minimum grant).

    A commitment is a grant already promised, so the money behind it is not in doubt: a draw never
    takes a donor below it (the scenario would otherwise break its own commitments).
    """
    donors = {d.id: d for d in scenario.donors}
    per_pair: dict[tuple[str, str], int] = {}
    for c in scenario.commitments:
        per_pair[(c.donor, c.request)] = per_pair.get((c.donor, c.request), 0) + c.amount
    committed: dict[str, int] = {}
    for (did, _rid), amount in per_pair.items():
        # a committed grant is at least the donor's minimum grant (engine/compile.py), so is its money
        committed[did] = committed.get(did, 0) + max(amount, donors[did].min_grant or 0)
    # never above the pledge: commitments beyond the whole envelope make the round infeasible as written
    # (domain.commitment_conflicts), and every draw must be so too, not rescued by a floor above it
    return {
        did: min(_budget_covering(scenario, donors[did], amount), _most(donors[did]))
        for did, amount in committed.items()
    }


def _most(donor: Donor) -> int:
    """The most a donor's envelope can bring in a draw (donor currency)."""
    top = donor.budget_range[1] if donor.budget_range is not None else 0
    return max(donor.budget or 0, top)


def _budget_covering(scenario: Scenario, donor: Donor, amount: int) -> int:
    """Smallest whole budget in the donor's currency that converts to at least ``amount``."""
    if donor.currency is None or donor.currency == scenario.currency:
        return amount
    budget = math.ceil(amount / scenario.fx[donor.currency])
    while scenario.convert(budget, donor.currency) < amount:  # float rounding: step up to the exact floor
        budget += 1
    while budget > 0 and scenario.convert(budget - 1, donor.currency) >= amount:
        budget -= 1
    return budget


def apply_pledges(data: dict[str, Any], pledges: Pledges) -> dict[str, Any]:
    """A copy of scenario data with the drawn pledges in place of the pledged ones.

    An in-kind donor that does not arrive keeps no offers: nothing of it can be delivered.
    """
    out = copy.copy(data)
    donors = []
    lost: set[str] = set()
    for d in data["donors"]:
        if d["id"] in pledges:
            d = dict(d)
            key = "capacity" if d.get("kind") == "in_kind" else "budget"
            d[key] = pledges[d["id"]]
            if key == "capacity" and d[key] == 0:
                lost.add(d["id"])
        donors.append(d)
    out["donors"] = donors
    if lost:
        out["offers"] = [o for o in data.get("offers", []) if o["donor"] not in lost]
    return out


def pledge_key(pledges: Pledges) -> tuple[tuple[str, int], ...]:
    """A hashable form of a draw: draws with the same key are the same scenario, solved once."""
    return tuple(sorted(pledges.items()))

"""Properties on generated tiny valid scenarios: every solution passes the independent validator,
the reported objective is the recomputed one, a second solve with the same seed is identical, and
the optimum's coverage equals brute-force enumeration of every integer allocation."""

from __future__ import annotations

import itertools
import math

from helpers import scenario, solved
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.domain import earmark_block
from matcher.result import Allocation
from matcher.validate import objective_terms, violations

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COUNTRIES = ["NER", "MLI", "PER"]
THEMES = ["stockpile", "marking"]


@st.composite
def donors(draw, n_max: int, budget_max: int) -> list[dict]:
    out = []
    for k in range(draw(st.integers(1, n_max))):
        d: dict = {"id": f"D{k}", "budget": draw(st.integers(0, budget_max))}
        low = draw(st.none() | st.integers(1, 3))
        high = draw(st.none() | st.integers(2, 6))
        if low is not None:
            d["min_grant"] = low
        if high is not None and (low is None or high >= low):
            d["max_grant"] = high
        if draw(st.booleans()):
            d["themes"] = draw(st.lists(st.sampled_from(THEMES), min_size=1, max_size=2, unique=True))
        if draw(st.booleans()):
            d["countries"] = draw(st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=2, unique=True))
        if draw(st.booleans()):
            d["partner_types"] = ["un"]
        out.append(d)
    return out


@st.composite
def requests(draw, n_max: int, amount_max: int) -> list[dict]:
    out = []
    for k in range(draw(st.integers(1, n_max))):
        r: dict = {
            "id": f"R{k}",
            "country": draw(st.sampled_from(COUNTRIES)),
            "theme": draw(st.sampled_from(THEMES)),
            "amount": draw(st.integers(1, amount_max)),
            "priority": draw(st.integers(1, 5)),
            "min_funding": draw(st.sampled_from([0, 0.5, 1.0])),
        }
        if draw(st.booleans()):
            r["partner"] = draw(st.sampled_from(["UNREC", "MAG"]))
        if k and draw(st.integers(0, 3)) == 0:
            r["requires"] = [f"R{draw(st.integers(0, k - 1))}"]
        out.append(r)
    return out


@st.composite
def scenarios(draw, donors_max=3, requests_max=5, amount_max=6, budget_max=8):
    policy: dict = {}
    if draw(st.booleans()):
        policy["max_country_share"] = draw(st.sampled_from([0.5, 0.7]))
    if draw(st.booleans()):
        policy["max_donors_per_request"] = 1
    if draw(st.booleans()):
        policy["region_floors"] = {"africa": draw(st.sampled_from([0.3, 0.5]))}
    partners = [
        {"id": "UNREC", "type": "un", "max_projects": draw(st.integers(0, 2))},
        {"id": "MAG", "type": "ngo"},
    ]
    money = draw(donors(donors_max, budget_max))
    reqs = draw(requests(requests_max, amount_max))
    extra: dict = {}
    if draw(st.booleans()):  # an in-kind donor with a few whole-or-nothing offers
        capacity = draw(st.integers(0, 3))
        money.append({"id": "TEAM", "kind": "in_kind", "capacity": capacity, "unit": "team-week"})
        targets = draw(st.lists(st.sampled_from([r["id"] for r in reqs]), max_size=2, unique=True))
        by_id = {r["id"]: r for r in reqs}
        extra["offers"] = [
            {
                "donor": "TEAM",
                "request": rid,
                "units": draw(st.integers(0, min(2, capacity))),
                "value": draw(st.integers(0, by_id[rid]["amount"])),
                "cost": draw(st.integers(0, 2)),
            }
            for rid in targets
        ]
    return scenario(money, reqs, partners=partners, policy=policy, **extra)


@SETTINGS
@given(scenarios())
def test_solution_passes_the_validator_and_objective_recomputes(s):
    result = solved(s)
    assert result.status == "optimal"  # the empty allocation is always valid here
    assert violations(s, list(result.allocations)) == []
    for outcome in result.requests:  # every request not fully funded says why
        assert (outcome.status == "funded") == (outcome.reasons == []) == (outcome.reason_codes == [])
    terms = objective_terms(s, result.allocations)
    for term, value in result.objective.items():
        assert math.isclose(value, terms[term], rel_tol=1e-9, abs_tol=1e-9), term


@SETTINGS
@given(scenarios())
def test_same_seed_same_allocation(s):
    first, second = solved(s, seed=7), solved(s, seed=7)
    assert first.allocations == second.allocations
    assert first.objective == second.objective
    assert first.requests == second.requests


def brute_force_coverage(s) -> float:
    """The best coverage over every integer allocation the validator accepts."""
    partners = {p.id: p for p in s.partners}
    choices, pairs = [], []
    for d in (d for d in s.donors if d.kind == "funds"):
        for r in s.requests:
            if earmark_block(d, r, partners.get(r.partner or "")) is not None:
                continue
            top = min(r.amount, s.budget_in_currency(d), d.max_grant or r.amount)
            pairs.append((d.id, r.id))
            choices.append([0] + list(range(max(1, d.min_grant or 1), top + 1)))
    deliveries = [
        Allocation(donor=o.donor, request=o.request, amount=o.value, kind="in_kind", units=o.units) for o in s.offers
    ]
    best = 0.0
    switches = itertools.product([0, 1], repeat=len(deliveries))
    for amounts, delivered in itertools.product(list(itertools.product(*choices)), list(switches)):
        given = zip(pairs, amounts, strict=True)
        allocations = [Allocation(donor=d, request=r, amount=a) for (d, r), a in given if a > 0]
        allocations += [o for o, u in zip(deliveries, delivered, strict=True) if u]
        if not violations(s, allocations):
            best = max(best, objective_terms(s, allocations)["coverage"])
    return best


@SETTINGS
@given(scenarios(donors_max=2, requests_max=3, amount_max=4, budget_max=6))
def test_optimum_equals_brute_force(s):
    result = solved(s)
    assert math.isclose(result.objective["coverage"], brute_force_coverage(s), rel_tol=1e-6, abs_tol=1e-6)

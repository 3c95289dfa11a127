"""Small builders shared by the tests: a scenario from a few keys, a solve, the funded amounts."""

from __future__ import annotations

from typing import Any

from matcher.domain import Scenario
from matcher.engine import SolveParams, solve
from matcher.result import Allocation, Result
from matcher.scenario_io import parse_scenario


def scenario(donors: list[dict], requests: list[dict], **top: Any) -> Scenario:
    """A USD scenario named 'fixture' with the given donors, requests and top-level keys."""
    data = {"name": "fixture", "currency": "USD", "donors": donors, "requests": requests, **top}
    return parse_scenario(data, source="fixture")


def solved(s: Scenario, seed: int = 0) -> Result:
    """Solve with the tiny-fixture limits (single thread, 10 s)."""
    return solve(s, SolveParams(time_limit=10, seed=seed))


def funded(result: Result) -> dict[str, int]:
    """Request id -> funded amount."""
    return {r.id: r.funded for r in result.requests}


def grants(result: Result) -> dict[tuple[str, str], int]:
    """(donor, request) -> amount of every allocation."""
    return {(a.donor, a.request): a.amount for a in result.allocations}


def alloc(donor: str, request: str, amount: int, **kw: Any) -> Allocation:
    """One allocation, as a validator input."""
    return Allocation(donor=donor, request=request, amount=amount, **kw)


def req(rid: str, country: str = "NER", amount: int = 100, priority: int = 3, **kw: Any) -> dict:
    """A request with a sensible theme; keyword arguments add or override keys."""
    return {"id": rid, "country": country, "theme": "stockpile", "amount": amount, "priority": priority, **kw}


def two_uncertain_donors() -> dict:
    """Two requests, each with its own donor of confidence 0.95: each is safe to promise on its own, both
    together only when both donors arrive (sweep figures and saved sweeps)."""
    return {
        "name": "two",
        "currency": "USD",
        "donors": [
            {"id": "JPN", "budget": 100, "confidence": 0.95, "countries": ["NER"]},
            {"id": "NOR", "budget": 100, "confidence": 0.95, "countries": ["PER"]},
        ],
        "requests": [
            {"id": "NER-1", "country": "NER", "theme": "stockpile", "amount": 100},
            {"id": "PER-1", "country": "PER", "theme": "stockpile", "amount": 100},
        ],
    }

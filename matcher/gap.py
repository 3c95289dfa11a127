"""OR-Library generalized assignment files -> scenario data, as the spec's in-kind section reads them.

One in-kind donor per agent (capacity b[i]), one must_fund request per item, one offer per
(agent, item) with the weight as units, value = the request's amount and the cost as cost, and
``objective: [coverage, cost]``: the scenario's optimal cost is the instance's minimum.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matcher.errors import MatcherError

ITEM_AMOUNT = 1  # every item is one whole unit of "funding": delivered or not


def read_gap(path: str | Path) -> dict[str, Any]:
    """Parse ``m n``, costs c[i][j], weights w[i][j], capacities b[i] into scenario data."""
    p = Path(path)
    if not p.is_file():
        raise MatcherError(f"{path}: no such file; check the path")
    tokens = p.read_text(encoding="utf-8").split()
    try:
        numbers = [int(t) for t in tokens]
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        raise MatcherError(f"{path}: '{bad}' is not a whole number; is this an OR-Library GAP file?") from None
    if len(numbers) < 2:
        raise MatcherError(f"{path}: empty; a GAP file starts with the numbers of agents and items")
    m, n = numbers[0], numbers[1]
    expected = 2 + 2 * m * n + m
    if m <= 0 or n <= 0 or len(numbers) != expected:
        raise MatcherError(f"{path}: {m} agents x {n} items needs {expected} numbers, found {len(numbers)}")
    cost = [numbers[2 + i * n : 2 + (i + 1) * n] for i in range(m)]
    base = 2 + m * n
    weight = [numbers[base + i * n : base + (i + 1) * n] for i in range(m)]
    capacity = numbers[base + m * n :]
    return gap_scenario(p.stem, cost, weight, capacity)


def gap_scenario(name: str, cost: list[list[int]], weight: list[list[int]], capacity: list[int]) -> dict[str, Any]:
    """The scenario data of a GAP instance (see the module docstring for the mapping)."""
    m, n = len(capacity), len(cost[0]) if cost else 0
    slug = "gap-" + "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name.lower())
    return {
        "format": 1,
        "name": slug,
        "title": f"Generalized assignment instance {name}: {m} agents, {n} items",
        "currency": "USD",
        "policy": {"objective": ["coverage", "cost"]},
        "donors": [
            {"id": f"A{i + 1}", "kind": "in_kind", "capacity": capacity[i], "unit": "capacity-unit"} for i in range(m)
        ],
        "requests": [
            {"id": f"I{j + 1}", "country": "CHE", "theme": "training", "amount": ITEM_AMOUNT, "must_fund": True}
            for j in range(n)
        ],
        "offers": [
            {
                "donor": f"A{i + 1}",
                "request": f"I{j + 1}",
                "units": weight[i][j],
                "value": ITEM_AMOUNT,
                "cost": cost[i][j],
            }
            for i in range(m)
            for j in range(n)
            if weight[i][j] <= capacity[i]
        ],
    }

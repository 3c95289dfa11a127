"""Tiny hand-checkable scenarios for compare, explain, value, graph and the HTML report.

``two_countries``: donor A (300, any theme) and B (200, marking only); four all-or-nothing requests.
By hand: B funds R2 (its only eligible request); A's 300 go to R1 (200) and R3 (100); R4 (150)
does not fit. Coverage 16 + 8 + 4 = 28 of 30, volume 400, grants 3. With A's budget +150, R4 is
funded too: coverage 30, volume 550, grants 4.
"""

from __future__ import annotations

import copy

TWO_COUNTRIES = {
    "name": "two-countries",
    "title": "Two countries & a <b>test</b>",
    "currency": "USD",
    "policy": {"objective": ["coverage", "volume", "grants"]},
    "donors": [
        {"id": "A", "budget": 300},
        {"id": "B", "budget": 200, "themes": ["marking"]},
    ],
    "requests": [
        {"id": "R1", "country": "NER", "theme": "stockpile", "amount": 200, "priority": 5},
        {"id": "R2", "country": "NER", "theme": "marking", "amount": 100, "priority": 4},
        {"id": "R3", "country": "MLI", "theme": "ddr", "amount": 100, "priority": 3},
        {"id": "R4", "country": "PER", "theme": "legislation", "amount": 150, "priority": 2},
    ],
}


def two_countries() -> dict:
    return copy.deepcopy(TWO_COUNTRIES)

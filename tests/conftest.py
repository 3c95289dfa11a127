"""Shared fixtures: tiny scenarios small enough to check by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture
def ok_small() -> dict:
    """Two donors, four requests; the optimum funds NER-1 and MLI-1 (coverage 24)."""
    return {
        "name": "ok-small",
        "currency": "USD",
        "fx": {"EUR": 1.08},
        "donors": [
            {"id": "DEU", "budget": 500000, "currency": "EUR", "regions": ["africa"]},
            {"id": "JPN", "budget": 300000, "themes": ["stockpile", "marking"], "min_grant": 50000},
        ],
        "requests": [
            {"id": "NER-1", "country": "NER", "theme": "stockpile", "amount": 400000, "priority": 5},
            {"id": "MLI-1", "country": "MLI", "theme": "marking", "amount": 250000, "priority": 4, "min_funding": 0.5},
            {"id": "PER-1", "country": "PER", "theme": "legislation", "amount": 100000},
            {"id": "BFA-1", "country": "BFA", "theme": "ddr", "amount": 300000, "priority": 2, "requires": ["NER-1"]},
        ],
    }

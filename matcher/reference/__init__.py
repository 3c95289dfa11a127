"""Bundled reference data: the country table (ISO 3166 alpha-3 with UN M49 regions) and vocabularies.

The country table is derived from hdx-python-country's taxonomy (MIT, see LICENSE-hdx-python-country.txt).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources

THEMES: tuple[str, ...] = (
    "legislation",
    "coordination",
    "marking",
    "record_keeping",
    "tracing",
    "stockpile",
    "destruction",
    "border_control",
    "transfer_control",
    "ddr",
    "community",
    "gender",
    "data",
    "training",
)

PARTNER_TYPES: tuple[str, ...] = ("un", "regional", "ngo", "government", "research")

REGIONS: tuple[str, ...] = ("africa", "americas", "asia", "europe", "oceania")


@dataclass(frozen=True)
class Country:
    """One row of the country table: ISO alpha-3 code and its UN M49 hierarchy (slugs)."""

    iso3: str
    name: str
    region: str
    sub_region: str
    intermediate_region: str
    income: str

    @cached_property  # read for every request and earmark of every solve: built once per country
    def areas(self) -> frozenset[str]:
        """Every region slug this country lies in: region, sub-region and intermediate region."""
        return frozenset(a for a in (self.region, self.sub_region, self.intermediate_region) if a)


@lru_cache(maxsize=1)
def countries() -> dict[str, Country]:
    """The bundled country table keyed by ISO 3166-1 alpha-3 code."""
    text = resources.files(__package__).joinpath("countries.csv").read_text(encoding="utf-8")
    table = {}
    for row in csv.DictReader(text.splitlines()):
        table[row["iso3"]] = Country(
            iso3=row["iso3"],
            name=row["name"],
            region=row["region"],
            sub_region=row["sub_region"],
            intermediate_region=row["intermediate_region"],
            income=row["income"],
        )
    return table


@lru_cache(maxsize=1)
def region_slugs() -> frozenset[str]:
    """Every M49 region, sub-region and intermediate region slug a donor earmark may name."""
    return frozenset(a for c in countries().values() for a in c.areas)

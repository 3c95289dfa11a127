"""The IATI codelists this package uses (bundled, CC BY 4.0, see data/NOTICE.md) and small lookups."""

from __future__ import annotations

import csv
from functools import cache, lru_cache
from importlib import resources

from defusedxml import ElementTree

SALW_SECTOR = "15240"  # OECD DAC purpose code "Reintegration and SALW control", vocabulary 1
SDG_TARGET = "16.4"  # "significantly reduce illicit financial and arms flows"


def _read(name: str):
    return resources.files(__package__).joinpath("data").joinpath(name).read_bytes()


@cache
def codelist(name: str) -> dict[str, str]:
    """Code -> English name of a bundled codelist (``Country``, ``Currency``, ``Sector``, ``UNSDG-Targets``)."""
    root = ElementTree.fromstring(_read(f"{name}.xml"))
    items = {}
    for item in root.iter("codelist-item"):
        names = [n for n in item.iter("narrative") if not n.attrib]
        items[item.findtext("code")] = (names[0].text or "").strip() if names else ""
    return items


@lru_cache(maxsize=1)
def iso2_of() -> dict[str, str]:
    """ISO 3166-1 alpha-3 -> alpha-2 (IATI recipient-country codes are alpha-2)."""
    text = _read("country-iso2.csv").decode("utf-8")
    return {row["iso3"]: row["iso2"] for row in csv.DictReader(text.splitlines())}


@lru_cache(maxsize=1)
def iso3_of() -> dict[str, str]:
    """ISO 3166-1 alpha-2 -> alpha-3."""
    return {two: three for three, two in iso2_of().items()}

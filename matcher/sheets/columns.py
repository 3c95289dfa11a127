"""What each sheet of a scenario workbook holds: its columns, their types and the help shown on the header.

One table drives the template, the export and the import, so the three cannot drift apart. A test checks
that every field of the domain models has a column here, so a new field cannot be dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matcher.reference import PARTNER_TYPES, THEMES, countries

# Value kinds a cell can hold; the importer converts and checks each cell by its kind.
TEXT, INT, FLOAT, BOOL, DATE, LIST, INT_LIST = "text", "int", "float", "bool", "date", "list", "int_list"


@dataclass(frozen=True)
class Column:
    """One column of a record sheet (donors, requests, ...)."""

    name: str
    kind: str
    help: str
    required: bool = False
    choices: str | None = None  # name of a validation list (see choice_lists)


@dataclass(frozen=True)
class Setting:
    """One setting of a key/value sheet (scenario, policy): a row ``setting | key | value``."""

    name: str
    kind: str
    help: str
    key_kind: str | None = None  # set for a map setting (fx, priority_weights): one row per key
    required: bool = False


@dataclass(frozen=True)
class RecordSheet:
    """A sheet with one record per row, for a list of the scenario (``donors``, ``requests``...)."""

    name: str
    columns: tuple[Column, ...]
    required: bool = False

    def column(self, name: str) -> Column | None:
        """The column called ``name``, if the sheet has one."""
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class SettingsSheet:
    """A sheet of ``setting | key | value`` rows for a mapping of the scenario (top level, policy)."""

    name: str
    settings: tuple[Setting, ...]
    required: bool = False
    columns: tuple[Column, ...] = (
        Column("setting", TEXT, "Name of the setting; the note on each name says what it takes.", required=True),
        Column("key", TEXT, "For map settings only (fx, priority_weights, agenda_weights, region_floors): the key."),
        Column("value", TEXT, "The value; its type depends on the setting."),
    )

    def setting(self, name: str) -> Setting | None:
        """The setting called ``name``, if the sheet knows it."""
        return next((s for s in self.settings if s.name == name), None)


def choice_lists() -> dict[str, list[Any]]:
    """The drop-down lists of the template, from matcher.reference."""
    return {
        "themes": list(THEMES),
        "priorities": [1, 2, 3, 4, 5],
        "partner_types": list(PARTNER_TYPES),
        "countries": sorted(c for c in countries() if c),  # the table has rows without a code
        "kinds": ["funds", "in_kind"],
        "booleans": [True, False],  # real booleans: a typed TRUE is a boolean and must match the list
    }


# Whole-number columns that hold money: a fraction there gets the reminder that amounts are whole units.
MONEY_COLUMNS = frozenset({"budget", "min_grant", "max_grant", "budget_range", "amount", "value", "cost"})

LIST_NOTE = " Several values: separate them with commas."

SCENARIO = SettingsSheet(
    "scenario",
    (
        Setting("format", INT, "Format version: 1."),
        Setting("name", TEXT, "Slug of the scenario: lower case, digits, '.', '_' or '-'.", required=True),
        Setting("title", TEXT, "Human title."),
        Setting("currency", TEXT, "ISO 4217 code of every amount (USD, EUR...).", required=True),
        Setting("fx_date", DATE, "Date of the exchange rates."),
        Setting("fx", FLOAT, "Key: a currency; value: one unit of it in the scenario currency.", key_kind=TEXT),
    ),
    required=True,
)

POLICY = SettingsSheet(
    "policy",
    (
        Setting("objective", LIST, "Lexicographic order of coverage, volume, grants, cost." + LIST_NOTE),
        Setting("max_donors_per_request", INT, "At most this many donors fund one request."),
        Setting("max_country_share", FLOAT, "No country gets more than this share (0-1) of all money allocated."),
        Setting("priority_weights", FLOAT, "Key: a priority 1-5; value: its weight.", key_kind=INT),
        Setting("agenda_weights", FLOAT, "Key: an agenda tag; value: its weight multiplier.", key_kind=TEXT),
        Setting("region_floors", FLOAT, "Key: a region slug; value: the least share (0-1) it gets.", key_kind=TEXT),
    ),
)

DONORS = RecordSheet(
    "donors",
    (
        Column("id", TEXT, "Unique donor id (e.g. DEU).", required=True),
        Column("name", TEXT, "Donor name."),
        Column("kind", TEXT, "funds (default) or in_kind.", choices="kinds"),
        Column("budget", INT, "Envelope in whole units of the donor's currency (funds donors)."),
        Column("currency", TEXT, "ISO 4217 code; empty = scenario currency."),
        Column("min_grant", INT, "A grant to one request is 0 or at least this (scenario currency)."),
        Column("max_grant", INT, "A grant to one request is at most this (scenario currency)."),
        Column("regions", LIST, "Earmark: only requests in these M49 regions; empty = any." + LIST_NOTE),
        Column("countries", LIST, "Earmark: only these ISO alpha-3 countries; empty = any." + LIST_NOTE),
        Column("exclude_countries", LIST, "Never fund these ISO alpha-3 countries." + LIST_NOTE),
        Column("themes", LIST, "Earmark: only these themes; empty = any." + LIST_NOTE),
        Column("partner_types", LIST, "Earmark: only partners of these types; empty = any." + LIST_NOTE),
        Column("capacity", INT, "In-kind donors: units it can deliver."),
        Column("unit", TEXT, "In-kind donors: what a unit is (expert-day...)."),
        Column("confidence", FLOAT, "Share 0-1: how sure the envelope is."),
        Column("budget_range", INT_LIST, "Low, high: the range the budget may take." + LIST_NOTE),
    ),
    required=True,
)

REQUESTS = RecordSheet(
    "requests",
    (
        Column("id", TEXT, "Unique request id (e.g. NER-PSSM-01).", required=True),
        Column("country", TEXT, "ISO 3166-1 alpha-3 code of the requesting state.", required=True, choices="countries"),
        Column("region", TEXT, "UN M49 region; leave empty to derive it from the country."),
        Column("theme", TEXT, "One theme of the vocabulary.", required=True, choices="themes"),
        Column("amount", INT, "Amount requested, whole units of the scenario currency.", required=True),
        Column("priority", INT, "National priority 1-5, 5 = highest (default 3).", choices="priorities"),
        Column("min_funding", FLOAT, "Smallest useful share 0-1 (default 1 = all or nothing)."),
        Column("partner", TEXT, "Implementing partner id (partners sheet)."),
        Column("agenda", LIST, "Agenda tags (diversion, sdg16.4, wps, iti)." + LIST_NOTE),
        Column("requires", LIST, "Request ids that must be funded for this one to be funded." + LIST_NOTE),
        Column("title", TEXT, "Title of the request."),
        Column("must_fund", BOOL, "TRUE: must be funded in full (default FALSE).", choices="booleans"),
    ),
    required=True,
)

PARTNERS = RecordSheet(
    "partners",
    (
        Column("id", TEXT, "Unique partner id.", required=True),
        Column("name", TEXT, "Partner name."),
        Column("type", TEXT, "un, regional, ngo, government or research.", choices="partner_types"),
        Column("max_projects", INT, "At most this many of its requests funded."),
    ),
)

COMMITMENTS = RecordSheet(
    "commitments",
    (
        Column("donor", TEXT, "Donor id (donors sheet).", required=True),
        Column("request", TEXT, "Request id (requests sheet).", required=True),
        Column("amount", INT, "Amount already committed, scenario currency.", required=True),
    ),
)

OFFERS = RecordSheet(
    "offers",
    (
        Column("donor", TEXT, "In-kind donor id (donors sheet).", required=True),
        Column("request", TEXT, "Request id (requests sheet).", required=True),
        Column("units", INT, "Units of the donor's capacity the delivery uses.", required=True),
        Column("value", INT, "What the delivery counts as funding, scenario currency.", required=True),
        Column("cost", INT, "What the delivery costs, scenario currency (default 0)."),
    ),
)

SETTINGS_SHEETS: tuple[SettingsSheet, ...] = (SCENARIO, POLICY)
RECORD_SHEETS: tuple[RecordSheet, ...] = (DONORS, REQUESTS, PARTNERS, COMMITMENTS, OFFERS)
SHEET_ORDER = ("scenario", "donors", "requests", "partners", "commitments", "offers", "policy")
_ALL_SHEETS: tuple[SettingsSheet | RecordSheet, ...] = (*SETTINGS_SHEETS, *RECORD_SHEETS)
SHEETS = {s.name: s for s in _ALL_SHEETS}

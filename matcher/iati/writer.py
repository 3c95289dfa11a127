"""Allocations as IATI 2.03 activities: one activity per funded request, one commitment per grant.

Each activity names the reporting organisation, the donors (funding, role 1) and the request's partner
(implementing, role 4), the recipient country, sector 15240 (DAC 5-digit, vocabulary 1) and the
request's theme (vocabulary 99, the reporting organisation's own), the SDG target 16.4 tag, the
requested amount as a budget and a commitment transaction per grant, in the scenario currency.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from matcher.domain import Request, Scenario
from matcher.errors import MatcherError
from matcher.iati.codelists import SALW_SECTOR, SDG_TARGET, codelist, iso2_of
from matcher.reference import countries
from matcher.result import Result

IATI_VERSION = "2.03"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
OWN_VOCABULARY = "99"  # IATI SectorVocabulary and TagVocabulary 99: "Reporting Organisation"
SDG_TARGET_VOCABULARY = "3"  # IATI TagVocabulary 3: UN Sustainable Development Goals (SDG) Targets
FUNDING, IMPLEMENTING = "1", "4"  # IATI OrganisationRole
COMMITMENT = "2"  # IATI TransactionType
IMPLEMENTATION = "2"  # IATI ActivityStatus
PLANNED_START = "1"  # IATI ActivityDateType
ORIGINAL, INDICATIVE = "1", "1"  # IATI BudgetType and BudgetStatus
# IATI OrganisationType for our partner types: 10 government, 21 international NGO, 40 multilateral, 80 academic
ORG_TYPE = {"government": "10", "ngo": "21", "un": "40", "regional": "40", "research": "80"}


@dataclass(frozen=True)
class ReportingOrg:
    """Who publishes the activities: an IATI organisation identifier, a name and an OrganisationType."""

    ref: str
    name: str
    type: str = "40"


def activities_xml(
    scenario: Scenario, result: Result, org: ReportingOrg, value_date: date, generated: datetime
) -> bytes:
    """The result's money grants as an ``iati-activities`` document (UTF-8 bytes)."""
    if not result.has_solution():
        raise MatcherError(f"the result is '{result.status}': there are no allocations to publish")
    if scenario.currency not in codelist("Currency"):
        raise MatcherError(f"currency '{scenario.currency}' is not in the IATI Currency codelist")
    stamp = generated.replace(microsecond=0).isoformat()
    root = ET.Element("iati-activities", {"version": IATI_VERSION, "generated-datetime": stamp})
    grants: dict[str, list] = {}
    for a in result.allocations:
        if a.kind == "funds" and a.amount > 0:
            grants.setdefault(a.request, []).append(a)
    for request in scenario.requests:
        if request.id in grants:
            root.append(_activity(scenario, request, grants[request.id], org, value_date, stamp))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _activity(s: Scenario, r: Request, grants: list, org: ReportingOrg, when: date, stamp: str) -> ET.Element:
    act = ET.Element("iati-activity", {"last-updated-datetime": stamp, XML_LANG: "en", "default-currency": s.currency})
    ET.SubElement(act, "iati-identifier").text = f"{org.ref}-{r.id}"
    _narrative(ET.SubElement(act, "reporting-org", {"ref": org.ref, "type": org.type}), org.name)
    _narrative(ET.SubElement(act, "title"), r.title or f"{_label(r.theme)}: {countries()[r.country].name}")
    _narrative(
        ET.SubElement(act, "description", {"type": "1"}),
        f"Small arms and light weapons control assistance ({_label(r.theme)}) requested by"
        f" {countries()[r.country].name}: {r.amount} {s.currency}.",
    )
    donors = {d.id: d for d in s.donors}
    for g in grants:
        _org(act, "participating-org", g.donor, donors[g.donor].name, {"role": FUNDING})
    partner = s.partner_of(r)
    if partner is not None:
        attrs = {"role": IMPLEMENTING, **({"type": ORG_TYPE[partner.type]} if partner.type else {})}
        _org(act, "participating-org", partner.id, partner.name, attrs)
    ET.SubElement(act, "activity-status", {"code": IMPLEMENTATION})
    ET.SubElement(act, "activity-date", {"type": PLANNED_START, "iso-date": when.isoformat()})
    ET.SubElement(act, "recipient-country", {"code": iso2_of()[r.country], "percentage": "100"})
    _narrative(
        ET.SubElement(act, "sector", {"vocabulary": "1", "code": SALW_SECTOR, "percentage": "100"}),
        codelist("Sector")[SALW_SECTOR],
    )
    _narrative(
        ET.SubElement(act, "sector", {"vocabulary": OWN_VOCABULARY, "code": r.theme, "percentage": "100"}),
        _label(r.theme),
    )
    _narrative(
        ET.SubElement(act, "tag", {"vocabulary": SDG_TARGET_VOCABULARY, "code": SDG_TARGET}),
        codelist("UNSDG-Targets")[SDG_TARGET],
    )
    for tag in r.agenda:
        _narrative(ET.SubElement(act, "tag", {"vocabulary": OWN_VOCABULARY, "code": tag}), tag)
    _budget(act, r.amount, s.currency, when)
    for g in grants:
        _commitment(act, g, donors[g.donor].name, partner, s.currency, when)
    return act


def _budget(act: ET.Element, amount: int, currency: str, when: date) -> None:
    budget = ET.SubElement(act, "budget", {"type": ORIGINAL, "status": INDICATIVE})
    ET.SubElement(budget, "period-start", {"iso-date": when.isoformat()})
    ET.SubElement(budget, "period-end", {"iso-date": (_a_year_on(when) - timedelta(days=1)).isoformat()})
    ET.SubElement(budget, "value", {"currency": currency, "value-date": when.isoformat()}).text = str(amount)


def _a_year_on(day: date) -> date:
    """The same day a year later (28 February for 29 February): IATI budget periods are at most a year."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def _commitment(act: ET.Element, grant, donor_name: str | None, partner, currency: str, when: date) -> None:
    tx = ET.SubElement(act, "transaction")
    ET.SubElement(tx, "transaction-type", {"code": COMMITMENT})
    ET.SubElement(tx, "transaction-date", {"iso-date": when.isoformat()})
    ET.SubElement(tx, "value", {"currency": currency, "value-date": when.isoformat()}).text = str(grant.amount)
    _org(tx, "provider-org", grant.donor, donor_name, {})
    if partner is not None:
        _org(tx, "receiver-org", partner.id, partner.name, {})


def _org(parent: ET.Element, tag: str, ref: str, name: str | None, attrs: dict[str, str]) -> None:
    _narrative(ET.SubElement(parent, tag, {"ref": ref, **attrs}), name or ref)


def _narrative(parent: ET.Element, text: str) -> None:
    ET.SubElement(parent, "narrative").text = text


def _label(theme: str) -> str:
    return theme.replace("_", " ").capitalize()

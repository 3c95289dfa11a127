"""IATI 2.03: allocations out as activities valid against the schema, SALW activities back as requests."""

from __future__ import annotations

import math
import os
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from sheets_fixtures import every_part

from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError
from matcher.iati import ReportingOrg, activities_xml, read_activities
from matcher.reference import countries
from matcher.scenario_io import load_scenario, parse_scenario
from matcher.sheets import SheetError

etree = pytest.importorskip("lxml.etree")
ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIRS = [ROOT / "tests" / "data" / "iati-schema"]  # bundled copy of the IATI 2.03 schema (see its LICENSE)
ORG = ReportingOrg("XM-EXAMPLE", "Example coordination")
WHEN, NOW = date(2027, 1, 15), datetime(2026, 11, 2, 12, 0)


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    found = next((d for d in SCHEMA_DIRS if (d / "iati-activities-schema.xsd").is_file()), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("the IATI schema (tests/data/iati-schema) is missing in CI")
        pytest.skip("IATI schema not found")
    work = tmp_path_factory.mktemp("xsd")
    for name in ("iati-activities-schema.xsd", "iati-common.xsd"):
        shutil.copy(found / name, work / name)
    shutil.copy(ROOT / "tests" / "data" / "xml.xsd", work / "xml.xsd")  # no network during validation
    return etree.XMLSchema(etree.parse(str(work / "iati-activities-schema.xsd")))


@pytest.fixture(scope="module")
def solved():
    s = parse_scenario(every_part())
    return s, solve(s, SolveParams(time_limit=10))


def test_export_is_valid_iati_203(schema, solved):
    s, result = solved
    doc = etree.fromstring(activities_xml(s, result, ORG, WHEN, NOW))
    assert schema.validate(doc), schema.error_log
    assert doc.get("version") == "2.03"


def test_export_carries_sector_sdg_orgs_and_commitments(solved):
    s, result = solved
    doc = etree.fromstring(activities_xml(s, result, ORG, WHEN, NOW))
    grants = {(a.donor, a.request): a.amount for a in result.allocations if a.kind == "funds"}
    funded = {r for _, r in grants}
    acts = {a.findtext("iati-identifier").removeprefix("XM-EXAMPLE-"): a for a in doc.iter("iati-activity")}
    assert set(acts) == funded and "NER-1" in acts
    for rid, act in acts.items():
        assert act.find("sector[@vocabulary='1'][@code='15240']") is not None
        assert act.find("tag[@vocabulary='3'][@code='16.4']") is not None
        request = next(r for r in s.requests if r.id == rid)
        assert act.find("sector[@vocabulary='99']").get("code") == request.theme
        txs = act.findall("transaction")
        assert all(t.find("transaction-type").get("code") == "2" for t in txs)
        got = {(t.find("provider-org").get("ref"), rid): int(t.findtext("value")) for t in txs}
        assert got == {k: v for k, v in grants.items() if k[1] == rid}
        assert {t.find("value").get("currency") for t in txs} == {"USD"}
        assert {t.find("value").get("value-date") for t in txs} == {"2027-01-15"}
        funders = {o.get("ref") for o in act.findall("participating-org[@role='1']")}
        assert funders == {d for d, r in grants if r == rid}
    ner = acts["NER-1"]
    assert ner.find("recipient-country").get("code") == "NE"
    assert ner.find("participating-org[@role='4']").get("ref") == "UNDP"


def test_export_then_import_gives_requests_and_commitments(tmp_path, solved):
    s, result = solved
    path = tmp_path / "activities.xml"
    path.write_bytes(activities_xml(s, result, ORG, WHEN, NOW))
    back = read_activities(path, name="back").scenario
    grants = {(a.donor, a.request): a.amount for a in result.allocations if a.kind == "funds"}
    assert {(c.donor, c.request): c.amount for c in back.commitments} == grants
    original = {r.id: r for r in s.requests}
    for r in back.requests:
        assert (r.country, r.theme, r.amount, r.partner) == (
            original[r.id].country,
            original[r.id].theme,
            original[r.id].amount,
            original[r.id].partner,
        )
    assert back.currency == "USD"


ACTIVITY = """<iati-activity default-currency="USD"><iati-identifier>XM-A-{id}</iati-identifier>
<reporting-org ref="XM-A" type="10"><narrative>A</narrative></reporting-org>
<title><narrative>T</narrative></title>{body}</iati-activity>"""


def write(tmp_path: Path, *activities: str) -> Path:
    path = tmp_path / "in.xml"
    path.write_text(f'<iati-activities version="2.03">{"".join(activities)}</iati-activities>', encoding="utf-8")
    return path


def test_import_skips_activities_without_salw_sector(tmp_path):
    salw = ACTIVITY.format(
        id="R1",
        body='<recipient-country code="NE"/><sector code="15240"/>'
        '<sector vocabulary="99" code="marking"/>'
        '<transaction><transaction-type code="2"/><value>5000</value>'
        '<provider-org ref="GB-GOV-1"><narrative>UK</narrative></provider-org>'
        "</transaction>",
    )
    other = ACTIVITY.format(id="E1", body='<recipient-country code="NE"/><sector code="11110"/>')
    found = read_activities(write(tmp_path, salw, other), name="x")
    assert [r.id for r in found.scenario.requests] == ["R1"]
    assert found.scenario.requests[0].amount == 5000
    assert found.scenario.donors[0].id == "GB-GOV-1" and found.scenario.donors[0].budget == 5000
    assert found.skipped == ["activity 2 (XM-A-E1): no sector 15240"]


def test_import_lists_every_problem(tmp_path):
    no_theme = ACTIVITY.format(
        id="R1",
        body='<recipient-country code="NE"/><sector code="15240"/>'
        '<budget><period-start iso-date="2027-01-01"/>'
        '<period-end iso-date="2027-12-31"/><value>100</value></budget>',
    )
    bad_country = ACTIVITY.format(
        id="R2", body='<recipient-country code="QQ"/><sector code="15240"/><sector vocabulary="99" code="marking"/>'
    )
    with pytest.raises(SheetError) as info:
        read_activities(write(tmp_path, no_theme, bad_country))
    assert [str(p) for p in info.value.problems] == [
        "activity 1 (XM-A-R1) sector: no theme sector (vocabulary 99 with a theme id); pass --default-theme THEME",
        "activity 2 (XM-A-R2) recipient-country: 'QQ' is not an ISO alpha-2 code",
        "activity 2 (XM-A-R2): no budget and no commitment: the amount requested is unknown",
    ]


def test_import_refuses_entity_expansion(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;">]>'
        "<iati-activities>&y;</iati-activities>"
    )
    with pytest.raises(MatcherError, match="refused unsafe XML"):
        read_activities(path)


def test_import_of_our_export_loses_only_what_the_readme_says(tmp_path):
    """README 'What IATI does not carry back', as a check: rebuild the expected scenario from the original by
    dropping exactly the listed parts, and compare it with what the import reads."""
    data = every_part()
    data["partners"].append({"id": "ECOWAS", "type": "regional", "max_projects": 3})
    data["requests"][1]["partner"] = "ECOWAS"  # MLI-1 must be funded
    s = parse_scenario(data)
    result = solve(s, SolveParams(time_limit=10))
    path = tmp_path / "activities.xml"
    path.write_bytes(activities_xml(s, result, ORG, WHEN, NOW))
    back = read_activities(path, name="back").scenario

    grants = [a for a in result.allocations if a.kind == "funds" and a.amount > 0]
    published = [r for r in s.requests if r.id in {a.request for a in grants}]
    label = {"stockpile": "Stockpile", "marking": "Marking", "legislation": "Legislation", "ddr": "Ddr"}
    want_requests = {
        r.id: {
            "country": r.country,
            "theme": r.theme,
            "amount": r.amount,
            "partner": r.partner,
            "agenda": list(r.agenda),
            "title": r.title or f"{label[r.theme]}: {countries()[r.country].name}",
        }
        for r in published
    }
    got_requests = {
        r.id: {
            "country": r.country,
            "theme": r.theme,
            "amount": r.amount,
            "partner": r.partner,
            "agenda": list(r.agenda),
            "title": r.title,
        }
        for r in back.requests
    }
    assert got_requests == want_requests
    funded = {o.id: o.funded for o in result.requests}
    share = {
        r.id: 1.0 if funded[r.id] >= r.amount else math.floor(funded[r.id] / r.amount * 10**6) / 10**6
        for r in published
    }  # a request funded in part keeps that part possible
    assert {r.id: (r.priority, r.min_funding, r.requires, r.must_fund) for r in back.requests} == {
        rid: (3, share[rid], [], False) for rid in share
    }
    assert solve(back, SolveParams(time_limit=10)).status != "infeasible"  # its own commitments stand

    names = {d.id: d.name for d in s.donors}
    committed: dict[str, int] = {}
    for a in grants:
        committed[a.donor] = committed.get(a.donor, 0) + a.amount
    assert {d.id: (d.name, d.budget, d.currency, d.kind) for d in back.donors} == {
        d: (names[d], budget, None, "funds") for d, budget in committed.items()
    }
    want = {(a.donor, a.request): a.amount for a in grants}
    assert {(c.donor, c.request): c.amount for c in back.commitments} == want

    partner_of = {p.id: p for p in s.partners}
    kept = {r.partner for r in published if r.partner}
    assert "ECOWAS" in kept, "the regional partner's request must be funded for this check to mean anything"
    back_type = {"regional": "un"}
    assert {p.id: (p.name, p.type, p.max_projects) for p in back.partners} == {
        pid: (partner_of[pid].name, back_type.get(partner_of[pid].type, partner_of[pid].type), None) for pid in kept
    }
    assert (back.policy, back.fx, back.fx_date, back.offers, back.currency) == (type(s.policy)(), {}, None, [], "USD")


def test_a_request_funded_in_part_comes_back_solvable(tmp_path):
    """West Africa's NGA-COMM-01 is funded 104,000 of 200,000: imported with the default all-or-nothing
    minimum, its own 104,000 commitment made the round infeasible (exit 3)."""
    s = load_scenario(ROOT / "examples" / "west-africa.yaml")
    result = solve(s, SolveParams(time_limit=20, node_limit=200))
    part = [o for o in result.requests if o.status == "partial"]
    assert part, "the example should fund a request in part"
    path = tmp_path / "activities.xml"
    path.write_bytes(activities_xml(s, result, ORG, WHEN, NOW))
    back = read_activities(path, name="back").scenario
    again = {r.id: r for r in back.requests}[part[0].id]
    assert again.min_funding * again.amount <= part[0].funded
    assert solve(back, SolveParams(time_limit=20, node_limit=200)).status in ("optimal", "feasible")

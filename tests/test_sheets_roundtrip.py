"""Scenario -> xlsx/csv -> scenario gives the same scenario; formula-like text is shown, never run."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
from sheets_fixtures import every_part, injection

from matcher.domain import Commitment, Donor, Offer, Partner, Policy, Request, Scenario
from matcher.engine import SolveParams, solve
from matcher.generate import generate_round
from matcher.scenario_io import parse_scenario, scenario_data
from matcher.sheets import export_csv, export_xlsx, read_csv_dir, read_workbook, template_xlsx
from matcher.sheets.columns import COMMITMENTS as COMMITMENTS_SHEET
from matcher.sheets.columns import DONORS, OFFERS, PARTNERS, POLICY, REQUESTS, SCENARIO
from matcher.variants import resolve_file

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))


def via_xlsx(scenario: Scenario, tmp_path: Path, result=None) -> Scenario:
    path = tmp_path / "book.xlsx"
    path.write_bytes(export_xlsx(scenario, result))
    return read_workbook(path)


def via_csv(scenario: Scenario, tmp_path: Path, bom: bool = True) -> Scenario:
    folder = tmp_path / "csv"
    folder.mkdir()
    for name, text in export_csv(scenario).items():
        (folder / name).write_text(text if bom else text.removeprefix("\ufeff"), encoding="utf-8", newline="")
    return read_csv_dir(folder)


@pytest.mark.parametrize("make", [every_part, injection])
def test_xlsx_round_trip_is_identical(make, tmp_path):
    s = parse_scenario(make())
    assert scenario_data(via_xlsx(s, tmp_path)) == scenario_data(s)


def generated(seed: int) -> Scenario:
    """A generated round. Some seeds draw a territory whose ISO code is empty in the country table
    (a reference-data problem reported to the lead); an empty code cannot survive a blank cell."""
    data = generate_round(60, 8, seed)
    assert all(r["country"] for r in data["requests"]), "this seed draws a country without ISO code"
    return parse_scenario(data)


def test_generated_round_survives_xlsx(tmp_path):
    s = generated(4)
    assert scenario_data(via_xlsx(s, tmp_path)) == scenario_data(s)


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_scenario_survives_xlsx(path, tmp_path):
    s = parse_scenario(resolve_file(path))  # examples/ holds variant files too: the scenario each one makes
    assert scenario_data(via_xlsx(s, tmp_path)) == scenario_data(s)


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_scenario_survives_csv(path, tmp_path):
    s = parse_scenario(resolve_file(path))
    assert scenario_data(via_csv(s, tmp_path)) == scenario_data(s)


@pytest.mark.parametrize("bom", [True, False], ids=["with-bom", "without-bom"])
def test_csv_round_trip_is_identical(bom, tmp_path):
    s = parse_scenario(injection())
    assert scenario_data(via_csv(s, tmp_path, bom)) == scenario_data(s)


def test_generated_round_survives_csv(tmp_path):
    s = generated(6)
    assert scenario_data(via_csv(s, tmp_path)) == scenario_data(s)


def test_export_with_result_still_imports_to_the_scenario(ok_small, tmp_path):
    s = parse_scenario(ok_small)
    result = solve(s, SolveParams(time_limit=10))
    path = tmp_path / "result.xlsx"
    path.write_bytes(export_xlsx(s, result))
    wb = openpyxl.load_workbook(path)
    assert {"allocations", "outcomes", "donor_totals", "run"} <= set(wb.sheetnames)
    allocated = {(r[0], r[2]): r[7] for r in wb["allocations"].iter_rows(min_row=2, values_only=True)}
    assert allocated == {(a.donor, a.request): a.amount for a in result.allocations}
    outcomes = {r[0]: (r[7], r[9]) for r in wb["outcomes"].iter_rows(min_row=2, values_only=True)}
    assert outcomes == {o.id: (o.funded, o.status) for o in result.requests}
    # converted figures say their currency (DEU's budget is in EUR on the donors sheet, in USD here)
    totals = list(wb["donor_totals"].iter_rows(values_only=True))
    assert totals[0][-1] == "currency" and {row[-1] for row in totals[1:] if row[1] == "funds"} == {"USD"}
    assert next(wb["allocations"].iter_rows(values_only=True))[-1] == "currency"
    assert wb["outcomes"].auto_filter.ref and wb["outcomes"].freeze_panes == "A2"
    assert scenario_data(read_workbook(path)) == scenario_data(s)


def test_formula_like_text_is_stored_as_text_in_xlsx(tmp_path):
    s = parse_scenario(injection())
    path = tmp_path / "book.xlsx"
    path.write_bytes(export_xlsx(s))
    with zipfile.ZipFile(path) as zf:
        sheets = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any("<f>" in xml or "<f " in xml for xml in sheets), "a formula element was written"
    wb = openpyxl.load_workbook(path)
    title = next(r for r in wb["scenario"].iter_rows(min_row=2) if r[0].value == "title")[2]
    assert title.value == '=HYPERLINK("http://evil.example","click")'
    assert title.data_type == "s" and title.quotePrefix
    name = wb["donors"]["B2"]
    assert name.value == "+cmd|' /C calc'!A0" and name.data_type == "s" and name.quotePrefix


def test_formula_like_text_is_quoted_in_csv():
    s = parse_scenario(injection())
    files = export_csv(s, solve(s, SolveParams(time_limit=10)))
    assert "'+cmd|" in files["allocations.csv"]  # the donor's name in the result sheets too
    assert "'=HYPERLINK(" in files["scenario.csv"]
    assert "'+cmd|" in files["donors.csv"]
    assert "'-2+3" in files["requests.csv"] and "'@SUM(A1:A2)" in files["requests.csv"]
    assert "'\tTabbed" in files["requests.csv"]
    assert ",-" not in files["requests.csv"].replace("'-", "")


def test_template_has_every_sheet_notes_and_dropdowns(tmp_path):
    path = tmp_path / "template.xlsx"
    path.write_bytes(template_xlsx())
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:7] == ["scenario", "donors", "requests", "partners", "commitments", "offers", "policy"]
    requests = wb["requests"]
    header = [c.value for c in requests[1]]
    assert header == [c.name for c in REQUESTS.columns]
    assert "ISO 3166-1 alpha-3" in requests["B1"].comment.text
    lists = wb["lists"]
    assert lists.sheet_state == "hidden"
    ranges = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in requests.data_validations.dataValidation}
    column = {name: chr(65 + i) for i, name in enumerate(header)}
    for name, list_column in [("theme", "A"), ("priority", "B"), ("country", "D")]:
        assert f"lists!${list_column}$2" in ranges[f"{column[name]}2"]
    codes = {c.value for c in lists["D"][1:]}
    assert {"NER", "PER", "UKR"} <= codes
    themes = {c.value for c in lists["A"][1:]}
    assert "stockpile" in themes
    partners = wb["partners"]
    assert any("lists!$C$2" in dv.formula1 for dv in partners.data_validations.dataValidation)
    every = [dv for ws in wb.worksheets for dv in ws.data_validations.dataValidation]
    assert all(dv.showErrorMessage and not dv.formula1.startswith("=") for dv in every)
    assert [c.value for c in lists["F"][1:3]] == [True, False]  # a typed TRUE is a boolean: the list must match


def test_template_settings_carry_their_help(tmp_path):
    path = tmp_path / "template.xlsx"
    path.write_bytes(template_xlsx())
    wb = openpyxl.load_workbook(path)
    notes = {r[0].value: r[0].comment.text for r in wb["scenario"].iter_rows(min_row=2)}
    assert notes["name"].startswith("Slug of the scenario") and notes["name"].endswith("Required.")
    assert set(notes) == {s.name for s in SCENARIO.settings}
    policy = {r[0].value: r[0].comment.text for r in wb["policy"].iter_rows(min_row=2)}
    assert "Key: a region slug" in policy["region_floors"]


def test_every_text_cell_of_a_result_export_is_stored_as_text(tmp_path):
    """Names, titles and reasons reach the result sheets too: none of them may become a formula."""
    s = parse_scenario(injection())
    path = tmp_path / "result.xlsx"
    path.write_bytes(export_xlsx(s, solve(s, SolveParams(time_limit=10))))
    with zipfile.ZipFile(path) as zf:
        sheets = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any("<f>" in xml or "<f " in xml for xml in sheets), "a formula element was written"
    wb = openpyxl.load_workbook(path)
    risky = [
        c
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@", "\t", "\r"))
    ]
    assert {ws.title for ws in wb.worksheets for c in risky if c.parent is ws} >= {"donors", "allocations"}
    assert all(c.data_type == "s" and c.quotePrefix for c in risky)


def _field_names(model) -> set[str]:
    return set(model.model_fields)


def test_every_model_field_has_a_column():
    """A field added to the domain without a column would be lost on the round trip."""
    pairs = [
        (Donor, DONORS),
        (Request, REQUESTS),
        (Partner, PARTNERS),
        (Commitment, COMMITMENTS_SHEET),
        (Offer, OFFERS),
    ]
    for model, sheet in pairs:
        assert _field_names(model) == {c.name for c in sheet.columns}, model.__name__
    assert _field_names(Policy) == {s.name for s in POLICY.settings}
    top = _field_names(Scenario) - {"policy", "donors", "requests", "partners", "commitments", "offers"}
    assert top == {s.name for s in SCENARIO.settings}

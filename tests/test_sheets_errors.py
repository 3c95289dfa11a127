"""Bad workbooks and CSV folders: each problem named by sheet, row and column; all of them at once."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from sheets_fixtures import every_part

from matcher.errors import MatcherError
from matcher.scenario_io import parse_scenario, scenario_data
from matcher.sheets import SheetError, export_csv, export_xlsx, read_csv_dir, read_workbook


@pytest.fixture
def book(tmp_path) -> Path:
    path = tmp_path / "book.xlsx"
    path.write_bytes(export_xlsx(parse_scenario(every_part())))
    return path


def edit(path: Path, change) -> Path:
    wb = openpyxl.load_workbook(path)
    change(wb)
    wb.save(path)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SheetError) as info:
        read_workbook(path) if path.suffix == ".xlsx" else read_csv_dir(path)
    return [str(p) for p in info.value.problems]


def test_formula_cell(book):
    edit(book, lambda wb: wb["requests"].__setitem__("E2", "=SUM(1,2)"))
    assert problems(book) == [
        "requests row 2, column amount (E2): formula =SUM(1,2); the importer does not run formulas:"
        " paste the value (Paste Special > Values)"
    ]


def test_merged_cells(book):
    edit(book, lambda wb: wb["requests"].merge_cells("K3:L3"))
    assert problems(book) == [
        "requests row 3, column title (K3): merged cells K3:L3; unmerge them and put the value in each cell"
    ]


def test_date_where_a_number_belongs(book):
    edit(book, lambda wb: wb["donors"].__setitem__("D2", datetime(2027, 1, 1)))
    assert problems(book) == [
        "donors row 2, column budget (D2): a date where a whole number belongs; format the cell as Number and retype it"
    ]


def test_empty_required_cell(book):
    edit(book, lambda wb: wb["requests"].__setitem__("D4", None))
    assert problems(book) == ["requests row 4, column theme (D4): empty required cell; fill in the theme"]


def test_text_where_a_number_belongs(book):
    edit(book, lambda wb: wb["requests"].__setitem__("E3", "lots"))
    assert problems(book) == ["requests row 3, column amount (E3): 'lots' is not a whole number"]


def test_thousands_separators_typed_as_text_say_what_to_write(book):
    edit(book, lambda wb: wb["requests"].__setitem__("E3", "1,000,000"))
    assert problems(book) == [
        "requests row 3, column amount (E3): '1,000,000' is text with thousands separators; "
        "write 1000000 (or format the cell as Number); amounts are whole currency units"
    ]


def test_no_break_spaces_around_an_id_are_stray_spaces(book):
    """Pasted from a web page: 'NER-1\u00a0' looks like 'NER-1' and is read as it."""

    def pasted(wb):
        ws = wb["requests"]
        row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "NER-1")
        ws.cell(row, 1).value = "NER-1\u00a0"

    edit(book, pasted)
    scenario = read_workbook(book)
    assert "NER-1" in [r.id for r in scenario.requests]
    assert scenario.commitments[0].request == "NER-1"


def test_fraction_where_money_belongs(book):
    edit(book, lambda wb: wb["commitments"].__setitem__("C2", 100000.5))
    assert problems(book) == [
        "commitments row 2, column amount (C2): 100000.5 is not a whole number; amounts are whole currency units"
    ]


def test_scenario_rule_is_reported_at_its_cell(book):
    edit(book, lambda wb: wb["requests"].__setitem__("D5", "stockpiles"))
    assert problems(book) == [
        "requests row 5, column theme (D5): 'stockpiles' is not a theme; did you mean 'stockpile'?"
        " (one of: border_control, community, coordination, data, ddr, destruction, gender, legislation, marking,"
        " record_keeping, stockpile, tracing, training, transfer_control)"
    ]


def test_unknown_column(book):
    edit(book, lambda wb: wb["partners"].__setitem__("E1", "max_project"))
    assert problems(book) == ["partners row 1 (E1): unknown column 'max_project'; did you mean 'max_projects'?"]


def test_missing_required_sheet(book):
    edit(book, lambda wb: wb.remove(wb["requests"]))
    assert problems(book) == [
        "requests: sheet 'requests' is missing; add it or rename the sheet that holds the"
        " requests (sheet names as in `matcher template`)"
    ]


def test_renamed_sheet_is_named_as_not_read(book):
    def rename(wb):
        wb["requests"].title = "Requests 2027"

    edit(book, rename)
    assert problems(book) == [
        "requests: sheet 'requests' is missing (not read: 'Requests 2027'); add it or rename"
        " the sheet that holds the requests (sheet names as in `matcher template`)"
    ]


def test_near_miss_sheet_name_is_one_problem(book):
    def rename(wb):
        wb["requests"].title = "Request"

    edit(book, rename)
    assert problems(book) == ["Request: sheet 'Request' is not read; did you mean 'requests'? Rename it"]


def test_sheet_names_ignore_case(book):
    def rename(wb):
        wb["requests"].title = "tmp"  # openpyxl would make 'Requests1' of a case-only rename
        wb["tmp"].title = "Requests"

    edit(book, rename)
    assert scenario_data(read_workbook(book)) == scenario_data(parse_scenario(every_part()))


def test_empty_workbook(tmp_path):
    path = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(path)
    assert problems(path) == [
        "workbook: no sheet is named scenario, donors, requests, partners, commitments, offers, policy"
        " (found: 'Sheet'); start from `matcher template FILE.xlsx` and copy the data into its sheets"
    ]


def test_missing_scenario_sheet_is_one_problem(book):
    edit(book, lambda wb: wb.remove(wb["scenario"]))
    assert problems(book) == [
        "scenario: sheet 'scenario' is missing; add it or rename the sheet that holds the"
        " scenario (sheet names as in `matcher template`)"
    ]


def test_unknown_country_code(book):
    edit(book, lambda wb: wb["requests"].__setitem__("B3", "XXX"))
    assert problems(book) == ["requests row 3, column country (B3): 'XXX' is not an ISO 3166-1 alpha-3 country code"]


def test_negative_amount(book):
    edit(book, lambda wb: wb["requests"].__setitem__("E3", -5000))
    assert problems(book) == ["requests row 3, column amount (E3): -5000 is not above 0; write a number above 0"]


@pytest.mark.parametrize(
    "typed, shown", [(1e30, "1e+30"), (10**19, "1e+19"), ("99999999999999999999", "99999999999999999999")]
)
def test_huge_number(book, typed, shown):
    edit(book, lambda wb: wb["donors"].__setitem__("D2", typed))
    assert problems(book) == [
        f"donors row 2, column budget (D2): {shown} is larger than any amount this tool takes"
        " (at most 1,000,000,000,000,000); check the cell"
    ]


@pytest.mark.parametrize("typed, shown", [("high", "'high'"), (3.5, "3.5")])
def test_text_or_fraction_in_priority(book, typed, shown):
    edit(book, lambda wb: wb["requests"].__setitem__("F2", typed))
    assert problems(book) == [
        f"requests row 2, column priority (F2): {shown} is not a whole number; pick one of: 1, 2, 3, 4, 5"
    ]


def test_duplicate_id_names_the_other_row(book):
    edit(book, lambda wb: wb["requests"].__setitem__("A3", "NER-1"))
    assert problems(book) == [
        "requests row 3, column id (A3): 'NER-1' is already used by requests row 2; ids must be unique"
    ]


def test_line_break_in_an_id(book):
    edit(book, lambda wb: wb["requests"].__setitem__("A2", "NER-1\n"))
    assert problems(book) == [
        "requests row 2, column id (A2): a line break or tab inside the id 'NER-1'; retype it on one line"
    ]


def test_error_value_cell(book):
    def change(wb):
        wb["requests"]["K2"] = "#N/A"
        wb["requests"]["K2"].data_type = "e"

    edit(book, change)
    assert problems(book) == ["requests row 2, column title (K2): the cell shows the error #N/A; type the value itself"]


def test_lower_case_currency(book):
    edit(book, lambda wb: wb["scenario"].__setitem__("C5", "usd"))
    assert problems(book) == [
        "scenario row 5, column value (C5): 'usd' is not an ISO 4217 currency code"
        " (three capital letters, e.g. EUR); did you mean 'USD'?"
    ]


def test_date_in_a_list_cell_and_text_in_a_boolean_cell(book):
    def change(wb):
        wb["requests"]["L3"] = "maybe"
        wb["scenario"]["C6"] = "next week"  # fx_date

    edit(book, change)
    assert problems(book) == [
        "scenario row 6, column value (C6): 'next week' is not a date; write it as YYYY-MM-DD",
        "requests row 3, column must_fund (L3): 'maybe' is not TRUE or FALSE; pick one of: TRUE, FALSE",
    ]


def test_every_problem_is_reported_at_once(book):
    def many(wb):
        wb["requests"]["E2"] = "=A1*2"
        wb["requests"]["D4"] = None
        wb["donors"]["D3"] = datetime(2027, 1, 1)
        wb["partners"]["C2"] = "charity"
        wb["policy"].merge_cells("B3:C3")

    edit(book, many)
    found = problems(book)
    assert len(found) == 5, found
    assert [p.split(":")[0] for p in found] == [
        "donors row 3, column budget (D3)",
        "requests row 2, column amount (E2)",
        "requests row 4, column theme (D4)",
        "policy row 3, column key (B3)",
        "partners row 2, column type (C2)",
    ]


def test_empty_template_says_what_to_fill(tmp_path):
    from matcher.sheets import template_xlsx

    path = tmp_path / "t.xlsx"
    path.write_bytes(template_xlsx())
    assert problems(path) == [
        "scenario row 3, column value (C3): empty required cell; fill in the name",
        "scenario row 5, column value (C5): empty required cell; fill in the currency",
    ]


@pytest.mark.parametrize(
    "content",
    [b"name,currency\n", b"", bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504)],
    ids=["csv-text", "empty-file", "old-xls"],
)
def test_not_a_workbook(tmp_path, content):
    path = tmp_path / "fake.xlsx"
    path.write_bytes(content)
    with pytest.raises(MatcherError, match=r"fake.xlsx: not an .xlsx workbook"):
        read_workbook(path)


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(MatcherError, match=r"fake.xlsx: not an .xlsx workbook"):
        read_workbook(path)


@pytest.fixture
def folder(tmp_path) -> Path:
    out = tmp_path / "csv"
    out.mkdir()
    for name, text in export_csv(parse_scenario(every_part())).items():
        (out / name).write_text(text, encoding="utf-8", newline="")
    return out


def test_csv_empty_required_cell_and_bad_number_at_once(folder):
    text = (folder / "requests.csv").read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    lines[1] = lines[1].replace("NER,", ",", 1)
    lines[2] = lines[2].replace("250000", "250k", 1)
    (folder / "requests.csv").write_text("\n".join(lines), encoding="utf-8")
    assert problems(folder) == [
        "requests.csv row 2, column country: empty required cell; fill in the country",
        "requests.csv row 3, column amount: '250k' is not a whole number",
    ]


def semicolons(folder: Path, decimal_comma: bool = True) -> None:
    """Re-save every file as a spreadsheet in a decimal-comma locale does: ';' between cells, BOM kept."""
    for file in folder.glob("*.csv"):
        rows = list(csv.reader(io.StringIO(file.read_text(encoding="utf-8-sig"))))
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        for row in rows:
            writer.writerow([c.replace(".", ",") if decimal_comma and re.fullmatch(r"\d+\.\d+", c) else c for c in row])
        file.write_text("\ufeff" + out.getvalue(), encoding="utf-8")


def test_csv_with_bom_and_semicolons_imports(folder):
    semicolons(folder)
    assert "0,9" in (folder / "donors.csv").read_text(encoding="utf-8-sig")
    assert scenario_data(read_csv_dir(folder)) == scenario_data(parse_scenario(every_part()))


def test_csv_with_semicolons_reports_cells(folder):
    semicolons(folder)
    text = (folder / "requests.csv").read_text(encoding="utf-8-sig").replace("400000", "400.000,5", 1)
    (folder / "requests.csv").write_text(text, encoding="utf-8")
    assert problems(folder) == [
        "requests.csv row 2, column amount: '400.000,5' is not a whole number; amounts are whole currency units"
    ]


def test_empty_csv_folder(tmp_path):
    assert problems(tmp_path) == [
        "workbook: no sheet is named scenario, donors, requests, partners, commitments, offers, policy"
        " (found: none); start from `matcher template FILE.xlsx` and copy the data into its sheets"
    ]


def test_csv_not_utf8(folder):
    (folder / "partners.csv").write_bytes("id,name\nSAS,Enqu\xeate\n".encode("latin-1"))
    assert problems(folder) == ["partners.csv: not UTF-8 (byte 16); save it as 'CSV UTF-8'"]


def test_csv_whole_numbers_written_with_a_decimal_zero_are_read(folder):
    """xlsx reads 250000.0 as 250000; CSV refused it. Three zeros stay refused: in a decimal-comma
    locale 250.000 means 250,000, and must not be read as 250."""
    text = (folder / "requests.csv").read_text(encoding="utf-8-sig")
    (folder / "requests.csv").write_text(text.replace("250000", "250000.0", 1), encoding="utf-8")
    assert [r.amount for r in read_csv_dir(folder).requests][1] == 250000
    (folder / "requests.csv").write_text(text.replace("250000", "250.000", 1), encoding="utf-8")
    assert problems(folder) == [
        "requests.csv row 3, column amount: '250.000' is not a whole number; amounts are whole currency units"
    ]

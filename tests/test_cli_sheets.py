"""The template, import and export commands: exit codes, exact Error lines, and nothing written on error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from sheets_fixtures import every_part, injection

from matcher.cli import cli
from matcher.scenario_io import load_scenario, parse_scenario, scenario_data


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    path = tmp_path / "every.yaml"
    path.write_text(yaml.safe_dump(every_part(), sort_keys=False), encoding="utf-8")
    return path


def test_template_then_import_reports_what_to_fill(tmp_path):
    book = tmp_path / "t.xlsx"
    assert run("template", str(book)).exit_code == 0
    out = tmp_path / "t.yaml"
    r = run("import", str(book), "-o", str(out))
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f"Error: {book}: 2 problems, nothing was written:",
        "  scenario row 3, column value (C3): empty required cell; fill in the name",
        "  scenario row 5, column value (C5): empty required cell; fill in the currency",
    ]
    assert not out.exists()


def test_template_never_overwrites_a_workbook_unasked(tmp_path):
    book = tmp_path / "t.xlsx"
    book.write_bytes(b"a filled-in workbook")
    r = run("template", str(book))
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: {book}: exists, perhaps filled in already; choose another name, or add --force"
        " to replace it with an empty template\n"
    )
    assert book.read_bytes() == b"a filled-in workbook"
    assert run("template", str(book), "--force").exit_code == 0
    assert openpyxl.load_workbook(book).sheetnames[0] == "scenario"


def test_filled_template_imports(tmp_path):
    book = tmp_path / "t.xlsx"
    run("template", str(book))
    wb = openpyxl.load_workbook(book)
    wb["scenario"]["C3"], wb["scenario"]["C5"] = "sahel-2027", "USD"
    wb["donors"].append(["DEU", "Germany", "funds", 500000])
    wb["requests"].append(["NER-1", "NER", None, "stockpile", 400000, 5])
    wb.save(book)
    out = tmp_path / "s.yaml"
    r = run("import", str(book), "-o", str(out))
    assert r.exit_code == 0, r.output
    s = load_scenario(out)
    assert (s.name, s.donors[0].budget, s.requests[0].priority) == ("sahel-2027", 500000, 5)


def test_export_import_round_trip_through_cli(scenario_file, tmp_path):
    book, back = tmp_path / "s.xlsx", tmp_path / "back.yaml"
    assert run("export", str(scenario_file), "--format", "xlsx", "-o", str(book)).exit_code == 0
    assert run("import", str(book), "-o", str(back)).exit_code == 0
    assert scenario_data(load_scenario(back)) == scenario_data(load_scenario(scenario_file))


def test_export_solved_csv_folder(scenario_file, tmp_path):
    out = tmp_path / "result"
    r = run("export", str(scenario_file), "--solve", "--time-limit", "10", "--format", "csv", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} >= {"requests.csv", "allocations.csv", "outcomes.csv", "donor_totals.csv"}
    back = tmp_path / "back.yaml"
    assert run("import", str(out), "-o", str(back)).exit_code == 0
    assert scenario_data(load_scenario(back)) == scenario_data(load_scenario(scenario_file))


def test_export_iati_needs_a_result(scenario_file, tmp_path):
    out = tmp_path / "a.xml"
    r = run("export", str(scenario_file), "--format", "iati", "-o", str(out))
    assert r.exit_code == 1
    assert r.stderr == "Error: IATI export publishes allocations: add --solve, or --result RESULT.json\n"
    assert not out.exists()


def test_export_iati_from_result_file(scenario_file, tmp_path):
    result = tmp_path / "r.json"
    assert run("solve", str(scenario_file), "--format", "json", "-o", str(result), "--time-limit", "10").exit_code == 0
    out = tmp_path / "a.xml"
    r = run("export", str(scenario_file), "--result", str(result), "--format", "iati", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert "Warning: the activities carry the placeholder organisation XM-SALW-COORDINATION" in r.stderr
    named = run(
        "export",
        str(scenario_file),
        "--result",
        str(result),
        "--format",
        "iati",
        "-o",
        str(tmp_path / "b.xml"),
        "--org-ref",
        "XM-DAC-41114",
    )
    assert named.exit_code == 0 and "Warning" not in named.stderr
    back = tmp_path / "back.yaml"
    assert run("import", str(out), "-o", str(back)).exit_code == 0
    committed = {(c["donor"], c["request"]): c["amount"] for c in yaml.safe_load(back.read_text())["commitments"]}
    assert committed == {(a["donor"], a["request"]): a["amount"] for a in json.loads(result.read_text())["allocations"]}


def test_export_refuses_result_of_another_scenario(scenario_file, tmp_path, ok_small):
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(ok_small), encoding="utf-8")
    result = tmp_path / "r.json"
    run("solve", str(other), "--format", "json", "-o", str(result), "--time-limit", "10")
    r = run("export", str(scenario_file), "--result", str(result), "--format", "xlsx", "-o", str(tmp_path / "x.xlsx"))
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {result}: is the result of another scenario")
    assert not (tmp_path / "x.xlsx").exists()


def test_import_single_csv_file_says_give_the_folder(tmp_path):
    f = tmp_path / "requests.csv"
    f.write_text("id\n")
    r = run("import", str(f), "-o", str(tmp_path / "s.yaml"))
    assert r.exit_code == 1
    assert r.stderr == f"Error: {f}: give the folder that holds the CSV files (scenario.csv, donors.csv, ...)\n"


def _bad_books():
    """A user's slips, each an edit of a good workbook; every one must be an Error: naming the cell."""

    def put(sheet, ref, value):
        return lambda wb: wb[sheet].__setitem__(ref, value)

    def rename(wb):
        wb["requests"].title = "Requests 2027"

    return {
        "formula": (put("requests", "E2", "=1+1"), "requests row 2, column amount (E2): formula"),
        "merged": (lambda wb: wb["donors"].merge_cells("B2:C2"), "donors row 2, column name (B2): merged cells"),
        "date-in-number": (put("donors", "D3", datetime(2027, 5, 1)), "donors row 3, column budget (D3): a date"),
        "empty-required": (put("requests", "B3", None), "requests row 3, column country (B3): empty required"),
        "sheet-name": (rename, "requests: sheet 'requests' is missing (not read: 'Requests 2027')"),
        "country": (put("requests", "B3", "XXX"), "requests row 3, column country (B3): 'XXX' is not an ISO"),
        "negative": (put("requests", "E3", -5000), "requests row 3, column amount (E3): -5000 is not above 0"),
        "huge": (put("donors", "D2", 1e30), "donors row 2, column budget (D2): 1e+30 is larger"),
        "priority-text": (put("requests", "F2", "high"), "requests row 2, column priority (F2): 'high' is not"),
        "empty-workbook": (
            lambda wb: [wb.remove(ws) for ws in wb.worksheets[1:]] and setattr(wb.worksheets[0], "title", "Sheet1"),
            "workbook: no sheet is named",
        ),
    }


@pytest.mark.parametrize("case", list(_bad_books()))
def test_bad_workbook_is_one_error_and_nothing_is_written(case, scenario_file, tmp_path):
    change, expected = _bad_books()[case]
    book = tmp_path / "book.xlsx"
    assert run("export", str(scenario_file), "--format", "xlsx", "-o", str(book)).exit_code == 0
    wb = openpyxl.load_workbook(book)
    change(wb)
    wb.save(book)
    out = tmp_path / "out.yaml"
    r = run("import", str(book), "-o", str(out))
    assert r.exit_code == 1, r.output
    lines = r.stderr.splitlines()
    assert lines[0] == f"Error: {book}: 1 problem, nothing was written:"
    assert lines[1].startswith(f"  {expected}"), lines
    assert "Traceback" not in r.output and not out.exists()


@pytest.mark.parametrize("content", [b"id,name\n", b"", b"PK\x03\x04broken"], ids=["text", "empty", "broken-zip"])
def test_not_a_workbook_renamed_xlsx(content, tmp_path):
    book = tmp_path / "book.xlsx"
    book.write_bytes(content)
    r = run("import", str(book), "-o", str(tmp_path / "out.yaml"))
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {book}: not an .xlsx workbook (") and len(r.stderr.splitlines()) == 1
    assert r.stderr.endswith("); save it from the spreadsheet as .xlsx\n")
    assert not (tmp_path / "out.yaml").exists()


def test_exports_are_readable_by_others(scenario_file, tmp_path):
    """Files and folders are written atomically through temporary ones, but keep the usual permissions."""
    mask = os.umask(0o022)
    try:
        book, folder, tpl = tmp_path / "s.xlsx", tmp_path / "csv", tmp_path / "t.xlsx"
        assert run("export", str(scenario_file), "--format", "xlsx", "-o", str(book)).exit_code == 0
        assert run("export", str(scenario_file), "--format", "csv", "-o", str(folder)).exit_code == 0
        assert run("template", str(tpl)).exit_code == 0
    finally:
        os.umask(mask)
    assert [oct(p.stat().st_mode & 0o777) for p in (book, tpl, folder, folder / "donors.csv")] == [
        "0o644",
        "0o644",
        "0o755",
        "0o644",
    ]


def test_export_a_variant_file(tmp_path):
    """examples/deu-cut.yaml is a variant of west-africa.yaml: it exports as the scenario it makes."""
    root = Path(__file__).resolve().parent.parent
    book, back = tmp_path / "v.xlsx", tmp_path / "v.yaml"
    assert run("export", str(root / "examples" / "deu-cut.yaml"), "--format", "xlsx", "-o", str(book)).exit_code == 0
    assert run("import", str(book), "-o", str(back)).exit_code == 0
    base = {d.id: d.budget for d in load_scenario(root / "examples" / "west-africa.yaml").donors}
    cut = {d.id: d.budget for d in load_scenario(back).donors}
    assert cut["DEU"] == int(base["DEU"] * 0.8) and load_scenario(back).title == "Germany cuts 20%"


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))
needs_soffice = pytest.mark.skipif(
    not _soffice() and not os.environ.get("CI"), reason="LibreOffice (soffice) is not installed"
)


@pytest.fixture(scope="module")
def resaved(tmp_path_factory):
    """Exports (with a result), every bundled scenario and the template, opened and saved again by
    LibreOffice Calc in one headless run; returns (written, re-saved) folders."""
    assert _soffice(), "CI must install libreoffice-calc (see .ci/run)"
    work = tmp_path_factory.mktemp("lo")
    written, saved = work / "written", work / "saved"
    written.mkdir()
    source = work / "injection.yaml"
    source.write_text(yaml.safe_dump(injection(), sort_keys=False), encoding="utf-8")
    r = run(
        "export",
        str(source),
        "--solve",
        "--time-limit",
        "10",
        "--format",
        "xlsx",
        "-o",
        str(written / "injection.xlsx"),
    )
    assert r.exit_code == 0, r.output
    for path in BUNDLED:
        assert run("export", str(path), "--format", "xlsx", "-o", str(written / f"{path.stem}.xlsx")).exit_code == 0
    assert run("template", str(written / "template.xlsx")).exit_code == 0
    profile = (work / "profile").as_uri()  # own profile: never clashes with another soffice
    files = sorted(str(f) for f in written.iterdir())
    subprocess.run(
        [
            _soffice(),
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(saved),
            *files,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return written, saved


def _import(book: Path, tmp_path: Path):
    back = tmp_path / "back.yaml"
    r = run("import", str(book), "-o", str(back))
    assert r.exit_code == 0, r.output
    return scenario_data(load_scenario(back))


@needs_soffice
def test_libreoffice_resave_still_imports_to_the_same_scenario(resaved, tmp_path):
    """Opened and saved again by LibreOffice Calc, an export with its result still imports to the same scenario;
    the formula-like text is still text."""
    written, saved = resaved
    assert (saved / "injection.xlsx").read_bytes() != (written / "injection.xlsx").read_bytes()
    assert _import(saved / "injection.xlsx", tmp_path) == scenario_data(parse_scenario(injection()))
    wb = openpyxl.load_workbook(saved / "injection.xlsx")
    assert {"allocations", "outcomes", "donor_totals", "run"} <= set(wb.sheetnames)
    name = wb["donors"]["B2"]
    assert name.value == "+cmd|' /C calc'!A0" and name.data_type == "s"


@needs_soffice
@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_libreoffice_resave_of_bundled_scenarios(resaved, path, tmp_path):
    from matcher.variants import resolve_file

    _, saved = resaved
    assert _import(saved / f"{path.stem}.xlsx", tmp_path) == scenario_data(parse_scenario(resolve_file(path)))


@needs_soffice
def test_libreoffice_keeps_the_template_usable(resaved, tmp_path):
    """The template saved by LibreOffice keeps its drop-downs and notes, and fills and imports like the original."""
    _, saved = resaved
    book = tmp_path / "t.xlsx"
    book.write_bytes((saved / "template.xlsx").read_bytes())
    wb = openpyxl.load_workbook(book)
    lists = {dv.formula1.lstrip("=").split(":")[0] for dv in wb["requests"].data_validations.dataValidation}
    assert {"lists!$A$2", "lists!$B$2", "lists!$D$2"} <= lists and wb["lists"].sheet_state == "hidden"
    assert wb["requests"]["B1"].comment is not None and wb["scenario"]["A3"].comment is not None
    wb["scenario"]["C3"], wb["scenario"]["C5"] = "lo-2027", "EUR"
    wb["donors"].append(["DEU", "Germany", "funds", 500000])
    wb["requests"].append(["NER-1", "NER", None, "stockpile", 400000, 5, None, None, "diversion, iti"])
    wb.save(book)
    data = _import(book, tmp_path)
    assert (data["name"], data["requests"][0]["agenda"]) == ("lo-2027", ["diversion", "iti"])


def test_csv_export_into_a_folder_with_files_needs_force_and_then_replaces_them(tmp_path):
    scenario_file = str(Path(__file__).resolve().parent.parent / "scenarios" / "lac-unlirec-2027.yaml")
    out = tmp_path / "csv"
    first = CliRunner().invoke(
        cli, ["export", scenario_file, "--solve", "--node-limit", "200", "--format", "csv", "-o", str(out)]
    )
    assert first.exit_code == 0, first.output
    assert (out / "allocations.csv").exists()
    (out / "budget-notes.csv").write_text("mine\n", encoding="utf-8")
    again = CliRunner().invoke(cli, ["export", scenario_file, "--format", "csv", "-o", str(out)])
    assert again.exit_code == 1
    assert again.stderr.startswith(f"Error: {out}: the folder already holds an export's CSV files")
    assert (out / "allocations.csv").exists()  # nothing touched
    forced = CliRunner().invoke(cli, ["export", scenario_file, "--format", "csv", "-o", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert not (out / "allocations.csv").exists()  # the earlier result's files would mislead: gone
    assert (out / "requests.csv").exists()
    assert (out / "budget-notes.csv").read_text(encoding="utf-8") == "mine\n"  # the user's own file stays
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / ".keep").write_text("", encoding="utf-8")
    assert CliRunner().invoke(cli, ["export", scenario_file, "--format", "csv", "-o", str(mine)]).exit_code == 0


def test_the_result_table_names_export_knows_are_the_ones_it_writes():
    from matcher.engine import SolveParams, solve
    from matcher.sheets.results import RESULT_TABLES, result_tables

    s = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "lac-unlirec-2027.yaml")
    r = solve(s, SolveParams(node_limit=100, polish_seconds=0))
    assert tuple(t.name for t in result_tables(r, s)) == RESULT_TABLES


def test_xlsx_export_over_an_existing_workbook_needs_force(scenario_file, tmp_path):
    """template and CSV export refused to overwrite; xlsx export replaced a workbook someone may have edited."""
    book = tmp_path / "round.xlsx"
    assert run("export", str(scenario_file), "--format", "xlsx", "-o", str(book)).exit_code == 0
    book.write_bytes(b"edited by hand")
    again = run("export", str(scenario_file), "--format", "xlsx", "-o", str(book))
    assert again.exit_code == 1
    assert (
        again.stderr == f"Error: {book}: exists, perhaps edited since; choose another name, or add --force to "
        "replace it\n"
    )
    assert book.read_bytes() == b"edited by hand"
    assert run("export", str(scenario_file), "--format", "xlsx", "-o", str(book), "--force").exit_code == 0
    assert book.read_bytes() != b"edited by hand"

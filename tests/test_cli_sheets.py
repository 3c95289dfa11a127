"""The template, import and export commands: exit codes, exact Error lines, and nothing written on error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(not _soffice() and not os.environ.get("CI"), reason="LibreOffice (soffice) is not installed")
def test_libreoffice_resave_still_imports_to_the_same_scenario(tmp_path):
    """Opened and saved again by LibreOffice Calc, an export still imports to the same scenario."""
    assert _soffice(), "CI must install libreoffice-calc (see .ci/run)"
    s = parse_scenario(injection())
    book = tmp_path / "export.xlsx"
    run_path = tmp_path / "s.yaml"
    run_path.write_text(yaml.safe_dump(injection(), sort_keys=False), encoding="utf-8")
    assert run("export", str(run_path), "--format", "xlsx", "-o", str(book)).exit_code == 0
    saved = tmp_path / "lo"
    profile = (tmp_path / "profile").as_uri()  # own profile: never clashes with another soffice
    subprocess.run([_soffice(), f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(saved), str(book)], check=True, capture_output=True, timeout=300)
    assert (saved / "export.xlsx").read_bytes() != book.read_bytes()
    back = tmp_path / "back.yaml"
    r = run("import", str(saved / "export.xlsx"), "-o", str(back))
    assert r.exit_code == 0, r.output
    assert scenario_data(load_scenario(back)) == scenario_data(s)

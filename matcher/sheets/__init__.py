"""Scenario spreadsheets: the template, XLSX and CSV export (with a result) and import.

``template_xlsx()``, ``export_xlsx(scenario, result)``, ``export_csv(scenario, result)`` return what to
write; ``read_workbook(path)`` and ``read_csv_dir(path)`` return a validated Scenario or raise a
SheetError listing every problem with its sheet, row and column.
"""

from __future__ import annotations

from matcher.domain import Scenario
from matcher.result import Result
from matcher.sheets.cells import SheetError
from matcher.sheets.csv_io import csv_files, read_csv_dir
from matcher.sheets.results import result_tables
from matcher.sheets.tables import Table, scenario_tables
from matcher.sheets.xlsx_io import read_workbook, workbook_bytes


def template_xlsx() -> bytes:
    """An empty scenario workbook: every sheet, header notes and drop-down lists."""
    return workbook_bytes(scenario_tables(None))


def export_tables(scenario: Scenario, result: Result | None = None, run_id: str | None = None) -> list[Table]:
    """The scenario's sheets, then the result's when there is one."""
    tables = scenario_tables(scenario)
    if result is not None:
        tables += result_tables(result, scenario, run_id)
    return tables


def export_xlsx(scenario: Scenario, result: Result | None = None, run_id: str | None = None) -> bytes:
    """The scenario (and its result) as an .xlsx workbook."""
    return workbook_bytes(export_tables(scenario, result, run_id))


def export_csv(scenario: Scenario, result: Result | None = None, run_id: str | None = None) -> dict[str, str]:
    """The scenario (and its result) as CSV texts by file name."""
    return csv_files(export_tables(scenario, result, run_id))


__all__ = ["SheetError", "export_csv", "export_tables", "export_xlsx", "read_csv_dir", "read_workbook", "template_xlsx"]

"""Scenario workbooks (.xlsx) in and out, with openpyxl; XML parsing goes through defusedxml.

Writing: one sheet per part of the scenario (and of a result), header notes, filters, frozen headers
and drop-down lists. Text a spreadsheet would run as a formula is stored as text with a quote prefix,
so it is shown, never run. Reading refuses formulas, merged cells and dates where numbers belong.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError, InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula

from matcher.domain import Scenario
from matcher.errors import MatcherError
from matcher.sheets.cells import FORMULA_STARTS, Loc, RawCell, located
from matcher.sheets.columns import choice_lists
from matcher.sheets.tables import RawSheet, Table, parse_sheets

LISTS_SHEET = "lists"  # hidden sheet holding the drop-down values (too long for an inline list)
MAX_BYTES = 50_000_000  # a scenario workbook is a few MB at most; refuse anything that could be a zip bomb
VALIDATED_ROWS = 2000
LIBREOFFICE_BOOLEANS = {"=TRUE()": True, "=FALSE()": False}


# --- writing -------------------------------------------------------------------------------------


def workbook_bytes(tables: list[Table]) -> bytes:
    """The tables as an .xlsx file (bytes), every sheet filterable, with drop-downs and header notes."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    ranges = _write_lists(wb)
    for table in tables:
        _write_table(wb.create_sheet(table.name), table, ranges)
    wb.move_sheet(LISTS_SHEET, offset=len(wb.sheetnames))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _write_lists(wb: openpyxl.Workbook) -> dict[str, str]:
    ws = wb.create_sheet(LISTS_SHEET)
    ws.sheet_state = "hidden"
    ranges = {}
    for col, (name, values) in enumerate(choice_lists().items(), start=1):
        ws.cell(row=1, column=col, value=name)
        for row, value in enumerate(values, start=2):
            ws.cell(row=row, column=col, value=value)
        letter = get_column_letter(col)
        ranges[name] = f"{LISTS_SHEET}!${letter}$2:${letter}${len(values) + 1}"
    return ranges


def _write_table(ws, table: Table, ranges: dict[str, str]) -> None:
    bold = Font(bold=True)
    for col, column in enumerate(table.columns, start=1):
        cell = ws.cell(row=1, column=col, value=column.name)
        cell.font = bold
        note = column.help + (" Required." if getattr(column, "required", False) else "")
        cell.comment = Comment(note, "matcher", width=300, height=120)
        ws.column_dimensions[get_column_letter(col)].width = max(12, min(40, len(column.name) + 6))
    for r, row in enumerate(table.rows, start=2):
        for c, value in enumerate(row, start=1):
            _set_cell(ws, r, c, value, table.name)
    for r, row_note in enumerate(table.row_notes, start=2):
        if row_note:
            ws.cell(row=r, column=1).comment = Comment(row_note, "matcher", width=300, height=100)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{max(2, len(table.rows) + 1)}"
    _add_validations(ws, table, ranges)


def _set_cell(ws, row: int, col: int, value: Any, sheet: str) -> None:
    """Write one value; text is always stored as text, and formula-like text gets a quote prefix."""
    if value is None:
        return
    if isinstance(value, date):
        cell = ws.cell(row=row, column=col, value=value)
        cell.number_format = "yyyy-mm-dd"
        return
    try:
        cell = ws.cell(row=row, column=col, value=value)
    except IllegalCharacterError:
        raise MatcherError(f"{sheet} row {row}: {value!r} holds a control character a workbook cannot store") from None
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would store text starting with '=' as a formula
        if value.startswith(FORMULA_STARTS):
            cell.quotePrefix = True


def _add_validations(ws, table: Table, ranges: dict[str, str]) -> None:
    last = max(VALIDATED_ROWS, len(table.rows) + 200)
    for col, column in enumerate(table.columns, start=1):
        choices = getattr(column, "choices", None)
        if not choices:
            continue
        # No '=' before the range: OOXML stores formulas without it, as Excel and LibreOffice write them.
        dv = DataValidation(type="list", formula1=ranges[choices], allow_blank=True, showErrorMessage=True)
        dv.error = f"Pick a value of the list '{choices}'."
        dv.errorTitle = f"Not a {column.name}"
        letter = get_column_letter(col)
        dv.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(dv)


# --- reading -------------------------------------------------------------------------------------


def read_workbook(path: str | Path) -> Scenario:
    """The scenario in an .xlsx workbook; a SheetError lists every problem with sheet, row and column."""
    wb = _open(Path(path))
    sheets = [_raw_sheet(ws) for ws in wb.worksheets if ws.title != LISTS_SHEET]
    return parse_sheets(sheets, str(path))


def _open(path: Path) -> openpyxl.Workbook:
    if not path.is_file():
        raise MatcherError(f"{path}: no such file; check the path")
    if path.stat().st_size > MAX_BYTES:
        raise MatcherError(f"{path}: {path.stat().st_size} bytes is more than a scenario workbook needs; split it")
    try:
        with zipfile.ZipFile(path) as zf:
            if sum(i.file_size for i in zf.infolist()) > 20 * MAX_BYTES:
                raise MatcherError(f"{path}: unpacks to more than {20 * MAX_BYTES} bytes; refusing to read it")
        return openpyxl.load_workbook(path, data_only=False, rich_text=False)
    except MatcherError:
        raise
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise MatcherError(f"{path}: not an .xlsx workbook ({exc}); save it from the spreadsheet as .xlsx") from None


def _raw_sheet(ws) -> RawSheet:
    merged = {}
    problems = []
    for rng in ws.merged_cells.ranges:
        merged[(rng.min_row, rng.min_col)] = rng.coord
        if rng.min_row == 1:
            where = Loc(ws.title, 1, None, rng.coord)
            problems.append(located(where, f"merged header cells {rng.coord}; unmerge them"))
    covered = {(r, c) for rng in ws.merged_cells.ranges for r, c in _cells_of(rng)}
    header = []
    for col in range(1, ws.max_column + 1):
        value = ws.cell(row=1, column=col).value
        header.append((value if value is None else str(value), Loc(ws.title, 1, None, f"{get_column_letter(col)}1")))
    rows = []
    for r, row in enumerate(ws.iter_rows(min_row=2), start=2):
        cells: list[RawCell | None] = []
        for c, cell in enumerate(row, start=1):
            cells.append(_raw_cell(ws.title, header, r, c, cell, merged, covered))
        rows.append((r, cells))
    return RawSheet(ws.title, header, rows, problems)


def _cells_of(rng) -> list[tuple[int, int]]:
    return [(r, c) for r in range(rng.min_row, rng.max_row + 1) for c in range(rng.min_col, rng.max_col + 1)]


def _raw_cell(title: str, header, r: int, c: int, cell, merged: dict, covered: set) -> RawCell | None:
    column = header[c - 1][0] if c - 1 < len(header) else None
    loc = Loc(title, r, column.strip().lower() if isinstance(column, str) else None, f"{get_column_letter(c)}{r}")
    value = cell.value
    is_formula = cell.data_type == "f" or isinstance(value, ArrayFormula)
    if isinstance(value, ArrayFormula):
        value = value.text
    if is_formula and isinstance(value, str) and value.strip().upper() in LIBREOFFICE_BOOLEANS:
        # LibreOffice stores a typed TRUE/FALSE as the constant formula =TRUE(): a value, not a calculation
        value, is_formula = LIBREOFFICE_BOOLEANS[value.strip().upper()], False
    merged_range = merged.get((r, c))
    if value is None and not merged_range and (r, c) not in covered:
        return None
    if (r, c) in covered and not merged_range:
        return None  # the top-left cell of the range carries the problem
    shows_error = cell.data_type == "e" and not is_formula
    return RawCell(value, loc, formula=is_formula, merged=merged_range, shows_error=shows_error)

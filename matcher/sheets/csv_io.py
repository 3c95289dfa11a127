"""Scenario CSV folders in and out: one UTF-8 file per sheet (donors.csv, requests.csv, ...), stdlib csv.

Reading accepts UTF-8 with or without a byte-order mark, separated by commas or, as spreadsheets set to a
decimal-comma locale save CSV, by semicolons (then a decimal comma is read in number cells). Writing adds
the mark (Excel then reads the accents right) and prefixes text a spreadsheet would run as a formula with a
quote; reading removes it.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

from matcher.domain import Scenario
from matcher.errors import MatcherError, Problem
from matcher.sheets.cells import FORMULA_STARTS, Loc, RawCell, SheetError
from matcher.sheets.columns import SHEETS
from matcher.sheets.tables import RawSheet, Table, parse_sheets

MAX_BYTES = 50_000_000
QUOTE = "'"


def csv_files(tables: list[Table]) -> dict[str, str]:
    """File name -> CSV text (with BOM) for each table."""
    return {f"{t.name}.csv": _csv_text(t) for t in tables}


def _csv_text(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.name for c in table.columns])
    for row in table.rows:
        writer.writerow([_cell(v) for v in row])
    return "\ufeff" + buf.getvalue()


def _cell(value: Any) -> str:
    """A value as CSV text; formula-like text is shown, not run, behind a leading quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, QUOTE)):
        return QUOTE + value  # a text that starts with the quote itself is quoted too, so reading is exact
    return str(value)


def read_csv_dir(path: str | Path) -> Scenario:
    """The scenario in a folder of CSV files named after the sheets; every problem listed with its place."""
    folder = Path(path)
    if not folder.is_dir():
        raise MatcherError(f"{path}: not a folder; give the folder holding scenario.csv, donors.csv, requests.csv")
    sheets, problems = [], []
    for file in sorted(folder.glob("*.csv")):
        if file.stem.lower() not in SHEETS:
            continue  # allocations.csv and other result files
        try:
            sheets.append(_raw_sheet(file))
        except MatcherError as exc:
            problems.append(Problem(file.name, str(exc)))
    if problems:
        raise SheetError(problems, str(path))
    return parse_sheets(sheets, str(path))


def _raw_sheet(file: Path) -> RawSheet:
    if file.stat().st_size > MAX_BYTES:
        raise MatcherError(f"{file.stat().st_size} bytes is more than a scenario needs")
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MatcherError(f"not UTF-8 (byte {exc.start}); save it as 'CSV UTF-8'") from None
    name = file.name
    delimiter = _delimiter(text)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise MatcherError(f"not readable as CSV: {exc}") from None
    if not records:
        return RawSheet(name, [], [])
    header = [(h, Loc(name, 1, None)) for h in records[0]]
    rows = []
    for number, record in enumerate(records[1:], start=2):
        cells = []
        for i, value in enumerate(record):
            column = records[0][i].strip().lower() if i < len(records[0]) else None
            cell = RawCell(_unquote(value), Loc(name, number, column), decimal_comma=delimiter == ";")
            cells.append(cell if value.strip() else None)
        rows.append((number, cells))
    return RawSheet(name, header, rows)


def _delimiter(text: str) -> str:
    """';' when the header row is separated by semicolons (column names hold neither ';' nor ','), else ','."""
    first = text.split("\n", 1)[0]
    return ";" if ";" in first and "," not in first else ","


def _unquote(value: str) -> str:
    """Undo the export's quote before formula-like text (or before text that starts with a quote)."""
    if value.startswith(QUOTE) and value[1:].startswith((*FORMULA_STARTS, QUOTE)):
        return value[1:]
    return value

"""Scenario data <-> sheet tables, the layer shared by the XLSX and CSV readers and writers.

Writing turns a Scenario into tables of plain cell values. Reading takes the raw cells a reader found,
converts each by its column's kind, builds scenario data, validates it, and reports every problem
(cell problems and scenario problems alike) at the sheet, row and column it came from.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from matcher.domain import Scenario
from matcher.errors import Problem, ScenarioError
from matcher.scenario_io import parse_scenario, scenario_data
from matcher.sheets.cells import (
    CellProblem,
    FullProblem,
    Loc,
    RawCell,
    SheetError,
    cell_text,
    convert,
    is_empty,
    located,
)
from matcher.sheets.columns import (
    DATE,
    INT,
    INT_LIST,
    MONEY_COLUMNS,
    RECORD_SHEETS,
    SETTINGS_SHEETS,
    SHEET_ORDER,
    SHEETS,
    TEXT,
    Column,
    RecordSheet,
    SettingsSheet,
    choice_lists,
)


@dataclass
class Table:
    """One sheet to write: header with help and validation lists, then rows of cell values."""

    name: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    row_notes: list[str | None] = field(default_factory=list)  # a note on the first cell of each row


@dataclass
class RawSheet:
    """One sheet as a reader found it: header names with their places, then numbered rows of cells."""

    name: str
    header: Sequence[tuple[str | None, Loc]]  # None: an empty header cell
    rows: list[tuple[int, list[RawCell | None]]]
    problems: list[Problem] = field(default_factory=list)  # reader-level, e.g. merged header cells


# --- writing -------------------------------------------------------------------------------------


def scenario_tables(scenario: Scenario | None) -> list[Table]:
    """The scenario's sheets in SHEET_ORDER; ``None`` gives the empty template."""
    data = scenario_data(scenario) if scenario is not None else {}
    tables = []
    for name in SHEET_ORDER:
        sheet = SHEETS[name]
        if isinstance(sheet, SettingsSheet):
            source = data if name == "scenario" else data.get("policy", {})
            rows = _settings_rows(sheet, source)
            helps = {s.name: s.help + (" Required." if s.required else "") for s in sheet.settings}
            notes: list[str | None] = [helps[row[0]] for row in rows]
        else:
            rows = [[cell_text(record.get(c.name)) for c in sheet.columns] for record in data.get(name, [])]
            notes = []
        tables.append(Table(name, list(sheet.columns), rows, notes))
    return tables


def _settings_rows(sheet: SettingsSheet, source: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for s in sheet.settings:
        value = source.get(s.name)
        if s.key_kind is None:
            if s.kind == DATE and value:
                value = date.fromisoformat(value)  # a real date cell, not text a spreadsheet may reformat
            rows.append([s.name, None, cell_text(value)])
        elif value:
            rows += [[s.name, key, v] for key, v in value.items()]
        else:
            rows.append([s.name, None, None])  # shows the user the setting exists
    return rows


# Sheets an export adds next to the scenario's: never read, never worth a mention.
NOT_SCENARIO_SHEETS = frozenset({"run", "allocations", "outcomes", "donor_totals", "lists"})


# --- reading -------------------------------------------------------------------------------------


class _Reader:
    """Collects data, the place of every value and every problem while reading the sheets."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.places: dict[str, Loc] = {}
        self.problems: list[Problem] = []
        self.flagged: set[tuple[str, int | None, str | None]] = set()
        self.suggested: set[str] = set()  # sheets a 'did you mean' problem already names

    def fail(self, loc: Loc, message: str) -> None:
        self.problems.append(located(loc, message))
        self.flagged.add((loc.sheet, loc.row, loc.column))
        self.flagged.add((loc.sheet, loc.row, None))

    def value(self, cell: RawCell | None, column: Column, required: bool, empty_loc: Loc) -> Any:
        """The converted cell value, or None when empty or wrong (the problem is recorded)."""
        if cell is not None and cell.merged:
            self.fail(cell.loc, f"merged cells {cell.merged}; unmerge them and put the value in each cell")
            return None
        if cell is not None and cell.formula:
            self.fail(
                cell.loc,
                f"formula {cell.value!s:.40}; the importer does not run formulas: paste the value"
                " (Paste Special > Values)",
            )
            return None
        if cell is None or is_empty(cell.value):
            if required:
                self.fail(empty_loc, f"empty required cell; fill in the {column.name}")
            return None
        if cell.shows_error:
            self.fail(cell.loc, f"the cell shows the error {cell.value}; type the value itself")
            return None
        try:
            value = convert(cell.value, column.kind, cell.decimal_comma)
        except FullProblem as exc:
            self.fail(cell.loc, str(exc))
            return None
        except CellProblem as exc:
            self.fail(cell.loc, str(exc) + _hint(column, cell.value))
            return None
        if column.kind == TEXT and column.name not in FREE_TEXT and isinstance(value, str) and _breaks(value):
            self.fail(
                cell.loc, f"a line break or tab inside the {column.name} {value.strip()!r}; retype it on one line"
            )
            return None
        return value


# Text columns where a line break or tab may belong; everywhere else (ids, codes) it is a slip.
FREE_TEXT = frozenset({"title", "name", "unit"})


def _breaks(text: str) -> bool:
    return any(ch in text for ch in "\t\r\n")


def _hint(column: Column, value: Any) -> str:
    """What the column takes, added to a cell problem: the list of a drop-down column, or whole money units."""
    if column.choices:
        values = choice_lists()[column.choices]
        if len(values) <= 20:
            return f"; pick one of: {', '.join(_shown(v) for v in values)}"
    number = isinstance(value, (int, float)) or re.fullmatch(r"[\d.,\s+-]+", str(value)) is not None
    if number and column.name in MONEY_COLUMNS and column.kind in (INT, INT_LIST):
        return "; amounts are whole currency units"
    return ""


def _shown(value: Any) -> str:
    return ("TRUE" if value else "FALSE") if isinstance(value, bool) else str(value)


def parse_sheets(sheets: list[RawSheet], source: str) -> Scenario:
    """The scenario the sheets describe, or a SheetError listing every problem with its place."""
    reader = _Reader()
    found, unread = _match_sheets(sheets, reader)
    if not found:
        raise SheetError([Problem("workbook", _no_sheets(sheets))], source)
    for name in SHEET_ORDER:
        sheet = SHEETS[name]
        raw = found.get(name)
        if raw is None:
            if sheet.required:
                _missing_sheet(name, sheet, unread, reader)
            continue
        reader.problems += raw.problems
        columns = _header(raw, sheet, reader)
        if isinstance(sheet, SettingsSheet):
            _read_settings(raw, sheet, columns, reader)
        else:
            _read_records(raw, sheet, columns, reader)
    try:
        scenario = parse_scenario(reader.data, source)
    except ScenarioError as exc:
        reader.problems += [p for p in (_place(problem, reader) for problem in exc.problems) if p is not None]
        scenario = None
    if reader.problems or scenario is None:
        raise SheetError(reader.problems, source)
    return scenario


def _no_sheets(sheets: list[RawSheet]) -> str:
    names = ", ".join(f"'{s.name}'" for s in sheets) or "none"
    return (
        f"no sheet is named {', '.join(SHEET_ORDER)} (found: {names}); start from `matcher template FILE.xlsx`"
        " and copy the data into its sheets"
    )


def _missing_sheet(name: str, sheet: RecordSheet | SettingsSheet, unread: list[str], reader: _Reader) -> None:
    """A required sheet is missing: say so once, naming the sheets that were not read (one may be it)."""
    reader.places[name] = Loc(name)
    reader.flagged.add((name, None, None))
    if isinstance(sheet, SettingsSheet):
        for s in sheet.settings:  # its required settings are part of this one problem
            reader.places[s.name if name == "scenario" else f"{name}.{s.name}"] = Loc(name)
    if name in reader.suggested:
        return  # 'did you mean' already points at the sheet
    others = f" (not read: {', '.join(repr(u) for u in unread)})" if unread else ""
    reader.fail(
        Loc(name),
        f"sheet '{name}' is missing{others}; add it or rename the sheet that holds the {name}"
        " (sheet names as in `matcher template`)",
    )


def _match_sheets(sheets: list[RawSheet], reader: _Reader) -> tuple[dict[str, RawSheet], list[str]]:
    """Known sheets by lower-case name and the names of unknown sheets; a near miss ('Request') is a problem."""
    found: dict[str, RawSheet] = {}
    unread: list[str] = []
    names = {s.name.strip().lower().removesuffix(".csv") for s in sheets}
    for raw in sheets:
        key = raw.name.strip().lower().removesuffix(".csv")
        if key in SHEETS:
            if key in found:
                reader.problems.append(Problem(raw.name, f"a second '{key}' sheet; keep one"))
            found[key] = raw
            continue
        close = difflib.get_close_matches(key, list(SHEETS), n=1, cutoff=0.8)
        if close and close[0] not in names:
            reader.problems.append(
                Problem(raw.name, f"sheet '{raw.name}' is not read; did you mean '{close[0]}'? Rename it")
            )
            reader.suggested.add(close[0])
        elif key not in NOT_SCENARIO_SHEETS:
            unread.append(raw.name)
    return found, unread


def _header(raw: RawSheet, sheet: RecordSheet | SettingsSheet, reader: _Reader) -> list[Column | None]:
    """The column of each header position (None = empty header); unknown or missing columns are problems."""
    columns: list[Column | None] = []
    seen: set[str] = set()
    known = {c.name: c for c in sheet.columns}
    for name, loc in raw.header:
        key = name.strip().lower() if isinstance(name, str) else name
        if key in (None, ""):
            columns.append(None)
        elif key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f" (columns: {', '.join(known)})"
            reader.fail(loc, f"unknown column '{name}'{hint}")
            columns.append(None)
        elif key in seen:
            reader.fail(loc, f"column '{key}' appears twice; keep one")
            columns.append(None)
        else:
            seen.add(key)
            columns.append(known[key])
    for c in sheet.columns:
        if c.required and c.name not in seen:
            where = f"{raw.name} column {c.name}"
            reader.problems.append(Problem(where, "required column is missing; add it to row 1"))
            reader.flagged.add((raw.name, None, c.name))
    return columns


def _row_cells(raw: RawSheet, columns: list[Column | None], row: list[RawCell | None], reader: _Reader):
    """The row's cells by column name; a value under an empty or unknown header is a problem."""
    cells: dict[str, RawCell] = {}
    for i, cell in enumerate(row):
        if cell is None or is_empty(cell.value) and not cell.formula and not cell.merged:
            continue
        column = columns[i] if i < len(columns) else None
        if column is None:
            if i >= len(raw.header) or raw.header[i][0] in (None, ""):
                reader.fail(cell.loc, "value under an empty header; name the column or clear the cell")
            continue
        cells[column.name] = cell
    return cells


def _read_records(raw: RawSheet, sheet: RecordSheet, columns: list[Column | None], reader: _Reader) -> None:
    records: list[dict[str, Any]] = []
    for number, row in raw.rows:
        cells = _row_cells(raw, columns, row, reader)
        if not cells:
            continue  # blank rows between records are harmless
        index = len(records)
        record: dict[str, Any] = {}
        reader.places[f"{sheet.name}[{index}]"] = Loc(raw.name, number)
        for column in sheet.columns:
            if (raw.name, None, column.name) in reader.flagged:
                continue
            loc = Loc(raw.name, number, column.name, _ref(raw, column.name, number))
            reader.places[f"{sheet.name}[{index}].{column.name}"] = loc
            value = reader.value(cells.get(column.name), column, column.required, loc)
            if value is not None and value != []:
                record[column.name] = value
        records.append(record)
    reader.data[sheet.name] = records


def _read_settings(raw: RawSheet, sheet: SettingsSheet, columns: list[Column | None], reader: _Reader) -> None:
    target: dict[str, Any] = reader.data if sheet.name == "scenario" else reader.data.setdefault("policy", {})
    prefix = "" if sheet.name == "scenario" else "policy."
    _expect_required_settings(raw, sheet, reader)
    for number, row in raw.rows:
        cells = _row_cells(raw, columns, row, reader)
        if not cells:
            continue
        loc = {c.name: Loc(raw.name, number, c.name, _ref(raw, c.name, number)) for c in sheet.columns}
        name = reader.value(cells.get("setting"), sheet.columns[0], True, loc["setting"])
        if name is None:
            continue
        setting = sheet.setting(name)
        if setting is None:
            known = [s.name for s in sheet.settings]
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"one of: {', '.join(known)}"
            reader.fail(loc["setting"], f"unknown setting '{name}'; {hint}")
            continue
        _read_setting(setting, cells, loc, target, prefix, reader)


def _expect_required_settings(raw: RawSheet, sheet: SettingsSheet, reader: _Reader) -> None:
    """A required setting without a row is one problem at the sheet, not a bare 'missing key'."""
    at = [i for i, (name, _) in enumerate(raw.header) if isinstance(name, str) and name.strip().lower() == "setting"]
    if not at:
        return  # the missing column is reported already
    named = set()
    for _, row in raw.rows:
        cell = row[at[0]] if at[0] < len(row) else None
        if cell is not None and isinstance(cell.value, str):
            named.add(cell.value.strip())
    for s in sheet.settings:
        if s.required and s.name not in named:
            reader.fail(Loc(raw.name, None, "setting"), f"no '{s.name}' row; add a row: {s.name} | | value")
            reader.places[s.name] = Loc(raw.name, None, "setting")


def _read_setting(
    setting, cells: dict[str, RawCell], loc: dict[str, Loc], target: dict, prefix: str, reader: _Reader
) -> None:
    value_column = Column(setting.name, setting.kind, setting.help)
    key_cell, value_cell = cells.get("key"), cells.get("value")
    path = f"{prefix}{setting.name}"
    if setting.key_kind is None:
        if key_cell is not None:
            reader.fail(loc["key"], f"'{setting.name}' takes no key; clear this cell")
            return
        if setting.name in target:
            reader.fail(loc["setting"], f"'{setting.name}' is set twice; keep one row")
            return
        reader.places[path] = loc["value"]
        value = reader.value(value_cell, value_column, setting.required, loc["value"])
        if value is not None:
            target[setting.name] = value
        return
    if key_cell is None and value_cell is None:
        return  # the template's placeholder row of a map setting
    key = reader.value(key_cell, Column("key", setting.key_kind, ""), True, loc["key"])
    value = reader.value(value_cell, value_column, True, loc["value"])
    mapping = target.setdefault(setting.name, {})
    reader.places.setdefault(path, loc["setting"])
    if key is None or value is None:
        return
    if key in mapping:
        reader.fail(loc["key"], f"{setting.name} '{key}' is set twice; keep one row")
        return
    reader.places[f"{path}.{key}"] = loc["value"]
    reader.places[f"{path}[{key}]"] = loc["value"]
    mapping[key] = value


def _ref(raw: RawSheet, column: str, row: int) -> str | None:
    """The A1 reference of a cell for workbooks; CSV files have none."""
    for i, (name, loc) in enumerate(raw.header):
        if isinstance(name, str) and name.strip().lower() == column and loc.ref:
            return f"{_letters(i + 1)}{row}"
    return None


def _letters(n: int) -> str:
    text = ""
    while n:
        n, rem = divmod(n - 1, 26)
        text = chr(65 + rem) + text
    return text


def _place(problem: Problem, reader: _Reader) -> Problem | None:
    """A scenario problem moved to the cell it came from; None when that cell already has a problem."""
    path = problem.path
    while path:
        loc = reader.places.get(path)
        if loc is not None:
            if (loc.sheet, loc.row, loc.column) in reader.flagged or (loc.sheet, None, loc.column) in reader.flagged:
                return None
            if problem.message == "required key is missing":
                return None  # an empty required cell or missing column, already reported
            return located(loc, _rows_named(problem.message, reader))
        path = _parent(path)
    return problem


def _rows_named(message: str, reader: _Reader) -> str:
    """'already used by requests[0]' -> 'already used by requests row 2': the place a person can find."""

    def row(match: re.Match) -> str:
        loc = reader.places.get(match.group(0))
        return f"{loc.sheet} row {loc.row}" if loc is not None and loc.row is not None else match.group(0)

    return re.sub(r"\b(?:donors|requests|partners|commitments|offers)\[\d+\]", row, message)


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


__all__ = ["RawSheet", "Table", "parse_sheets", "scenario_tables", "TEXT", "RECORD_SHEETS", "SETTINGS_SHEETS"]

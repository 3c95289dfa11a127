"""Cells as read from a workbook or CSV file, their conversion by column kind, and located problems.

Every problem names its sheet, row and column, so a coordinator can go straight to the cell.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from matcher.domain import MAX_MONEY
from matcher.errors import Problem, ScenarioError
from matcher.sheets.columns import BOOL, DATE, FLOAT, INT, INT_LIST, LIST, TEXT

# A spreadsheet runs text starting with these as a formula; CSV export prefixes them with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Larger numbers are typing slips (1e30, a pasted account number) and would overflow the solver's integers.
MAX_NUMBER = MAX_MONEY
TRUE_WORDS, FALSE_WORDS = {"true", "yes", "1"}, {"false", "no", "0"}


@dataclass(frozen=True)
class Loc:
    """Where a value came from: sheet (or CSV file), 1-based row, column name and the cell reference."""

    sheet: str
    row: int | None = None
    column: str | None = None
    ref: str | None = None

    def __str__(self) -> str:
        text = self.sheet
        if self.row is not None:
            text += f" row {self.row}"
        if self.column is not None:
            text += f", column {self.column}" if self.row is not None else f" column {self.column}"
        if self.ref:
            text += f" ({self.ref})"
        return text


@dataclass(frozen=True)
class RawCell:
    """One non-empty cell as the reader found it; ``formula`` and ``merged`` mark cells we refuse."""

    value: Any
    loc: Loc
    formula: bool = False
    merged: str | None = None  # the merged range, e.g. "B3:C3"
    decimal_comma: bool = False  # a semicolon CSV from a spreadsheet set to a decimal-comma locale
    shows_error: bool = False  # a spreadsheet error value (#DIV/0!, #N/A...), not data


class SheetError(ScenarioError):
    """Problems found in a workbook or CSV folder; every one is listed, each with its place."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        super().__init__(problems, source)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = "\n".join(f"  {p}" for p in problems)
        prefix = f"{source}: " if source else ""
        self.args = (f"{prefix}{count}, nothing was written:\n{lines}",)

    def __str__(self) -> str:
        return str(self.args[0])


class CellProblem(ValueError):
    """A cell whose value cannot be read as its column's kind."""


class FullProblem(CellProblem):
    """A cell problem whose message already says the whole fix (a date in a number cell, a huge number)."""


def located(loc: Loc, message: str) -> Problem:
    """A Problem whose path is the sheet, row and column of the cell."""
    return Problem(str(loc), message)


def convert(value: Any, kind: str, decimal_comma: bool = False) -> Any:
    """The cell value as ``kind``; raises CellProblem with a message saying what to fix."""
    if isinstance(value, (datetime, date, time)) and kind != DATE:
        raise FullProblem(f"a date where {_what(kind)} belongs; format the cell as {_format(kind)} and retype it")
    if isinstance(value, str):
        # stray spaces around typed values, the no-break ones pasted from the web or a word processor too
        # (an id ending in one looks the same as one without); a leading tab or CR is kept as text
        value = value.strip(" \u00a0\u202f\u2007")
        if decimal_comma and kind == FLOAT and re.fullmatch(r"[+-]?\d+,\d+%?", value):
            value = value.replace(",", ".")
    return _CONVERTERS[kind](value)


def _what(kind: str) -> str:
    return {INT: "a whole number", FLOAT: "a number", BOOL: "TRUE or FALSE", TEXT: "text"}.get(kind, "a list")


def _format(kind: str) -> str:
    return "Number" if kind in (INT, FLOAT) else "Text"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id typed as 2027 arrives as a number
    return str(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise CellProblem(f"{value} where a whole number belongs")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise CellProblem(f"{value} is not a whole number")
    if isinstance(value, str):
        # 250000.0 or .00: a spreadsheet's number saved as CSV, as xlsx reads it. Never three zeros: in a
        # decimal-comma locale 250.000 is two hundred and fifty thousand, and is refused as ambiguous
        if re.fullmatch(r"[+-]?\d+\.0{1,2}", value):
            value = value.split(".")[0]
        elif re.fullmatch(r"[+-]?\d{1,3}([, \u00a0\u202f]\d{3})+", value):  # 1,000,000 or 1 000 000 typed as text
            plain = (value[0] if value[0] in "+-" else "") + re.sub(r"\D", "", value)
            raise CellProblem(
                f"'{value}' is text with thousands separators; write {plain} (or format the cell as Number)"
            )
        elif not re.fullmatch(r"[+-]?\d+", value):
            raise CellProblem(f"'{value}' is not a whole number")
    return _bounded(int(value), value)


def _bounded(number: Any, typed: Any) -> Any:
    if abs(number) > MAX_NUMBER:
        raise FullProblem(f"{typed} is larger than any amount this tool takes (at most {MAX_NUMBER:,}); check the cell")
    return number


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise CellProblem(f"{value} where a number belongs")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise CellProblem(f"{value} is not a finite number")
        return _bounded(float(value), value)
    text = value.rstrip("%")
    try:
        number = float(text)
    except ValueError:
        raise CellProblem(f"'{value}' is not a number") from None
    if not math.isfinite(number):
        raise CellProblem(f"'{value}' is not a finite number")
    return _bounded(number / 100 if value.endswith("%") else number, f"'{value}'")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)  # LibreOffice saves TRUE/FALSE as 1/0 with a boolean format
    word = str(value).lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise CellProblem(f"'{value}' is not TRUE or FALSE")


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise CellProblem(f"'{value}' is not a date; write it as YYYY-MM-DD")


def _list(value: Any) -> list[str]:
    if not isinstance(value, str):
        return [_text(value)]
    return [part.strip() for part in value.split(",") if part.strip()]


def _int_list(value: Any) -> list[int]:
    if not isinstance(value, str):
        return [_int(value)]
    return [_int(part) for part in _list(value)]


_CONVERTERS = {TEXT: _text, INT: _int, FLOAT: _float, BOOL: _bool, DATE: _date, LIST: _list, INT_LIST: _int_list}


def is_empty(value: Any) -> bool:
    """True for a cell with nothing in it (None or only spaces)."""
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> Any:
    """A scenario value as a cell value: lists comma separated, None stays empty."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else None
    return value

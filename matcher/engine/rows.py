"""Many linear constraints at once, from numpy arrays.

MathOpt's Python API adds a constraint by building and normalising an expression object, about
50 microseconds a row plus a few per coefficient; a round of 10,000 requests x 300 donors has
10^5 such rows and 10^6 coefficients, which took 15 s of model building. ``add_rows`` writes the
same rows, bounds and coefficients into the model's element store (the "elemental" that
MathOpt's own API writes to; ortools is pinned to 9.15 in pyproject.toml) in a handful of
vectorised calls. tests/test_engine_rows.py checks that the exported model equals the one the
one-at-a-time API builds.
"""

from __future__ import annotations

import numpy as np
from ortools.math_opt.elemental.python import enums
from ortools.math_opt.python import mathopt
from ortools.math_opt.python.variables import Variable


def add_rows(
    mo: mathopt.Model,
    lower: np.ndarray,
    upper: np.ndarray,
    row: np.ndarray,
    var: np.ndarray,
    coef: np.ndarray,
) -> np.ndarray:
    """Add ``len(lower)`` constraints ``lower[r] <= sum coef * var <= upper[r]``, where each
    coefficient belongs to row ``row[n]`` (0-based, in this batch) and variable id ``var[n]``.
    Returns the new constraints' ids, in row order. The rows have no names: the element store's
    bulk naming reads numpy's fixed-width strings with their padding."""
    elemental = mo._elemental  # noqa: SLF001  (the store MathOpt's API writes to; see the module docstring)
    ids = elemental.add_elements(enums.ElementType.LINEAR_CONSTRAINT, len(lower))
    keys = ids.reshape(-1, 1)
    elemental.set_attrs(enums.DoubleAttr1.LINEAR_CONSTRAINT_LOWER_BOUND, keys, np.asarray(lower, dtype=np.float64))
    elemental.set_attrs(enums.DoubleAttr1.LINEAR_CONSTRAINT_UPPER_BOUND, keys, np.asarray(upper, dtype=np.float64))
    if len(row):
        pairs = np.column_stack([ids[np.asarray(row, dtype=np.int64)], np.asarray(var, dtype=np.int64)])
        elemental.set_attrs(enums.DoubleAttr2.LINEAR_CONSTRAINT_COEFFICIENT, pairs, np.asarray(coef, dtype=np.float64))
    return ids


def add_row_blocks(mo: mathopt.Model, lower, upper, *blocks: tuple) -> np.ndarray:
    """``add_rows`` with the coefficients given as several (row, var, coef) blocks, for example the
    x terms of every row and then the y terms; they are merged in row order."""
    row = np.concatenate([np.asarray(b[0], dtype=np.int64) for b in blocks])
    var = np.concatenate([np.asarray(b[1], dtype=np.int64) for b in blocks])
    coef = np.concatenate([np.asarray(b[2], dtype=np.float64) for b in blocks])
    order = np.argsort(row, kind="stable")
    return add_rows(mo, lower, upper, row[order], var[order], coef[order])


def add_variables(mo: mathopt.Model, lower, upper, integer: bool | np.ndarray = False) -> list[mathopt.Variable]:
    """``len(lower)`` variables with these bounds, unnamed, in order; continuous unless ``integer``
    (True: all; an array of booleans: those marked)."""
    elemental = mo._elemental  # noqa: SLF001  (see the module docstring)
    ids = elemental.add_elements(enums.ElementType.VARIABLE, len(lower))
    keys = ids.reshape(-1, 1)
    elemental.set_attrs(enums.DoubleAttr1.VARIABLE_LOWER_BOUND, keys, np.asarray(lower, dtype=np.float64))
    elemental.set_attrs(enums.DoubleAttr1.VARIABLE_UPPER_BOUND, keys, np.asarray(upper, dtype=np.float64))
    marked = np.full(len(ids), bool(integer)) if isinstance(integer, bool) else np.asarray(integer, dtype=bool)
    if marked.any():
        elemental.set_attrs(enums.BoolAttr1.VARIABLE_INTEGER, keys[marked], np.ones(int(marked.sum()), dtype=bool))
    return [Variable(elemental, v) for v in ids.tolist()]


def ids_of(variables) -> np.ndarray:
    """The ids of MathOpt variables, as an array."""
    return np.fromiter((v.id for v in variables), dtype=np.int64)

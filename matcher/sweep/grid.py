"""``--vary PATH=VALUES``: the axes of a grid over scenario values, and the grid's points.

VALUES is one of
  ``0.05,0.1,0.2``      a list of values (each read as YAML: numbers, words, null, [lists]),
  ``a..b:n``            n evenly spaced values from a to b (whole values, rounded down, where the
                        current value is whole, e.g. money),
  ``*0.6..*1.2:7``      the current value times 7 evenly spaced factors from 0.6 to 1.2.
Several axes make the full grid, first axis slowest. Paths are those of :mod:`matcher.paths`.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

from matcher.errors import MatcherError
from matcher.paths import (
    get_value,
    parse_path,
    parse_scalar,
    place,
    range_follows_budget,
    scaled,
    set_value,
    with_default_weights,
)

_RANGE = re.compile(r"^(?P<mul>\*)?(?P<a>[^.*:][^:]*?)\.\.(?P<mul2>\*)?(?P<b>[^:]+?)(?::(?P<n>.*))?$")
EXAMPLES = "e.g. policy.max_country_share=0.05,0.1,0.2 or donors[DEU].budget=*0.6..*1.2:7"


@dataclass(frozen=True)
class Axis:
    """One varied path and the values it takes."""

    path: str
    values: tuple[Any, ...]


def parse_vary(expr: str, base: dict[str, Any]) -> Axis:
    """Read one ``PATH=VALUES`` against the base scenario data; MatcherError naming the expression."""
    path, sep, spec = expr.partition("=")
    path, spec = path.strip(), spec.strip()
    if not sep or not path or not spec:
        raise _bad(expr, f"write PATH=VALUES, {EXAMPLES}")
    try:
        parse_path(path)
        get_value(base, path)
    except MatcherError as exc:
        raise _bad(expr, str(exc)) from None
    if ".." in spec:
        values = _range_values(expr, path, spec, base)
    else:
        values = tuple(_scalar(expr, part) for part in _split_list(expr, spec))
    twice = [v for n, v in enumerate(values) if v in values[:n]]
    if twice:  # two grid points the same: a range too fine for whole units, or a value written twice
        raise _bad(expr, f"gives {twice[0]!r} twice ({', '.join(map(repr, values))}); give distinct values")
    return Axis(path, values)


def _bad(expr: str, why: str) -> MatcherError:
    return MatcherError(f"--vary '{expr}': {why}")


def _split_list(expr: str, spec: str) -> list[str]:
    """Values separated by commas outside brackets: ``[0,100],[50,200]`` is two lists."""
    parts, depth, start = [], 0, 0
    for n, ch in enumerate(spec):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(spec[start:n])
            start = n + 1
    parts = [p.strip() for p in [*parts, spec[start:]]]
    if any(not p for p in parts):
        raise _bad(expr, f"an empty value in the list '{spec}'; separate values with single commas")
    return parts


def _scalar(expr: str, text: str) -> Any:
    try:
        return parse_scalar(text)
    except MatcherError as exc:
        raise _bad(expr, str(exc)) from None


def _range_values(expr: str, path: str, spec: str, base: dict[str, Any]) -> tuple[Any, ...]:
    m = _RANGE.match(spec)
    if not m or m.group("n") is None:
        raise _bad(expr, f"'{spec}' is not a range; write a..b:n or *a..*b:n (n values), {EXAMPLES}")
    if bool(m.group("mul")) != bool(m.group("mul2")):
        raise _bad(expr, f"'{spec}' mixes a factor and a value; write *a..*b:n for factors or a..b:n for values")
    a, b = _number(expr, m.group("a")), _number(expr, m.group("b"))
    n = _count(expr, m.group("n"))
    # rounded so 0.6..1.2 steps by exactly 0.1 and money is not floored from 799.99999 to 799
    steps = [round(a + (b - a) * k / (n - 1), 12) for k in range(n)]
    if m.group("mul"):
        if min(a, b) < 0:
            raise _bad(expr, f"'{spec}' has a negative factor; factors are 0 or more (*0.6..*1.2:7)")
        current = get_value(with_default_weights(base, path), path)
        if current is None:
            raise _bad(
                expr,
                f"'{path}' has no value in the scenario to multiply; check the key's spelling "
                "(docs/scenario-format.md lists them) or give values a..b:n",
            )
        if not isinstance(current, (int, float)) or isinstance(current, bool):
            raise _bad(expr, f"'{path}' is {current!r}, not a number, so it cannot be multiplied; give values a..b:n")
        return tuple(scaled(current, f, expr) for f in steps)
    if isinstance(a, int) and isinstance(b, int) and (_whole(get_value(base, path)) or all(v == int(v) for v in steps)):
        return tuple(math.floor(v) for v in steps)  # money stays whole (rounded down)
    return tuple(float(v) for v in steps)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(expr: str, text: str) -> int | float:
    value = _scalar(expr, text.strip())
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _bad(expr, f"'{text.strip()}' is not a number")
    return value


def _count(expr: str, text: str) -> int:
    text = text.strip()
    if not text.isdigit() or int(text) < 2:
        raise _bad(expr, f"':{text}' must be a whole number of values, at least 2 (e.g. ..:5)")
    return int(text)


def parse_axes(exprs: list[str], base: dict[str, Any]) -> list[Axis]:
    """All ``--vary`` expressions; a path may be varied once."""
    axes: list[Axis] = []
    for expr in exprs:
        axis = parse_vary(expr, base)
        same = next((a for a in axes if place(base, a.path) == place(base, axis.path)), None)
        if same is not None:  # donors[DEU] and donors[0] may be one donor: the rows were labelled by the first
            also = "" if same.path == axis.path else f" (as '{same.path}')"
            raise _bad(expr, f"'{axis.path}' is already varied{also}; give all its values in one --vary")
        axes.append(axis)
    return axes


def grid_points(base: dict[str, Any], axes: list[Axis]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every point of the grid as (values by path, edited scenario data); no axes: the base alone."""
    points = []
    for combo in itertools.product(*(a.values for a in axes)):
        data = base
        for axis, value in zip(axes, combo, strict=True):
            data = range_follows_budget(data, axis.path, set_value(data, axis.path, value))
        points.append(({a.path: v for a, v in zip(axes, combo, strict=True)}, data))
    return points

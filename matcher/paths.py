"""Paths into scenario data (``policy.max_country_share``, ``donors[DEU].budget``) and edits on them.

Shared by variants (``--set``) and sweeps (``--vary``). Works on plain data (dicts and lists as
loaded from a file), so the edited data is validated again like any scenario.
"""

from __future__ import annotations

import copy
import math
import re
from fractions import Fraction
from typing import Any

import yaml

from matcher.errors import MatcherError

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*|\d+)((?:\[[^\]]+\])*)")  # a number: a map's key (priority 5)
_ASSIGN = re.compile(r"^\s*(?P<path>[^=*+]+?)\s*(?P<op>\*=|\+=|=)\s*(?P<value>.*)$")

Step = tuple[str, str | None]  # (key, selector inside [..] or None)


def parse_path(text: str) -> list[Step]:
    """``donors[DEU].budget`` -> [("donors", "DEU"), ("budget", None)]."""
    steps: list[Step] = []
    for part in text.strip().split("."):
        m = _SEGMENT.fullmatch(part)
        if not m:
            raise MatcherError(f"'{text}': '{part}' is not a path step; write e.g. donors[DEU].budget")
        key, selectors = m.group(1), re.findall(r"\[([^\]]+)\]", m.group(2))
        if len(selectors) > 1:
            raise MatcherError(f"'{text}': one [id] per step")
        steps.append((key, selectors[0] if selectors else None))
    return steps


def _key(node: dict, key: str) -> Any:
    """The key as the mapping holds it: YAML reads ``priority_weights: {5: 16}`` with the number 5."""
    if key not in node and key.isdigit() and (int(key) in node or any(isinstance(k, int) for k in node)):
        return int(key)
    return key


def _child(node: Any, key: str, text: str) -> Any:
    if not isinstance(node, dict):
        raise MatcherError(f"'{text}': '{key}' is not inside a mapping")
    return node.get(_key(node, key))


def _select(items: Any, selector: str, key: str, text: str) -> tuple[list, int]:
    """The list and index an ``[id]`` (or ``[3]``) selector names."""
    if not isinstance(items, list):
        raise MatcherError(f"'{text}': '{key}' is not a list, so [{selector}] selects nothing")
    for i, item in enumerate(items):
        if isinstance(item, dict) and str(item.get("id")) == selector:
            return items, i
    if selector.isdigit() and int(selector) < len(items):
        return items, int(selector)
    known = ", ".join(str(x.get("id")) for x in items[:8] if isinstance(x, dict))
    raise MatcherError(f"'{text}': no {key} entry with id '{selector}' (known: {known})")


def place(data: dict, text: str) -> tuple:
    """Where a path points, with every [id] selector made a list index: ``donors[DEU].budget`` and
    ``donors[0].budget`` are one place when DEU is the first donor (MatcherError as get_value)."""
    node: Any = data
    out: list = []
    for key, selector in parse_path(text):
        node = _child(node, key, text)
        out.append(key)
        if selector is not None:
            items, i = _select(node, selector, key, text)
            node = items[i]
            out.append(i)
    return tuple(out)


def get_value(data: dict, text: str) -> Any:
    """The value at a path; MatcherError when a step does not exist."""
    node: Any = data
    for key, selector in parse_path(text):
        node = _child(node, key, text)
        if selector is not None:
            lst, i = _select(node, selector, key, text)
            node = lst[i]
    return node


def set_value(data: dict, text: str, value: Any) -> dict:
    """A deep copy of data with the value at the path replaced (mappings on the way are created)."""
    out = copy.deepcopy(data)
    steps = parse_path(text)
    node: Any = out
    for n, (key, selector) in enumerate(steps):
        last = n == len(steps) - 1
        if not isinstance(node, dict):
            raise MatcherError(f"'{text}': '{key}' is not inside a mapping")
        if selector is None:
            if last:
                node[_key(node, key)] = value
            else:
                if node.get(_key(node, key)) is None:  # a key written with no value means its default: none yet
                    node[_key(node, key)] = {}
                node = node[_key(node, key)]
        else:
            lst, i = _select(node.get(key), selector, key, text)
            if last:
                lst[i] = value
            else:
                node = lst[i]
    return out


def parse_scalar(text: str) -> Any:
    """A value as YAML reads it: ``0.1`` a number, ``[a, b]`` a list, ``null`` nothing."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise MatcherError(f"'{text}' is not a value (write a number, a word or a [list])") from None
    if isinstance(value, str) and _NUMBER.fullmatch(value):  # YAML 1.1 reads 1e2 (no dot) as text
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e-" not in value.lower() else number
    return value


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")  # only what YAML 1.1 leaves as text: not nan, inf


def scaled(old: Any, factor: float, text: str) -> Any:
    """old × factor; whole money stays whole (rounded down, from the exact product: 1,400,000 × 0.7 is
    980,000, where floating point makes it 979,999.99...)."""
    if old is None:
        raise MatcherError(
            f"'{text}': the scenario has no value there to multiply; check the key's spelling "
            "(docs/scenario-format.md lists them) or give a value instead"
        )
    if not isinstance(old, (int, float)) or isinstance(old, bool):
        raise MatcherError(f"'{text}': only a number can be multiplied (found {old!r})")
    if isinstance(old, int):
        return math.floor(Fraction(old) * Fraction(repr(float(factor))))
    return round(old * factor, 12)  # 0.7 x 0.75 is 0.525, not 0.5249999999999999


_WEIGHT = re.compile(r"^\s*policy\.priority_weights\.(\d+)\s*$")


def with_default_weights(data: dict, path: str) -> dict:
    """The data with the default weight written out for the priority level a path scales, where the file
    leaves that level out (the format's default: 1, 2, 4, 8, 16), so ``policy.priority_weights.5*=2``
    doubles 16 on a round that never wrote its weights."""
    m = _WEIGHT.match(path)
    if not m or not isinstance(data.get("policy") or {}, dict):
        return data
    from matcher.domain import DEFAULT_PRIORITY_WEIGHTS

    level = int(m.group(1))
    weights = (data.get("policy") or {}).get("priority_weights") or {}
    given = level in weights or str(level) in weights if isinstance(weights, dict) else True
    if given or level not in DEFAULT_PRIORITY_WEIGHTS:
        return data
    return set_value(data, path, float(DEFAULT_PRIORITY_WEIGHTS[level]))  # a weight, not money: never floored


def apply_assignment(data: dict, expr: str) -> dict:
    """Apply ``PATH=VALUE``, ``PATH*=FACTOR`` or ``PATH+=NUMBER`` to a copy of data."""
    m = _ASSIGN.match(expr)
    if not m:
        raise MatcherError(f"'{expr}': write PATH=VALUE, PATH*=FACTOR or PATH+=NUMBER, e.g. donors[DEU].budget*=0.8")
    path, op, raw = m.group("path"), m.group("op"), m.group("value")
    value = parse_scalar(raw)
    if op == "=":
        return range_follows_budget(data, path, set_value(data, path, value))
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise MatcherError(f"'{expr}': '{raw}' is not a number")
    data = with_default_weights(data, path)
    old = get_value(data, path)
    if op == "*=":
        return range_follows_budget(data, path, set_value(data, path, scaled(old, value, expr)))
    if not isinstance(old, (int, float)):
        raise MatcherError(f"'{expr}': only a number can be added to (found {old!r})")
    return range_follows_budget(data, path, set_value(data, path, old + value))


_BUDGET = re.compile(r"^(?P<donor>donors\[[^\]]+\])\.budget$")


def range_follows_budget(before: dict, path: str, after: dict) -> dict:
    """A donor's ``budget_range`` scaled with its budget when an assignment changes the budget (whole
    units, rounded down): the range says what of the pledge may arrive, so DEU's pledge at 60%
    arrives as 60% of its range. Used by ``--set``, a variant's ``set:`` and a sweep's grid points."""
    m = _BUDGET.match(path.replace(" ", ""))
    if not m:
        return after
    try:
        rng = get_value(before, f"{m.group('donor')}.budget_range")
        old, new = get_value(before, path), get_value(after, path)
    except MatcherError:
        return after  # no range on this donor
    if not (
        isinstance(rng, list)
        and len(rng) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in (*rng, old, new))
        and old > 0
        and new != old
    ):
        return after
    return set_value(after, f"{m.group('donor')}.budget_range", [rng[0] * new // old, rng[1] * new // old])

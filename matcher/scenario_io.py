"""Files <-> Scenario: YAML and JSON in, canonical JSON and its SHA-256 out."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from matcher.domain import Scenario
from matcher.errors import MatcherError, Problem, ScenarioError


class DuplicateKey(ValueError):
    """A key written twice in one mapping: YAML and JSON readers keep the last silently."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (in C when libyaml is there) that refuses a key written twice in one mapping."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201 - PyYAML's signature
        seen: set = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden here
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                mark = key_node.start_mark
                raise DuplicateKey(
                    f":{mark.line + 1}:{mark.column + 1}: the key '{key}' is written twice in one "
                    "mapping (the reader would keep the last); keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node):  # noqa: ANN001, ANN201 - PyYAML's signature
        """A date that is no day (2027-02-30) stays text, so the scenario's check names its key and line."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(
                f": the key '{key}' is written twice in one object (the reader would keep the last); keep one"
            )
        out[key] = value
    return out


_YAML_LOADER = _Loader


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (``.yaml``, ``.yml`` or ``.json``), or a variant file as the
    scenario it makes (its base chain resolved, matcher/variants.py)."""
    data = read_scenario_data(path)
    try:
        return parse_scenario(data, source=str(path))
    except ScenarioError as exc:
        raise with_lines(exc, path) from None


def with_lines(exc: ScenarioError, path: str | Path) -> ScenarioError:
    """The error with each problem's line in the file, where the file is a scenario (not a variant, whose
    problems may lie in its base) and its path can be followed (a missing key: the line of its parent)."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return exc
    if not isinstance(root, yaml.MappingNode) or any(k.value == "base" for k, _ in root.value):
        return exc
    problems = [replace(p, line=_line_of(root, p.path)) for p in exc.problems]
    return ScenarioError(problems, exc.source)


def _line_of(root: yaml.Node, path: str) -> int | None:
    """The 1-based line of ``requests[3].theme`` in a composed file: the key's line, or the deepest part found."""
    if not path:
        return None
    node, line = root, None
    for part in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path):
        index, key = part
        if index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        elif key and isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == key), None)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        else:
            break
    return line


def read_scenario_data(path: str | Path) -> Any:
    """The raw data of a scenario file, or of the scenario a variant file makes."""
    from matcher.variants import resolve_file  # variants reads its files through this module

    return resolve_file(path)


def read_data(path: str | Path) -> Any:
    """The raw data of a YAML or JSON file, or a MatcherError saying what is wrong with the file."""
    p = Path(path)
    if not p.is_file():
        raise MatcherError(f"{path}: no such file; check the path")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MatcherError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if p.suffix.lower() == ".json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise MatcherError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except DuplicateKey as exc:
            raise MatcherError(f"{path}{exc}") from None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader, in C when libyaml is there
    except DuplicateKey as exc:
        raise MatcherError(f"{path}{exc}") from None
    except ValueError as exc:  # a value YAML parses and cannot build, e.g. the date 2027-02-30
        raise MatcherError(f"{path}: invalid YAML value: {exc}; write dates as real YYYY-MM-DD days") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MatcherError(f"{path}{where}: invalid YAML: {what}") from None


def parse_scenario(data: Any, source: str = "") -> Scenario:
    """Validate raw data as a Scenario; every problem found is named by its path."""
    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "a scenario is a mapping with name, currency, donors and requests")], source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([_problem(e) for e in exc.errors()], source) from None
    except ScenarioError as exc:
        raise ScenarioError(exc.problems, source) from None


def _problem(error: Any) -> Problem:
    loc = [part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-"))]
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        return Problem(path, f"unknown key '{key}'; remove it or check its spelling against the format")
    if kind == "missing":
        return Problem(path, "required key is missing")
    if kind == "value_error":
        return Problem(path, msg.removeprefix("Value error, "))
    got = error.get("input")
    ctx = error.get("ctx") or {}
    fixes = {  # what to write instead, for the mistakes people make
        "greater_than_equal": lambda: (
            f"{got!r} is below the smallest allowed, {ctx.get('ge')}; write {ctx.get('ge')} or more"
        ),
        "greater_than": lambda: f"{got!r} is not above {ctx.get('gt')}; write a number above {ctx.get('gt')}",
        "less_than_equal": lambda: (
            f"{got!r} is above the largest allowed, {ctx.get('le')}; write {ctx.get('le')} or less"
        ),
        "int_from_float": lambda: (
            f"{got!r} is not a whole number; write a whole number (money is in whole currency units)"
        ),
        "string_pattern_mismatch": lambda: (
            f"{got!r}: a name is lowercase letters, digits, '.', '_' and '-', starting with a letter or digit "
            f"(e.g. {_slug(got)!r})"
            if loc and loc[-1] == "name"
            else f"{msg} (got {got!r})"
        ),
    }
    if kind in fixes:
        return Problem(path, fixes[kind]())
    return Problem(path, f"{msg} (got {got!r})")


def _slug(text: Any) -> str:
    """A scenario name made from ``text``: lowercase, other characters as '-'."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-._")
    return slug or "round-2027"


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain JSON-able data, every default spelled out."""
    return scenario.model_dump(mode="json")


def canonical_json(data: Any) -> str:
    """Sorted keys, no spaces: the same data always gives the same bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def input_sha256(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON: the same for YAML and JSON spellings of one scenario."""
    return hashlib.sha256(canonical_json(scenario_data(scenario)).encode("utf-8")).hexdigest()

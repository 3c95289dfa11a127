"""Variants: a scenario changed without copying it, by ``--set`` edits or by a variant file.

A variant file is YAML (or JSON) that names a ``base`` scenario and patches it::

    base: sahel.yaml              # path relative to this file; may itself be a variant
    name: sahel-deu-cut           # optional; default: the base name + '-' + this file's stem
    title: Germany cuts 20%       # optional
    drop_donors: [JPN]            # their commitments and offers go too
    drop_requests: [MLI-2]        # their commitments and offers go too
    add_donors: [{id: NOR, budget: 200000}]
    add_requests: [...]           # also add_partners, add_commitments, add_offers
    weights:                      # merged into policy.priority_weights / policy.agenda_weights
      priority: {5: 32}
      agenda: {diversion: 2}
    policy: {max_country_share: 0.1}   # merged key by key into the base policy
    set: ["donors[DEU].budget*=0.8"]   # matcher.paths assignments, applied last, in order

Patches apply in the order the keys are listed above. The result is plain scenario data that is
validated like any scenario file, so a variant that breaks a rule fails with the same messages.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from matcher.domain import Scenario
from matcher.errors import MatcherError
from matcher.paths import apply_assignment
from matcher.scenario_io import parse_scenario, read_data, scenario_data

DROPS = {"drop_donors": "donors", "drop_requests": "requests"}
ADDS = {
    "add_donors": "donors",
    "add_requests": "requests",
    "add_partners": "partners",
    "add_commitments": "commitments",
    "add_offers": "offers",
}
VARIANT_KEYS = ("base", "name", "title", *DROPS, *ADDS, "weights", "policy", "set")
MAX_DEPTH = 10


def is_variant(data: Any) -> bool:
    """A variant file is a mapping with a ``base`` key (a scenario never has one)."""
    return isinstance(data, dict) and "base" in data


def apply_sets(data: dict, assignments: Iterable[str]) -> dict:
    """A copy of scenario data with each ``PATH=V``, ``PATH*=F`` or ``PATH+=N`` applied in order."""
    for expr in assignments:
        data = apply_assignment(data, expr)
    return data


def resolve_file(path: str | Path) -> dict:
    """Scenario data of a scenario file or of a variant file (its base chain resolved)."""
    return _resolve(Path(path), depth=0, seen=())


def _resolve(path: Path, depth: int, seen: tuple[Path, ...]) -> dict:
    data = read_data(path)
    if not is_variant(data):
        return data
    here = path.resolve()
    if here in seen or depth > MAX_DEPTH:
        chain = " -> ".join(str(p) for p in (*seen, here))
        raise MatcherError(f"{path}: variant bases form a loop or a chain over {MAX_DEPTH} deep ({chain})")
    base_ref = data["base"]
    if not isinstance(base_ref, str) or not base_ref:
        raise MatcherError(f"{path}: base: name the base scenario file, e.g. base: sahel.yaml")
    base_path = (path.parent / base_ref) if not Path(base_ref).is_absolute() else Path(base_ref)
    if not base_path.is_file():
        raise MatcherError(f"{path}: base: no such file {base_path}; the path is relative to the variant file")
    base = _resolve(base_path, depth + 1, (*seen, here))
    return patch(base, data, source=str(path), default_name=_default_name(base, path))


def _default_name(base: dict, path: Path) -> str:
    stem = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-.") or "variant"
    return f"{base.get('name', 'scenario')}-{stem}"


def patch(base: dict, variant: dict, source: str = "variant", default_name: str | None = None) -> dict:
    """Apply a variant's patch keys to base scenario data; MatcherError names the key to fix."""
    unknown = sorted(set(variant) - set(VARIANT_KEYS))
    if unknown:
        raise MatcherError(f"{source}: unknown variant key '{unknown[0]}'; use one of: {', '.join(VARIANT_KEYS)}")
    data = copy.deepcopy(base)
    data["name"] = variant.get("name") or default_name or data.get("name")
    if "title" in variant:
        data["title"] = variant["title"]
    for key, section in DROPS.items():
        if key in variant:
            data = _drop(data, section, _id_list(variant[key], key, source), key, source)
    for key, section in ADDS.items():
        if key in variant:
            data[section] = list(data.get(section) or []) + _entry_list(variant[key], key, source)
    if "weights" in variant:
        data = _weights(data, variant["weights"], source)
    if "policy" in variant:
        data["policy"] = {**(data.get("policy") or {}), **_mapping(variant["policy"], "policy", source)}
    if "set" in variant:
        sets = variant["set"]
        if isinstance(sets, str):
            sets = [sets]
        if not isinstance(sets, list) or not all(isinstance(e, str) for e in sets):
            raise MatcherError(f"{source}: set: a list of assignments, e.g. set: ['donors[DEU].budget*=0.8']")
        data = _with_source(lambda: apply_sets(data, sets), source, "set")
    return data


def _with_source(fn, source: str, key: str):
    try:
        return fn()
    except MatcherError as exc:
        raise MatcherError(f"{source}: {key}: {exc}") from None


def _id_list(value: Any, key: str, source: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MatcherError(f"{source}: {key}: a list of ids, e.g. {key}: [DEU]")
    return value


def _entry_list(value: Any, key: str, source: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MatcherError(f"{source}: {key}: a list of entries written as in a scenario file")
    return copy.deepcopy(value)


def _mapping(value: Any, key: str, source: str) -> dict:
    if not isinstance(value, dict):
        raise MatcherError(f"{source}: {key}: a mapping, e.g. {key}: {{max_country_share: 0.1}}")
    return value


def _drop(data: dict, section: str, ids: list[str], key: str, source: str) -> dict:
    """Remove entries by id, with the commitments and offers that name them."""
    entries = data.get(section) or []
    known = {str(e.get("id")) for e in entries if isinstance(e, dict)}
    for ident in ids:
        if ident not in known:
            raise MatcherError(
                f"{source}: {key}: no {section[:-1]} '{ident}' in the base (known: {', '.join(sorted(known)[:8])})"
            )
    gone = set(ids)
    data[section] = [e for e in entries if str(e.get("id")) not in gone]
    field = section[:-1]  # donor / request, as named in commitments and offers
    for linked in ("commitments", "offers"):
        if data.get(linked):
            data[linked] = [e for e in data[linked] if e.get(field) not in gone]
    if section == "requests":
        for r in data["requests"]:
            needed = gone & set(r.get("requires") or [])
            if needed:
                raise MatcherError(
                    f"{source}: {key}: request '{r.get('id')}' requires '{sorted(needed)[0]}';"
                    " drop it too or change its requires with set"
                )
    return data


def _weights(data: dict, weights: Any, source: str) -> dict:
    """``weights: {priority: {5: 32}, agenda: {diversion: 2}}`` merged into the policy."""
    weights = _mapping(weights, "weights", source)
    extra = sorted(set(weights) - {"priority", "agenda"})
    if extra:
        raise MatcherError(f"{source}: weights: unknown key '{extra[0]}'; use priority and/or agenda")
    policy = dict(data.get("policy") or {})
    if "priority" in weights:
        policy["priority_weights"] = {
            **(policy.get("priority_weights") or {}),
            **_mapping(weights["priority"], "weights.priority", source),
        }
    if "agenda" in weights:
        policy["agenda_weights"] = {
            **(policy.get("agenda_weights") or {}),
            **_mapping(weights["agenda"], "weights.agenda", source),
        }
    data["policy"] = policy
    return data


def vary(scenario: Scenario, assignments: Iterable[str]) -> Scenario:
    """The scenario with assignments applied, validated again (for what-if re-solves)."""
    return parse_scenario(apply_sets(scenario_data(scenario), assignments), source=scenario.name)

"""Replay a saved sweep: run the same options on the stored scenario again, and compare every solve and
the summary with what was stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from matcher.scenario_io import canonical_json, scenario_data
from matcher.store.replay import append_replay, changed_records, loaded, recorded, run_warnings
from matcher.store.sweeps import StoredSweep, draw_doc, load_sweep
from matcher.sweep import SweepResult, run_sweep
from matcher.sweep.document import sweep_data
from matcher.sweep.executors import Executor


@dataclass(frozen=True)
class SweepReplay:
    """What a sweep replay found: the differences (empty = identical) and warnings for the reader."""

    run_id: int
    stored: StoredSweep
    result: SweepResult
    differences: list[str]
    warnings: list[str]

    @property
    def identical(self) -> bool:
        return not self.differences


def replay_sweep(
    engine: Engine,
    *,
    run_id: int,
    by: str,
    executor: Executor,
    executor_name: str,
    on_progress=None,
    writer: Engine | None = None,
) -> SweepReplay:
    """Run saved sweep ``run_id`` again on ``executor``, compare, and record the replay in the audit chain."""
    changed = changed_records(engine, run_id)
    stored = loaded(engine, run_id, changed, load_sweep)
    raw = scenario_data(stored.scenario)
    result = run_sweep(raw, stored.spec, executor, executor_name, on_progress)
    found = changed + sweep_differences(stored, result)
    replay = SweepReplay(run_id, stored, result, found, run_warnings(stored.run, stored.scenario, bool(found)))
    recorded(writer or engine, replay, by, _record)
    return replay


def sweep_differences(stored: StoredSweep, new: SweepResult) -> list[str]:
    """Lines that say which solves and which parts of the summary differ; empty when identical."""
    old_draws = stored.draws
    new_draws = [_plain(draw_doc(s)) for s in new.solved]
    out: list[str] = []
    if len(old_draws) != len(new_draws):
        out.append(f"distinct solves: {len(old_draws)} -> {len(new_draws)}")
    for k, (a, b) in enumerate(zip(old_draws, new_draws, strict=False)):
        out += [f"solve {k + 1} ({_where(a)}): {line}" for line in _draw_changes(a, b)]
    # keys added to the summary after a sweep was saved read as the value they had then (result_from_data)
    old = {"fewest_grants": True, "exact": False, **stored.output}
    summary = [f"summary: {line}" for line in _summary_changes(old, _plain(sweep_data(new)))]
    return out + summary


def _plain(doc: Any) -> Any:
    """As stored: through canonical JSON, so tuples are lists and numbers compare as the database has them."""
    return json.loads(canonical_json(doc))


def _where(doc: dict[str, Any]) -> str:
    draws = doc["draws"]
    at = f"point {doc['point'] + 1}"
    if not draws:
        return at
    first = ", ".join(str(d) for d in draws[:3]) + (", ..." if len(draws) > 3 else "")
    return f"{at}, draw{'s' if len(draws) > 1 else ''} {first}"


def _draw_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    for key in ("pledges", "draws", "status", "coverage", "placed", "grants"):
        if a[key] != b[key]:
            out.append(f"{key} {_short(a[key])} -> {_short(b[key])}")
    funded_a, funded_b = a["outcome"]["funded"], b["outcome"]["funded"]
    for rid in sorted(funded_a.keys() | funded_b.keys()):
        if funded_a.get(rid) != funded_b.get(rid):
            out.append(f"request {rid} funded {funded_a.get(rid, 0)} -> {funded_b.get(rid, 0)}")
    if not out and a["outcome"] != b["outcome"]:
        out.append("donor money or request statuses differ")
    return out


def _summary_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = [
        f"{key} {_short(old.get(key))} -> {_short(new.get(key))}"
        for key in sorted(old.keys() | new.keys())
        if key != "points" and old.get(key) != new.get(key)
    ]
    for k, (a, b) in enumerate(zip(old.get("points", []), new.get("points", []), strict=False)):
        changed = [key for key in a if a[key] != b.get(key)]
        if changed:
            out.append(f"point {k + 1}: {', '.join(changed)} differ")
    return out


def _short(v: Any) -> str:
    text = json.dumps(v, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _record(engine: Engine, replay: SweepReplay, by: str) -> None:
    found = {"draws": [draw_doc(s) for s in replay.result.solved], "summary": sweep_data(replay.result)}
    append_replay(engine, replay, by, found)

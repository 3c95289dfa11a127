"""Replay a stored run: solve its snapshot again with its stored parameters and compare the answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import ortools
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from matcher import __version__
from matcher.domain import Scenario
from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError
from matcher.result import Result
from matcher.scenario_io import input_sha256
from matcher.store import audit
from matcher.store.models import Run
from matcher.store.runs import StoredRun, load_run, now_utc, with_retry


@dataclass(frozen=True)
class Replay:
    """What a replay found: the differences (empty = identical) and warnings for the reader."""

    run_id: int
    stored: StoredRun
    result: Result
    differences: list[str]
    warnings: list[str]
    summary: str | None = None  # when it differs: the objective then and now, and whether the records are intact

    @property
    def identical(self) -> bool:
        return not self.differences


class ChangedAndUnreadable(MatcherError):
    """A run changed after it was saved into records that can no longer be read: a replay's
    differences are the change itself (``lines``), with nothing to re-solve."""

    def __init__(self, lines: list[str]):
        super().__init__(lines[0])
        self.lines = lines


def loaded(engine: Engine, run_id: int, changed: list[str], load):
    """``load(engine, run_id=...)``; when it fails on a run that changed after it was saved, the
    change is what a replay reports (ChangedAndUnreadable), not a failure to read."""
    try:
        return load(engine, run_id=run_id)
    except MatcherError as exc:
        if changed:
            raise ChangedAndUnreadable([*changed, str(exc)]) from None
        raise


def replay_run(engine: Engine, *, run_id: int, by: str, writer: Engine | None = None) -> Replay:
    """Re-solve run ``run_id`` exactly as it was solved, compare, and record the replay in the audit chain
    (through ``writer`` when given: the reading ``engine`` may be one that takes no write lock)."""
    changed = changed_records(engine, run_id)
    stored = loaded(engine, run_id, changed, load_run)
    result = solve(stored.scenario, SolveParams(**stored.params))
    found = changed + differences(stored.result, result)
    summary = (
        (objective_line(stored.result, result) + ("" if changed else "; the run's records match its audit entry"))
        if found
        else None
    )
    replay = Replay(run_id, stored, result, found, run_warnings(stored.run, stored.scenario, bool(found)), summary)
    recorded(writer or engine, replay, by, _record)
    return replay


def recorded(engine: Engine, replay, by: str, record) -> None:
    """Append the replay to the audit chain; a store that cannot be written (read-only access) does
    not cost the reader the comparison: a warning says the replay was not recorded."""
    try:
        with_retry(lambda: record(engine, replay, by))
    except (SQLAlchemyError, MatcherError) as exc:  # MatcherError: the database layer's own message
        line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        replay.warnings.append(f"this replay could not be recorded in the audit chain ({line})")


def objective_line(old: Result, new: Result) -> str:
    """The objective terms as stored and as replayed: whether the replay is as good, at a glance."""
    terms = list(dict.fromkeys([*old.objective, *new.objective]))
    parts = []
    for t in terms:
        a, b = old.objective.get(t), new.objective.get(t)
        parts.append(f"{t} {_term(a)}" if a == b else f"{t} {_term(a)} -> {_term(b)}")
    return "objective: " + (", ".join(parts) if parts else "no allocation either time")


def changed_records(engine: Engine, run_id: int) -> list[str]:
    """A difference line when the run's records no longer match its audit entry: the replay compares
    with what is stored now, so records changed together with their scenario or options could
    otherwise replay as identical. Empty when the run is as it was saved."""
    problem = audit.check_run(engine, run_id)
    return [] if problem is None else [f"run {run_id} was changed after it was saved: {problem}"]


def run_warnings(run: Run, scenario: Scenario, differs: bool) -> list[str]:
    """What may make a replay differ for reasons other than tampering: versions and hashing always;
    the clock only when the replay differs (an identical replay needs no excuse): --polish, or a time
    limit the run came near."""
    out: list[str] = []
    if (run.ortools_version, run.matcher_version) != (ortools.__version__, __version__):
        out.append(
            f"run {run.id} was solved with matcher {run.matcher_version} and OR-Tools {run.ortools_version}; "
            f"this is matcher {__version__} and OR-Tools {ortools.__version__}, so a difference may come "
            "from the versions"
        )
    if input_sha256(scenario) != run.input_sha256:
        out.append(f"run {run.id}: the stored snapshot reads back with a different hash under this matcher version")
    if differs:
        out += _clock_notes(run)
    return out


def _clock_notes(run: Run) -> list[str]:
    """Where the stored run read the wall clock: a --polish search, or a time limit it came near."""
    out = []
    polish = _polish_seconds(run)
    if polish and run.node_limit is None:
        out.append(
            f"run {run.id} was solved with --polish {polish:g}, a search for fewer grants in wall time, so its "
            "grants may differ on another machine or under another load"
        )
    if run.kind == "sweep" and run.node_limit is None and run.time_limit is not None:
        out.append(
            f"run {run.id} is a sweep solved under a time limit of {run.time_limit:g} s per solve: a draw "
            "that the limit stopped (not optimal) may replay differently; save with --node-limit N for an "
            "exact replay"
        )
    elif run.time_limit is not None and run.solve_seconds >= 0.5 * run.time_limit:
        out.append(
            f"run {run.id} took {run.solve_seconds:.1f} s of its {run.time_limit:g} s time limit: where the "
            "limit stopped a step, a replay may differ (another machine, another load); a round that reaches "
            "its time limit replays exactly when saved with --node-limit N and a time limit it does not reach"
        )
    return out


def _polish_seconds(run: Run) -> float:
    try:
        return float(json.loads(run.params_json).get("polish_seconds") or 0.0)
    except (ValueError, AttributeError, TypeError):
        return 0.0


def differences(old: Result, new: Result) -> list[str]:
    """Lines that say how the allocations and request outcomes differ; empty when identical."""
    out = []
    if old.status != new.status:
        out.append(f"status: {old.status} -> {new.status}")
    olds, news = _allocations(old), _allocations(new)
    for key in sorted(olds.keys() | news.keys()):
        if olds.get(key) != news.get(key):
            donor, request, kind = key
            was, now = _amount(olds.get(key)), _amount(news.get(key))
            out.append(f"allocation {donor} -> {request} ({kind}): {was} -> {now}")
    oldr, newr = {o.id: o for o in old.requests}, {o.id: o for o in new.requests}
    for rid in sorted(oldr.keys() | newr.keys()):
        a, b = oldr.get(rid), newr.get(rid)
        if a == b:
            continue
        if _outcome(a) != _outcome(b):
            out.append(f"request {rid}: {_outcome(a)} -> {_outcome(b)}")
        else:  # the same status, money and reason codes: the reasons' wording differs
            out.append(f"request {rid}: reasons {json.dumps(a.reasons)} -> {json.dumps(b.reasons)}")  # type: ignore[union-attr]
    return out


def _term(v: float | None) -> str:
    if v is None:
        return "none"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.6g}"


def _allocations(r: Result) -> dict[tuple[str, str, str], tuple[int, int | None, int]]:
    return {(a.donor, a.request, a.kind): (a.amount, a.units, a.committed) for a in r.allocations}


def _amount(v: tuple[int, int | None, int] | None) -> str:
    if v is None:
        return "none"
    return f"{v[0]}" + (f" ({v[1]} units)" if v[1] is not None else "")


def _outcome(o) -> str:
    if o is None:
        return "absent"
    why = f" [{', '.join(o.reason_codes)}]" if o.reason_codes else ""
    return f"{o.status} {o.funded}/{o.amount}{why}"


def _record(engine: Engine, replay: Replay, by: str) -> None:
    doc = replay.result.model_dump(mode="json")
    append_replay(engine, replay, by, {"allocations": doc["allocations"], "outcomes": doc["requests"]})


def append_replay(engine: Engine, replay: Any, by: str, found: dict[str, Any]) -> None:
    """The replay's entry on the audit chain: which run, whether identical, the versions, what it found
    (``found``: a solve's allocations and outcomes, a sweep's draws and summary) and the verdict."""
    parts = audit.hash_parts(
        {
            "replayed_run": replay.run_id,
            "identical": replay.identical,
            "versions": {"matcher": __version__, "ortools": ortools.__version__},
            **found,
        }
    )
    parts["verdict"] = audit.verdict_text(replay.differences)  # readable, and covered by the entry's hash
    with Session(engine) as session, session.begin():
        audit.lock_for_append(session)
        audit.append_entry(
            session,
            kind=audit.RUN_REPLAYED,
            parts=parts,
            by=by,
            created_at=now_utc(),
            run_id=replay.run_id,
            scenario_id=replay.stored.run.scenario_id,
        )

"""The append-only audit chain: append an entry, and verify every entry and what it records.

Each entry carries one hash per part of what it records (``parts``), the hash of those parts, the hash
of the previous entry and its own hash. ``verify`` recomputes all of them from the stored rows, so
editing a stored allocation, outcome, parameter or snapshot, deleting a run, or reordering or
removing entries is found, and named by the first entry (or row) that does not check out.
A chain can still be cut at its end together with the newest runs; ``verify`` prints the head hash so
that an auditor can keep it outside the database and compare later.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from matcher.scenario_io import canonical_json
from matcher.store.models import (
    AuditEntry,
    Run,
    RunAllocation,
    RunDonor,
    RunDraw,
    RunOutcome,
    RunReason,
    RunStage,
    RunSweep,
    RunTerm,
    ScenarioSnapshot,
)

GENESIS = "0" * 64
RUN_SAVED, RUN_REPLAYED, SCENARIO_IMPORTED = "run_saved", "run_replayed", "scenario_imported"


def sha256_text(text_: str) -> str:
    """Hex SHA-256 of UTF-8 text."""
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def hash_parts(parts: dict[str, Any]) -> dict[str, str]:
    """One SHA-256 per part, over the part's canonical JSON."""
    return {name: sha256_text(canonical_json(value)) for name, value in parts.items()}


def verdict_text(differences: list[str]) -> str:
    """A replay's verdict as its audit entry keeps it in plain words."""
    n = len(differences)
    return "identical" if not n else f"differs in {n} place{'s' if n != 1 else ''}"


def replays_of(engine, run_id: int) -> list[tuple[str, str, str]]:
    """(when, by, verdict) of every recorded replay of the run, oldest first; the verdict of a replay
    recorded before matcher 0.3.0 kept only its hash: "verdict not kept"."""
    with Session(engine) as session:
        query = select(AuditEntry).where(AuditEntry.kind == RUN_REPLAYED, AuditEntry.run_id == run_id)
        entries = session.exec(query.order_by(col(AuditEntry.seq))).all()
    return [(e.created_at, e.by, _verdict(e)) for e in entries]


def _verdict(entry: AuditEntry) -> str:
    try:
        parts = json.loads(entry.parts_json)
    except (TypeError, ValueError):
        return f"entry {entry.seq} edited: its record is not JSON (`matcher audit verify` names it)"
    return (parts.get("verdict") if isinstance(parts, dict) else None) or "verdict not kept"


def lock_for_append(session: Session) -> None:
    """Serialise writers of the chain, now: entries are timestamped after the lock, so time follows ``seq``.

    On SQLite, taking the connection issues ``BEGIN IMMEDIATE`` (the write lock); without it the lock
    would wait for the first statement, and a writer that queued would carry an older timestamp.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.exec(text("LOCK TABLE audit_entry IN EXCLUSIVE MODE"))  # type: ignore[call-overload]
    else:
        session.connection()


def append_entry(
    session: Session,
    *,
    kind: str,
    parts: dict[str, str],
    by: str,
    created_at: str,
    run_id: int | None = None,
    scenario_id: int | None = None,
) -> AuditEntry:
    """Add the next link of the chain to the session (the caller commits, after ``lock_for_append``)."""
    last = session.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)).first()
    parts_json = canonical_json(parts)
    entry = AuditEntry(
        seq=(last.seq + 1) if last else 1,
        kind=kind,
        run_id=run_id,
        scenario_id=scenario_id,
        created_at=created_at,
        by=by,
        parts_json=parts_json,
        content_sha256=sha256_text(parts_json),
        prev_sha256=last.entry_sha256 if last else GENESIS,
        entry_sha256="",
    )
    entry.entry_sha256 = entry_hash(entry)
    session.add(entry)
    return entry


def entry_hash(entry: AuditEntry) -> str:
    """The hash of an entry's own fields, the previous entry's hash among them."""
    return sha256_text(
        canonical_json(
            {
                "seq": entry.seq,
                "kind": entry.kind,
                "run_id": entry.run_id,
                "scenario_id": entry.scenario_id,
                "created_at": entry.created_at,
                "by": entry.by,
                "content_sha256": entry.content_sha256,
                "prev_sha256": entry.prev_sha256,
            }
        )
    )


def snapshot_parts(session: Session, scenario_id: int) -> dict[str, str] | None:
    """Hashes of a stored scenario snapshot, recomputed from its row; None when the row is gone."""
    snap = session.get(ScenarioSnapshot, scenario_id)
    if snap is None:
        return None
    return hash_parts(
        {
            "snapshot": {
                "id": snap.id,
                "name": snap.name,
                "sha256": snap.sha256,
                "canonical_sha256": sha256_text(snap.canonical_json),
            },
            "imported": {"at": snap.imported_at, "by": snap.imported_by},
        }
    )


def run_parts(session: Session, run_id: int) -> dict[str, str] | None:
    """Hashes of everything stored for a run, recomputed from its rows; None when the run is gone."""
    run = session.get(Run, run_id)
    if run is None:
        return None
    snap = session.get(ScenarioSnapshot, run.scenario_id)
    parts = _solve_parts(session, run, snap)
    sweep = _sweep_parts(session, run)
    # a solve's parts stay as they were before sweeps existed, so that its old entries still verify;
    # sweep rows hung on a solve behind matcher's back still show up as a changed run
    if run.kind != "solve" or sweep["sweep"] is not None or sweep["draws"]:
        parts.update(sweep)
    return hash_parts(parts)


def _solve_parts(session: Session, run: Run, snap: ScenarioSnapshot | None) -> dict[str, Any]:
    run_id = run.id
    return {
        "run": {
            "id": run.id,
            "created_at": run.created_at,
            "by": run.by,
            "note": run.note,
            "scenario_id": run.scenario_id,
            "scenario_name": run.scenario_name,
            "input_sha256": run.input_sha256,
            "status": run.status,
            "currency": run.currency,
        },
        "params": run.params_json,
        "versions": {
            "engine": run.engine,
            "ortools": run.ortools_version,
            "matcher": run.matcher_version,
            "seed": run.seed,
            "threads": run.threads,
            "time_limit": run.time_limit,
            "node_limit": run.node_limit,
        },
        "timings": {"solve_seconds": run.solve_seconds, "gap": run.gap},
        "snapshot": sha256_text(snap.canonical_json) if snap else None,
        "objective": [_row(t, "position", "term", "value", "bound") for t in _children(session, RunTerm, run_id)],
        "stages": [
            _row(s, "position", "term", "sense", "value", "bound", "gap", "status", "seconds")
            for s in _children(session, RunStage, run_id)
        ],
        "allocations": [
            _row(a, "position", "donor", "request", "amount", "kind", "units", "committed")
            for a in _children(session, RunAllocation, run_id)
        ],
        "outcomes": _outcomes_doc(session, run_id),
        "donors": [
            _row(d, "position", "donor", "kind", "budget", "allocated", "capacity", "used", "unit")
            for d in _children(session, RunDonor, run_id)
        ],
    }


def _sweep_parts(session: Session, run: Run) -> dict[str, Any]:
    sweep = session.get(RunSweep, run.id)
    return {
        "kind": run.kind,
        "sweep": _row(sweep, "spec_json", "output_json", "executor", "workers") if sweep else None,
        "draws": [
            _row(
                d,
                "position",
                "point",
                "draws_json",
                "pledges_json",
                "status",
                "coverage",
                "placed",
                "grants",
                "outcome_json",
                "seconds",
            )
            for d in _children(session, RunDraw, run.id)
        ],
    }


def _children(session: Session, model, run_id: int | None) -> list:
    return list(session.exec(select(model).where(model.run_id == run_id).order_by(model.position, model.id)))


def reasons_by_outcome(session: Session, run_id: int | None) -> dict[int, list[RunReason]]:
    """Every reason of a run's outcomes in one query, grouped by outcome id, in order."""
    query = (
        select(RunReason)
        .join(RunOutcome, col(RunReason.outcome_id) == col(RunOutcome.id))
        .where(RunOutcome.run_id == run_id)
        .order_by(col(RunReason.outcome_id), col(RunReason.position))
    )
    out: dict[int, list[RunReason]] = {}
    for r in session.exec(query):
        out.setdefault(r.outcome_id, []).append(r)
    return out


def _outcomes_doc(session: Session, run_id: int | None) -> list[dict[str, Any]]:
    reasons = reasons_by_outcome(session, run_id)
    docs = []
    for o in _children(session, RunOutcome, run_id):
        doc = _row(o, "position", "request", "amount", "funded", "status")
        doc["reasons"] = [_row(r, "position", "code", "text") for r in reasons.get(o.id, [])]
        docs.append(doc)
    return docs


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {n: _plain(getattr(obj, n)) for n in names}


def _plain(value: Any) -> Any:
    """NaN and infinities as strings: canonical JSON must be the same on every database and platform."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)
    return value


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify``: ``problem`` is None when every record is intact."""

    entries: int
    runs: int
    snapshots: int
    head: str
    problem: str | None = None
    kept_at: int | None = None  # the entry whose hash is the head kept outside (verify's expect_head)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(engine: Engine, expect_head: str | None = None) -> Verification:
    """Check the whole chain and every run and snapshot against it; stop at the first bad record.

    ``expect_head``: a head hash kept outside the database earlier (or its first 12+ characters). The
    chain has no key, so someone with write access could rebuild every hash after an edit; the kept
    head is then no longer in the chain. It must still be one of its entries (later saves add more)."""
    with Session(engine) as session:
        one_snapshot(session)
        entries = list(session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))))
        runs = set(session.exec(select(Run.id)))
        snaps = set(session.exec(select(ScenarioSnapshot.id)))
        prev, problem = GENESIS, None
        for n, entry in enumerate(entries, start=1):
            problem = _check_link(entry, n, prev) or _check_content(session, entry)
            if problem:
                break
            prev = entry.entry_sha256
        problem = problem or _unrecorded(entries, runs, snaps) or stray_rows(session, runs)
        kept = None
        if expect_head is not None and problem is None:
            kept = next((e.seq for e in entries if e.entry_sha256.startswith(expect_head.lower())), None)
            if kept is None:
                problem = (
                    f"the head you kept ({expect_head[:12]}...) is not in the chain: the entries up to it were "
                    "rewritten, or the chain was cut back before it"
                )
        return Verification(len(entries), len(runs), len(snaps), prev, problem, kept)


def one_snapshot(session: Session) -> None:
    """Read everything a check reads from one snapshot of the database. On PostgreSQL each statement of a
    READ COMMITTED transaction sees the commits made before it, so a run saved while verify read the
    chain showed as "written outside matcher"; REPEATABLE READ reads the whole check as of its start.
    SQLite's read transaction is one snapshot already."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def check_run(engine: Engine, run_id: int) -> str | None:
    """Whether one run is as it was saved: its saved entry intact, and every stored part of the run
    (parameters, snapshot, allocations, a sweep's options, draws and output) as that entry recorded.
    A line naming the first thing that changed, or None. ``verify`` checks the whole chain; this is
    the check a replay or a ``show`` makes before trusting a run's records."""
    with Session(engine) as session:
        one_snapshot(session)
        if session.get(Run, run_id) is None:
            return None  # no such run: the loaders say so
        query = select(AuditEntry).where(AuditEntry.kind == RUN_SAVED, AuditEntry.run_id == run_id)
        entry = session.exec(query.order_by(col(AuditEntry.seq))).first()
        if entry is None:
            return f"run {run_id} has no audit entry; it was written outside matcher"
        if sha256_text(entry.parts_json) != entry.content_sha256 or entry_hash(entry) != entry.entry_sha256:
            return f"{_name(entry)}: the entry itself was edited (its hash does not match)"
        return _check_content(session, entry)


def _name(entry: AuditEntry) -> str:
    what = f"run {entry.run_id}" if entry.run_id is not None else f"scenario {entry.scenario_id}"
    return f"audit entry {entry.seq} ({entry.kind}, {what})"


def _check_link(entry: AuditEntry, n: int, prev: str) -> str | None:
    if entry.seq != n:
        return f"audit entry {entry.seq}: expected entry {n} here; entries were removed or renumbered"
    if entry.prev_sha256 != prev:
        return f"{_name(entry)}: does not follow the entry before it; entries were removed or reordered"
    if sha256_text(entry.parts_json) != entry.content_sha256 or entry_hash(entry) != entry.entry_sha256:
        return f"{_name(entry)}: the entry itself was edited (its hash does not match)"
    return None


def _check_content(session: Session, entry: AuditEntry) -> str | None:
    if entry.kind == RUN_SAVED:
        now, what = run_parts(session, entry.run_id), f"run {entry.run_id}"  # type: ignore[arg-type]
    elif entry.kind == SCENARIO_IMPORTED:
        now, what = snapshot_parts(session, entry.scenario_id), f"scenario snapshot {entry.scenario_id}"  # type: ignore[arg-type]
    else:
        return None  # a replay records a check made then; nothing stored to recompute
    if now is None:
        return f"{_name(entry)}: {what} is missing; it was deleted"
    recorded = json.loads(entry.parts_json)
    changed = [part for part in recorded if recorded[part] != now.get(part)]
    changed += [part for part in now if part not in recorded]
    if changed:
        return f"{_name(entry)}: the stored {', '.join(changed)} of {what} changed since it was recorded"
    return None


RUN_ROWS = (RunTerm, RunStage, RunAllocation, RunOutcome, RunDonor, RunSweep, RunDraw)


def stray_rows(session: Session, run_ids: set) -> str | None:
    """Rows of a run's records that no saved run owns (``run_ids``: the runs there are): written outside
    matcher (SQLite enforces no foreign key from its shell), and sealed into the next run that took their id
    until a save checked for them (``planted_for``)."""
    for model in RUN_ROWS:
        extra = sorted(set(session.exec(select(model.run_id).distinct())) - run_ids)
        if extra:
            return (
                f"{model.__tablename__} holds rows of run {extra[0]}, which no saved run owns; they were written "
                "outside matcher"
            )
    outcomes = set(session.exec(select(RunOutcome.id)))
    reasons = set(session.exec(select(RunReason.outcome_id).distinct()))
    if extra := sorted(reasons - outcomes):
        return (
            f"run_reason holds reasons of outcome {extra[0]}, which no saved outcome owns; they were written "
            "outside matcher"
        )
    return None


def planted_for(session: Session, run_id: int) -> str | None:
    """Rows already there for a run id about to be filled (written outside matcher), or None."""
    for model in RUN_ROWS:
        if session.exec(select(model.run_id).where(model.run_id == run_id).limit(1)).first() is not None:
            return f"{model.__tablename__} already holds rows of run {run_id}, which is being saved now"
    return None


def _unrecorded(entries: list[AuditEntry], runs: set, snaps: set) -> str | None:
    saved = {e.run_id for e in entries if e.kind == RUN_SAVED}
    imported = {e.scenario_id for e in entries if e.kind == SCENARIO_IMPORTED}
    if extra := sorted(runs - saved):
        return f"run {extra[0]} has no audit entry; it was written outside matcher"
    if extra := sorted(snaps - imported):
        return f"scenario snapshot {extra[0]} has no audit entry; it was written outside matcher"
    return None

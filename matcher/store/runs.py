"""Repository functions for runs: save one (in one transaction, with its audit entries), list, load.

Every function takes the engine and keyword-only arguments; each opens and closes its own session.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from matcher.domain import Scenario
from matcher.engine.params import SolveParams
from matcher.errors import MatcherError
from matcher.result import Allocation, DonorUse, RequestOutcome, Result, SolverInfo, StageInfo
from matcher.scenario_io import canonical_json, parse_scenario, scenario_data
from matcher.store import audit
from matcher.store.models import (
    AuditEntry,
    Run,
    RunAllocation,
    RunDonor,
    RunOutcome,
    RunReason,
    RunStage,
    RunTerm,
    ScenarioSnapshot,
)

# Test hook: when set to a file path, a save creates that file and waits just before COMMIT, so that a
# test can kill the process in the middle of the transaction and check that nothing of the run lands.
PAUSE_ENV = "MATCHER_STORE_PAUSE_BEFORE_COMMIT"
RETRIES = 8
T = TypeVar("T")


def default_by() -> str:
    """Who is running matcher: the OS user."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database entry (containers): still record something
        return os.environ.get("USER") or "unknown"


def now_utc() -> str:
    """Now, as ISO 8601 UTC text with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class StoredRun:
    """A run as stored: its row, the scenario it solved, its Result and its solve parameters."""

    run: Run
    scenario: Scenario
    result: Result
    params: dict[str, Any]


def save_run(
    engine: Engine, *, scenario: Scenario, result: Result, params: dict[str, Any], by: str, note: str = ""
) -> int:
    """Save a solved run, its scenario snapshot and their audit entries in one transaction; the run id."""
    return with_retry(lambda: _save_once(engine, scenario, result, params, by, note))


def _save_once(engine: Engine, scenario: Scenario, result: Result, params: dict[str, Any], by: str, note: str) -> int:
    snapshot_json = canonical_json(scenario_data(scenario))
    with Session(engine) as session, session.begin():
        audit.lock_for_append(session)
        created_at = now_utc()
        snap = import_snapshot(session, scenario.name, snapshot_json, by, created_at)
        run = _run_row(result, params, by, note, snap, created_at)
        run.id = new_id(session, Run)
        session.add(run)
        session.flush()
        refuse_planted(session, run.id)  # type: ignore[arg-type]
        _add_children(session, run.id, result)  # type: ignore[arg-type]
        return seal_run(session, run, by=by, created_at=created_at)


def import_snapshot(session: Session, name: str, snapshot_json: str, by: str, created_at: str) -> ScenarioSnapshot:
    """The stored snapshot with this content; stored (and its import recorded) the first time only.
    A stored snapshot whose content no longer matches its hash was edited: no run is tied to it."""
    sha = audit.sha256_text(snapshot_json)
    snap = session.exec(select(ScenarioSnapshot).where(ScenarioSnapshot.sha256 == sha)).first()
    if snap is not None:
        if audit.sha256_text(snap.canonical_json) != snap.sha256:
            raise MatcherError(
                f"scenario snapshot {snap.id} ({snap.name}) was changed after it was saved: its content "
                "no longer matches its hash, so no run is saved against it; `matcher audit verify` "
                "names the entry"
            )
        return snap
    snap = ScenarioSnapshot(
        id=new_id(session, ScenarioSnapshot),
        name=name,
        sha256=sha,
        canonical_json=snapshot_json,
        imported_at=created_at,
        imported_by=by,
    )
    session.add(snap)
    session.flush()
    parts = audit.snapshot_parts(session, snap.id)  # type: ignore[arg-type]
    audit.append_entry(
        session,
        kind=audit.SCENARIO_IMPORTED,
        parts=parts,  # type: ignore[arg-type]
        by=by,
        created_at=created_at,
        scenario_id=snap.id,
    )
    return snap


def new_id(session: Session, model: type[Run] | type[ScenarioSnapshot]) -> int | None:
    """A new run or snapshot id that was never used, even by a row deleted since: on SQLite, one past
    both the table's largest id and the largest the audit chain names (SQLite would hand out a deleted
    last row's id again, and the chain would then take the new row for the old one, edited). None on
    PostgreSQL, whose sequences never hand out an id twice."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    named = AuditEntry.run_id if model is Run else AuditEntry.scenario_id
    used = [session.exec(select(func.max(model.id))).one(), session.exec(select(func.max(named))).one()]
    if model is Run:  # nor an id that rows written outside matcher already name (they stay strays for verify)
        used += [session.exec(select(func.max(m.run_id))).one() for m in audit.RUN_ROWS]
    return 1 + max((u for u in used if u is not None), default=0)


def refuse_planted(session: Session, run_id: int) -> None:
    """Stop a save whose new run id already has rows (written outside matcher): they would be sealed into it."""
    planted = audit.planted_for(session, run_id)
    if planted:
        raise MatcherError(
            f"{planted}: rows written outside matcher; nothing was saved. `matcher audit verify` "
            "names them; restore the store from a copy"
        )


def _run_row(
    result: Result, params: dict[str, Any], by: str, note: str, snap: ScenarioSnapshot, created_at: str
) -> Run:
    s = result.solver
    return Run(
        created_at=created_at,
        by=by,
        note=note,
        scenario_id=snap.id,  # type: ignore[arg-type]
        scenario_name=result.scenario,
        input_sha256=s.input_sha256,
        params_json=canonical_json(params),
        status=result.status,
        currency=result.currency,
        engine=s.engine,
        ortools_version=s.ortools,
        matcher_version=s.matcher,
        seed=s.seed,
        threads=s.threads,
        time_limit=s.time_limit,
        node_limit=s.node_limit,
        solve_seconds=s.seconds,
        gap=s.gap,
    )


def _add_children(session: Session, run_id: int, result: Result) -> None:
    terms = list(result.objective) + [t for t in result.bound if t not in result.objective]
    for i, term in enumerate(terms):
        session.add(
            RunTerm(
                run_id=run_id, position=i, term=term, value=result.objective.get(term), bound=result.bound.get(term)
            )
        )
    for i, st in enumerate(result.solver.stages):
        session.add(RunStage(run_id=run_id, position=i, **st.model_dump()))
    for i, a in enumerate(result.allocations):
        session.add(RunAllocation(run_id=run_id, position=i, **a.model_dump()))
    for i, d in enumerate(result.donors):
        session.add(RunDonor(run_id=run_id, position=i, donor=d.id, **d.model_dump(exclude={"id"})))
    rows = [
        RunOutcome(run_id=run_id, position=i, request=o.id, amount=o.amount, funded=o.funded, status=o.status)
        for i, o in enumerate(result.requests)
    ]
    session.add_all(rows)
    session.flush()  # one batched INSERT; the reasons need the outcome ids
    ids = [row.id for row in rows]
    if ids and session.exec(select(RunReason.outcome_id).where(col(RunReason.outcome_id).in_(ids)).limit(1)).first():
        raise MatcherError(
            f"run_reason already holds reasons of the outcomes of run {run_id}, which is being saved "
            "now: rows written outside matcher; nothing was saved. `matcher audit verify` names them"
        )
    for row, o in zip(rows, result.requests, strict=True):
        for j in range(max(len(o.reasons), len(o.reason_codes))):
            code = o.reason_codes[j] if j < len(o.reason_codes) else None
            text = o.reasons[j] if j < len(o.reasons) else None
            session.add(RunReason(outcome_id=row.id, position=j, code=code, text=text))  # type: ignore[arg-type]


def seal_run(session: Session, run: Run, *, by: str, created_at: str) -> int:
    """Put a run whose rows are all added on the audit chain (its RUN_SAVED entry), in the caller's
    transaction; its id."""
    session.flush()
    session.expire_all()  # hash what the database holds, exactly as `audit verify` will read it
    parts = audit.run_parts(session, run.id)  # type: ignore[arg-type]
    audit.append_entry(
        session,
        kind=audit.RUN_SAVED,
        parts=parts,  # type: ignore[arg-type]
        by=by,
        created_at=created_at,
        run_id=run.id,
        scenario_id=run.scenario_id,
    )
    session.flush()
    pause_if_asked()
    return run.id  # type: ignore[return-value]


def pause_if_asked() -> None:
    marker = os.environ.get(PAUSE_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(120)


def with_retry(fn: Callable[[], T]) -> T:
    """Run a write transaction, again after a lock timeout or a serialisation failure (with jitter)."""
    for attempt in range(RETRIES):
        try:
            return fn()
        except OperationalError as exc:
            if attempt == RETRIES - 1 or not _transient(exc):
                raise
            time.sleep(0.05 * 2**attempt * (1 + random.random()))
    raise AssertionError("unreachable")


def _transient(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40001", "40P01", "55P03") or "locked" in str(exc.orig) or "busy" in str(exc.orig)


def list_runs(engine: Engine, *, scenario: str | None = None) -> list[Run]:
    """Saved runs, oldest first; only those of one scenario name when given."""
    with Session(engine) as session:
        query = select(Run).order_by(col(Run.id))
        if scenario is not None:
            query = query.where(Run.scenario_name == scenario)
        return list(session.exec(query))


def run_terms(engine: Engine, *, run_ids: list[int]) -> dict[int, dict[str, float | None]]:
    """Objective values by run id (for listings)."""
    with Session(engine) as session:
        rows = session.exec(select(RunTerm).where(col(RunTerm.run_id).in_(run_ids)).order_by(col(RunTerm.position)))
        out: dict[int, dict[str, float | None]] = {}
        for t in rows:
            out.setdefault(t.run_id, {})[t.term] = t.value
        return out


def load_run(engine: Engine, *, run_id: int) -> StoredRun:
    """A stored run with its scenario and Result rebuilt from the rows; MatcherError when there is none."""
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise MatcherError(f"run {run_id}: no such run; `matcher runs` lists the saved runs")
        snap = session.get(ScenarioSnapshot, run.scenario_id)
        if snap is None:
            raise MatcherError(f"run {run_id}: its scenario snapshot is missing; run `matcher audit verify`")
        try:
            scenario = parse_scenario(json.loads(snap.canonical_json), source=f"run {run_id} snapshot")
            params = json.loads(run.params_json)
            SolveParams(**params)  # a replay needs them as parameters, not just as JSON
            result = _result(session, run)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # records edited into something unreadable
            first = (str(exc).strip().splitlines() or [""])[0]
            raise MatcherError(
                f"run {run_id}: its stored records cannot be read ({type(exc).__name__}: {first}); "
                "run `matcher audit verify`"
            ) from None
        return StoredRun(run=run, scenario=scenario, result=result, params=params)


def _result(session: Session, run: Run) -> Result:
    def rows(model):
        return list(session.exec(select(model).where(model.run_id == run.id).order_by(model.position)))

    terms = rows(RunTerm)
    outcomes = []
    by_outcome = audit.reasons_by_outcome(session, run.id)
    for o in rows(RunOutcome):
        reasons = by_outcome.get(o.id, [])
        outcomes.append(
            RequestOutcome(
                id=o.request,
                amount=o.amount,
                funded=o.funded,
                status=o.status,
                reasons=[r.text for r in reasons if r.text is not None],
                reason_codes=[r.code for r in reasons if r.code is not None],
            )
        )
    return Result(
        scenario=run.scenario_name,
        status=run.status,  # type: ignore[arg-type]
        currency=run.currency,
        objective={t.term: t.value for t in terms if t.value is not None},
        bound={t.term: t.bound for t in terms if t.bound is not None},
        allocations=[
            Allocation(
                donor=a.donor, request=a.request, amount=a.amount, kind=a.kind, units=a.units, committed=a.committed
            )
            for a in rows(RunAllocation)
        ],
        requests=outcomes,
        donors=[
            DonorUse(
                id=d.donor,
                kind=d.kind,
                budget=d.budget,
                allocated=d.allocated,
                capacity=d.capacity,
                used=d.used,
                unit=d.unit,
            )
            for d in rows(RunDonor)
        ],
        solver=SolverInfo(
            engine=run.engine,
            ortools=run.ortools_version,
            matcher=run.matcher_version,
            seed=run.seed,
            threads=run.threads,
            time_limit=run.time_limit,
            node_limit=run.node_limit,
            seconds=run.solve_seconds,
            input_sha256=run.input_sha256,
            gap=run.gap,
            stages=[
                StageInfo(
                    term=s.term,
                    sense=s.sense,
                    value=s.value,
                    bound=s.bound,
                    gap=s.gap,
                    status=s.status,
                    seconds=s.seconds,
                )
                for s in rows(RunStage)
            ],
        ),
    )

"""Saved sweeps: one run record (kind "sweep") with the sweep's options, its summary and every distinct solve.

The run row carries what every run carries (snapshot, parameters, versions, seed, who, note); ``RunSweep``
the options (``spec``) and the summary ``matcher sweep --format json`` prints; ``RunDraw`` one row per
distinct solve with the draws that gave it. All of it is saved in one transaction and recorded in the
audit chain like a solve, so ``audit verify`` covers it and ``matcher replay`` can run it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import ortools
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from matcher import __version__
from matcher.domain import Scenario
from matcher.engine import SolveParams
from matcher.errors import MatcherError
from matcher.scenario_io import canonical_json, input_sha256, parse_scenario, scenario_data
from matcher.store import audit
from matcher.store.models import Run, RunDraw, RunSweep, ScenarioSnapshot
from matcher.store.runs import import_snapshot, new_id, now_utc, refuse_planted, seal_run, with_retry
from matcher.sweep import SolvedDraw, SweepResult, SweepSpec
from matcher.sweep.document import result_from_data, sweep_data
from matcher.sweep.work import Outcome

SWEEP = "sweep"
STOPPED = ("feasible", "unknown")  # a solve that ended at a limit, not with a proof


def spec_data(spec: SweepSpec) -> dict[str, Any]:
    """The sweep's options as plain data (what a replay needs, apart from the scenario)."""
    return {
        "draws": spec.draws,
        "seed": spec.seed,
        "vary": list(spec.vary),
        "set": list(spec.sets),
        "threshold": spec.threshold,
        "params": spec.params.public(),
        "fewest_grants": spec.grants_minimised(),
        "exact": spec.exact,
    }


def spec_of(data: dict[str, Any]) -> SweepSpec:
    """The SweepSpec back from ``spec_data``."""
    return SweepSpec(
        draws=data["draws"],
        exact=data.get("exact", False),  # sweeps saved before the key drew their pledges
        seed=data["seed"],
        vary=tuple(data["vary"]),
        sets=tuple(data["set"]),
        threshold=data["threshold"],
        params=SolveParams(**data["params"]),
        fewest_grants=data.get("fewest_grants", True),
    )  # sweeps saved before the key minimised grants


def sweep_status(result: SweepResult) -> str:
    """optimal: every solve ended with a proof (optimal or infeasible); feasible: one stopped at a limit
    or failed in the solver ("error": a draw kept without an allocation)."""
    stopped = any(s.outcome.status in (*STOPPED, "error") for s in result.solved)
    return "feasible" if stopped else "optimal"


def draw_doc(solved: SolvedDraw) -> dict[str, Any]:
    """One distinct solve as stored (seconds apart): what a replay compares."""
    o = solved.outcome
    return {
        "point": solved.point,
        "draws": solved.draws,
        "pledges": solved.pledges,
        "status": o.status,
        "coverage": o.coverage,
        "placed": o.placed,
        "grants": o.grants,
        "outcome": {"funded": o.funded, "status_of": o.status_of, "used": o.used, "budget": o.budget},
    }


def save_sweep(
    engine: Engine, *, scenario: Scenario, spec: SweepSpec, result: SweepResult, by: str, note: str = ""
) -> int:
    """Save a finished sweep, its scenario snapshot and their audit entries in one transaction; the run id.

    ``scenario`` is the file as read, before ``--set``: the spec's ``set`` edits are replayed on it.
    """
    return with_retry(lambda: _save_once(engine, scenario, spec, result, by, note))


def _save_once(engine: Engine, scenario: Scenario, spec: SweepSpec, result: SweepResult, by: str, note: str) -> int:
    snapshot_json = canonical_json(scenario_data(scenario))
    with Session(engine) as session, session.begin():
        audit.lock_for_append(session)
        created_at = now_utc()
        snap = import_snapshot(session, scenario.name, snapshot_json, by, created_at)
        run = _run_row(scenario, spec, result, by, note, snap.id, created_at)  # type: ignore[arg-type]
        run.id = new_id(session, Run)
        session.add(run)
        session.flush()
        refuse_planted(session, run.id)  # type: ignore[arg-type]
        session.add(
            RunSweep(
                run_id=run.id,  # type: ignore[arg-type]
                spec_json=canonical_json(spec_data(spec)),
                output_json=canonical_json(sweep_data(result)),
                executor=result.executor,
                workers=result.workers,
            )
        )
        session.add_all([_draw_row(run.id, k, s) for k, s in enumerate(result.solved)])  # type: ignore[arg-type]
        return seal_run(session, run, by=by, created_at=created_at)


def _run_row(
    scenario: Scenario, spec: SweepSpec, result: SweepResult, by: str, note: str, snapshot_id: int, created_at: str
) -> Run:
    p = spec.params
    return Run(
        created_at=created_at,
        by=by,
        note=note,
        scenario_id=snapshot_id,
        scenario_name=scenario.name,
        input_sha256=input_sha256(scenario),
        params_json=canonical_json(p.public()),
        status=sweep_status(result),
        currency=scenario.currency,
        engine=SWEEP,
        ortools_version=ortools.__version__,
        matcher_version=__version__,
        seed=spec.seed,
        threads=p.threads,
        time_limit=p.time_limit,
        node_limit=p.node_limit,
        solve_seconds=result.seconds,
        gap=None,
        kind=SWEEP,
    )


def _draw_row(run_id: int, position: int, solved: SolvedDraw) -> RunDraw:
    doc = draw_doc(solved)
    return RunDraw(
        run_id=run_id,
        position=position,
        point=solved.point,
        draws_json=canonical_json(solved.draws),
        pledges_json=canonical_json(solved.pledges),
        status=doc["status"],
        coverage=doc["coverage"],
        placed=doc["placed"],
        grants=doc["grants"],
        outcome_json=canonical_json(doc["outcome"]),
        seconds=solved.outcome.seconds,
    )


@dataclass(frozen=True)
class StoredSweep:
    """A sweep as stored: its run row, the scenario file as read, the options, the summary and the draws."""

    run: Run
    scenario: Scenario
    spec: SweepSpec
    output: dict[str, Any]
    executor: str
    workers: int
    draws: list[dict[str, Any]]  # draw_doc of every distinct solve, in order


def load_sweep(engine: Engine, *, run_id: int) -> StoredSweep:
    """A stored sweep; MatcherError when there is no such run or it is not a sweep."""
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise MatcherError(f"run {run_id}: no such run; `matcher runs` lists the saved runs")
        sweep = session.get(RunSweep, run_id)
        snap = session.get(ScenarioSnapshot, run.scenario_id)
        if run.kind != SWEEP or sweep is None or snap is None:
            raise MatcherError(f"run {run_id}: not a complete saved sweep; run `matcher audit verify`")
        rows = session.exec(select(RunDraw).where(RunDraw.run_id == run_id).order_by(col(RunDraw.position)))
        try:
            draws = [_doc_of(r) for r in rows]
            scenario = parse_scenario(json.loads(snap.canonical_json), source=f"run {run_id} snapshot")
            spec, output = spec_of(json.loads(sweep.spec_json)), json.loads(sweep.output_json)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # JSON edited into something unreadable
            first = (str(exc).strip().splitlines() or [""])[0]
            raise MatcherError(
                f"run {run_id}: its stored records cannot be read ({type(exc).__name__}: {first}); "
                "run `matcher audit verify`"
            ) from None
        return StoredSweep(
            run=run,
            scenario=scenario,
            spec=spec,
            output=output,
            executor=sweep.executor,
            workers=sweep.workers,
            draws=draws,
        )


def _doc_of(r: RunDraw) -> dict[str, Any]:
    return {
        "point": r.point,
        "draws": json.loads(r.draws_json),
        "pledges": json.loads(r.pledges_json),
        "status": r.status,
        "coverage": r.coverage,
        "placed": r.placed,
        "grants": r.grants,
        "outcome": json.loads(r.outcome_json),
    }


def run_kind(engine: Engine, *, run_id: int) -> str:
    """ "solve" or "sweep"; MatcherError when there is no such run."""
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise MatcherError(f"run {run_id}: no such run; `matcher runs` lists the saved runs")
        return run.kind


def stored_result(stored: StoredSweep) -> SweepResult:
    """The stored sweep as a SweepResult, to render it as ``matcher sweep`` did (table, JSON or CSV)."""
    return result_from_data(
        stored.output, executor=stored.executor, workers=stored.workers, solved=[_solved_of(d) for d in stored.draws]
    )


def _solved_of(doc: dict[str, Any]) -> SolvedDraw:
    o = doc["outcome"]
    outcome = Outcome(
        status=doc["status"],
        coverage=doc["coverage"],
        placed=doc["placed"],
        grants=doc["grants"],
        funded=o["funded"],
        status_of=o["status_of"],
        used=o["used"],
        budget=o["budget"],
        seconds=0.0,
    )
    return SolvedDraw(doc["point"], doc["pledges"], doc["draws"], outcome)

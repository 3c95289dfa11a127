"""``matcher run``, ``runs``, ``show``, ``replay``, ``audit verify`` and ``db upgrade``: the store on the CLI."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import re
import sys
from collections.abc import Mapping

import click

from matcher import jsonout
from matcher.cli.common import (
    EXIT_INFEASIBLE,
    EXIT_NO_SOLUTION,
    cli,
    drop_native_stdout,
    handle_errors,
    one_line_name,
    write_output,
)
from matcher.cli.solving import effort_options, params_from, scale_checked, solve_options
from matcher.engine import solve
from matcher.errors import MatcherError
from matcher.infeasible import infeasible_note
from matcher.report.formats import FORMATS, render
from matcher.report.sweep import render_sweep
from matcher.scenario_io import load_scenario
from matcher.store import ENV_VAR
from matcher.sweep import open_executor

# The store's modules (SQLModel, SQLAlchemy, Alembic: half a second to import) are imported by the
# commands that use them, so that solve, compare and the rest start without them.

EXIT_REPLAY_DIFFERS = 5
RUN_ID = click.IntRange(min=1, max=2**31 - 1)  # a run id as every store keeps it (PostgreSQL's integer)
MAX_DIFF_LINES = 40  # a replay's differences listed one by one; beyond that, a count


def db_option(fn):
    """``--db URL`` (or $MATCHER_DB), shared by every store command."""
    return click.option(
        "--db",
        "db_url",
        envvar=ENV_VAR,
        show_envvar=True,
        default=None,
        metavar="URL",
        help="Database: a SQLite file path or URL, or postgresql+psycopg://user@host:5432/name.  "
        "[default: ./matcher.db]",
    )(fn)


def database_errors(fn):
    """A database failure is one ``Error:`` line that says which operation failed (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if not isinstance(exc, SQLAlchemyError):
                raise
            orig = getattr(exc, "orig", None) or exc
            line = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
            raise MatcherError(f"database: {line}") from None

    return wrapper


@cli.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--note", default="", help="Why this run was made; kept with it.")
@click.option("--by", default=None, callback=one_line_name, help="Who made the run.  [default: the OS user]")
@db_option
@solve_options
@effort_options
@handle_errors
@database_errors
def run_cmd(
    file: str,
    note: str,
    by: str | None,
    db_url: str | None,
    time_limit: float,
    seed: int,
    node_limit: int | None,
    progress: bool,
    polish: float,
    gap: float,
) -> None:
    """Solve a scenario and save the run; prints the run id.

    The run keeps the scenario exactly as solved, the parameters, versions, the allocation and every
    request's outcome, and is appended to the audit chain. Exit codes as for `matcher solve`.

    \b
    Example:
      matcher run scenarios/sahel-pssm-2027.yaml --note "first draft" --node-limit 2000
      matcher run round.yaml --db postgresql+psycopg://postgres@127.0.0.1:5432/matcher
    """
    scenario = load_scenario(file)
    scale_checked(scenario, file)
    from matcher.store import db
    from matcher.store.runs import default_by, save_run

    engine = db.open_store(db_url)  # before the solve: an unreachable database fails fast
    params = dataclasses.replace(
        params_from(time_limit, seed, node_limit, progress), polish_seconds=polish, relative_gap=gap
    )
    result = solve(scenario, params)
    run_id = save_run(
        engine, scenario=scenario, result=result, params=params.public(), by=by or default_by(), note=note
    )
    engine.dispose()
    click.echo(run_id)
    click.echo(f"saved run {run_id}: {scenario.name}, {result.status}, {_terms_text(result.objective)}", err=True)
    if node_limit is None and time_limit and result.solver.seconds >= 0.5 * time_limit:
        click.echo(
            f"Warning: the solve took {result.solver.seconds:.1f} s of its {time_limit:g} s time limit; where "
            "the limit stopped a step, a replay may differ. For a run that replays exactly, give --node-limit N "
            "and a time limit it does not reach",
            err=True,
        )
    if polish and node_limit is None:
        click.echo(
            f"Warning: --polish {polish:g} searched for fewer grants in wall time; a replay may end with other grants",
            err=True,
        )
    if result.status == "infeasible":
        click.echo(infeasible_note(scenario), err=True)
        sys.exit(EXIT_INFEASIBLE)
    if result.status == "unknown":
        sys.exit(EXIT_NO_SOLUTION)


def _terms_text(terms: Mapping[str, float | None]) -> str:
    return ", ".join(f"{k} {_number(v)}" for k, v in terms.items() if v is not None) or "no allocation"


def _number(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.6g}"


RUN_COLUMNS = ("id", "kind", "created_at", "by", "scenario", "status", "coverage", "volume", "note")


@cli.command("runs")
@click.option("--scenario", default=None, help="Only the runs of this scenario name.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@db_option
@handle_errors
@database_errors
def runs_cmd(scenario: str | None, fmt: str, db_url: str | None) -> None:
    """List the saved runs, oldest first.

    \b
    Example:
      matcher runs
      matcher runs --scenario sahel-pssm-2027 --format csv
    """
    from matcher.store import db
    from matcher.store.runs import list_runs, run_terms

    engine = db.open_store(db_url, create=False, reading=True)
    runs = list_runs(engine, scenario=scenario)
    terms = run_terms(engine, run_ids=[r.id for r in runs])  # type: ignore[misc]
    engine.dispose()
    rows = [
        {
            "id": r.id,
            "kind": r.kind,
            "created_at": r.created_at,
            "by": r.by,
            "scenario": r.scenario_name,
            "status": r.status,
            "coverage": terms.get(r.id, {}).get("coverage"),  # type: ignore[arg-type]
            "volume": terms.get(r.id, {}).get("volume"),  # type: ignore[arg-type]
            "note": r.note,
        }
        for r in runs
    ]
    if not rows and scenario and fmt == "table":
        click.echo(f"no saved run of a scenario named '{scenario}'; `matcher runs` lists every saved run")
        return
    click.echo(_format_rows(rows, fmt), nl=False)


def _one_line(text: str) -> str:
    """A note or name as one line: a newline in it could otherwise fake a header line of `show`."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def _format_rows(rows: list[dict], fmt: str) -> str:
    if fmt == "json":
        return jsonout.dumps(rows)
    buf = io.StringIO()
    if fmt == "csv":
        w = csv.DictWriter(buf, fieldnames=RUN_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    if not rows:
        return "no runs saved yet; `matcher run FILE` saves one\n"
    cells = [[_cell(r[c]) for c in RUN_COLUMNS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(RUN_COLUMNS)]
    for line in [list(RUN_COLUMNS), *cells]:
        buf.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n")
    return buf.getvalue()


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return _one_line(v)
    if isinstance(v, float):  # one way for every size: 500,000 next to 5,210,000; coverage keeps its decimals
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.6g}"
    return str(v)


@cli.command("show")
@click.argument("run_id", metavar="RUN", type=RUN_ID)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="json is the solution document of `matcher solve --format json`.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout."
)
@db_option
@handle_errors
@database_errors
def show_cmd(run_id: int, fmt: str, output: str | None, db_url: str | None) -> None:
    """Show a saved run: its allocation and every request's outcome.

    \b
    Example:
      matcher show 3
      matcher show 3 --format csv -o run-3.csv
    """
    from matcher.store import audit, db
    from matcher.store.runs import load_run
    from matcher.store.sweeps import SWEEP, load_sweep, run_kind

    engine = db.open_store(db_url, create=False, reading=True)
    changed = audit.check_run(engine, run_id)
    if changed is not None:
        click.echo(
            f"Warning: run {run_id} was changed after it was saved ({changed}); what follows is not "
            "what was saved. `matcher audit verify` checks the whole store",
            err=True,
        )
    if run_kind(engine, run_id=run_id) == SWEEP:
        stored_sweep = load_sweep(engine, run_id=run_id)
        replays = audit.replays_of(engine, run_id)
        engine.dispose()
        text = _sweep_text(stored_sweep, fmt, replays)
        if fmt == "json":
            text = _with_run_record(text, stored_sweep.run, stored_sweep.spec.params.public(), replays, changed)
        write_output(text, output)
        return
    stored = load_run(engine, run_id=run_id)
    replays = audit.replays_of(engine, run_id)
    engine.dispose()
    text = render(stored.result, stored.scenario, fmt)
    if fmt == "json":
        text = _with_run_record(text, stored.run, stored.params, replays, changed)
    if fmt == "table":
        r = stored.run
        head = f"run {r.id} · {r.created_at} · by {_one_line(r.by)} · input sha256 {r.input_sha256[:12]}"
        params = ", ".join(f"{k}={v}" for k, v in stored.params.items())
        text = (
            f"{head}\n{'note: ' + _one_line(r.note) + chr(10) if r.note else ''}params: {params}\n"
            f"{_replays_line(replays)}\n{text}"
        )
    write_output(text, output)


def _with_run_record(text: str, run, params: Mapping, replays: list[tuple[str, str, str]], changed: str | None) -> str:
    """The JSON document with the saved run's record under "run": what an auditor files with it."""
    doc = json.loads(text)
    doc["run"] = {
        "id": run.id,
        "kind": run.kind,
        "created_at": run.created_at,
        "by": run.by,
        "note": run.note,
        "input_sha256": run.input_sha256,
        "matcher_version": run.matcher_version,
        "ortools_version": run.ortools_version,
        "params": dict(params),
        "replays": [{"at": when, "by": by, "verdict": verdict} for when, by, verdict in replays],
        "intact": changed is None,
        "changed": changed,
    }
    return jsonout.dumps(doc)


def _replays_line(replays: list[tuple[str, str, str]]) -> str:
    """The run's recorded replays, newest last: what an auditor checks first."""
    if not replays:
        return ""
    shown = "; ".join(f"{when} by {_one_line(by)}: {verdict}" for when, by, verdict in replays[-5:])
    more = f" ({len(replays) - 5} earlier)" if len(replays) > 5 else ""
    return f"replays{more}: {shown}\n"


def _sweep_text(stored, fmt: str, replays: list[tuple[str, str, str]]) -> str:
    """A saved sweep (a StoredSweep) as `matcher sweep` printed it, with the run's header above the table."""
    from matcher.store.sweeps import spec_data, stored_result

    text = render_sweep(stored_result(stored), fmt, stored.scenario.currency)
    if fmt != "table":
        return text
    r = stored.run
    head = f"run {r.id} · sweep · {r.created_at} · by {_one_line(r.by)} · input sha256 {r.input_sha256[:12]}"
    options = ", ".join(f"{k}={v}" for k, v in spec_data(stored.spec).items() if k != "params" and v not in (None, []))
    params = ", ".join(f"{k}={v}" for k, v in stored.spec.params.public().items())
    note = f"note: {_one_line(r.note)}\n" if r.note else ""
    return f"{head}\n{note}sweep: {options}\nparams: {params}\n{_replays_line(replays)}\n{text}"


@cli.command("replay")
@click.argument("run_id", metavar="RUN", type=RUN_ID)
@click.option("--by", default=None, callback=one_line_name, help="Who made the replay.  [default: the OS user]")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="For a saved sweep: worker processes (default: this machine's cores).",
)
@db_option
@handle_errors
@database_errors
def replay_cmd(run_id: int, by: str | None, workers: int | None, db_url: str | None) -> None:
    """Re-solve a saved run's scenario with its saved parameters and compare the allocations.

    Exit code 0 when the allocation and every request's outcome are identical, 5 (with the
    differences on stdout) when not, or when the run's records no longer match its audit entry
    (changed after it was saved). The replay is recorded in the audit chain. A saved sweep
    is run again with its options and draws, and every solve and its summary are compared.

    \b
    Example:
      matcher replay 3
    """
    from matcher.store import db
    from matcher.store.replay import ChangedAndUnreadable

    # read without a write lock or a journal switch (a read-only copy can be replayed); the verdict is
    # written through a second engine, and a store that cannot take it keeps the verdict on screen
    engine = db.open_store(db_url, create=False, reading=True)
    writer = db.make_engine(db_url)
    try:
        _replay(engine, writer, run_id, by, workers)
    except ChangedAndUnreadable as exc:
        _report_replay(run_id, [], exc.lines, "")
    finally:
        engine.dispose()
        writer.dispose()


def _replay(engine, writer, run_id: int, by: str | None, workers: int | None) -> None:
    drop_native_stdout()  # a replay shows its verdict, not the solver's own lines (HiGHS prints a few)
    from matcher.store.replay import replay_run
    from matcher.store.runs import default_by
    from matcher.store.sweep_replay import replay_sweep
    from matcher.store.sweeps import SWEEP, run_kind

    if run_kind(engine, run_id=run_id) == SWEEP:
        with open_executor("local", workers) as ex:
            swept = replay_sweep(
                engine, run_id=run_id, by=by or default_by(), executor=ex, executor_name="local", writer=writer
            )
        _report_replay(
            run_id,
            swept.warnings,
            swept.differences,
            f"run {run_id}: replay identical (sweep, {len(swept.result.solved)} solves)",
        )
        return
    replay = replay_run(engine, run_id=run_id, by=by or default_by(), writer=writer)
    _report_replay(
        run_id,
        replay.warnings,
        replay.differences,
        f"run {run_id}: replay identical ({len(replay.result.allocations)} allocations, "
        f"{len(replay.result.requests)} requests)",
        replay.summary,
    )


def _report_replay(run_id: int, warnings: list[str], diffs: list[str], same: str, summary: str | None = None) -> None:
    """Warnings on stderr; "identical" and exit 0, or the differences on stdout, the summary on
    stderr, and exit 5."""
    for w in warnings:
        click.echo(f"Warning: {w}", err=True)
    if not diffs:
        click.echo(same)
        return
    for line in diffs[:MAX_DIFF_LINES]:
        click.echo(line)
    if len(diffs) > MAX_DIFF_LINES:
        click.echo(f"... and {len(diffs) - MAX_DIFF_LINES} more")
    if summary:
        click.echo(summary, err=True)
    n = len(diffs)
    click.echo(f"run {run_id}: replay differs in {n} place{'s' if n != 1 else ''}", err=True)
    sys.exit(EXIT_REPLAY_DIFFERS)


@cli.group("audit")
def audit_group() -> None:
    """Check the audit chain of saved runs.

    \b
    Example:
      matcher audit verify
    """


def _hex_head(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[0-9a-fA-F]{12,64}", value):
        raise click.BadParameter("give the head hash verify printed (64 hex characters, or at least the first 12)")
    return value


@audit_group.command("verify")
@click.option(
    "--expect-head",
    metavar="HASH",
    default=None,
    callback=_hex_head,
    help="A head hash printed by an earlier verify and kept outside the database: it must still be in "
    "the chain (a chain rewritten after an edit, or cut back, no longer holds it).",
)
@db_option
@handle_errors
@database_errors
def audit_verify(expect_head: str | None, db_url: str | None) -> None:
    """Check every audit entry and every run and snapshot it records; exit 0 only when all are intact.

    Prints the chain's head hash: keep it outside the database (a ticket, an email) and give it back
    with --expect-head later. The chain has no key, so someone with write access to the database could
    rebuild every hash after an edit; only a head kept elsewhere shows that.

    \b
    Example:
      matcher audit verify --db postgresql+psycopg://postgres@127.0.0.1:5432/matcher
      matcher audit verify --expect-head 3f1c9a0b2d4e
    """
    from matcher.store import audit, db

    engine = db.open_store(db_url, create=False, reading=True)
    v = audit.verify(engine, expect_head)
    engine.dispose()
    if not v.ok:
        raise MatcherError(f"audit verify failed: {v.problem}")
    kept = f"; the head you kept is entry {v.kept_at}" if v.kept_at is not None else ""
    click.echo(
        f"ok: {v.entries} audit entries, {v.runs} runs, {v.snapshots} scenario snapshots intact; head {v.head}{kept}"
    )


@cli.group("db")
def db_group() -> None:
    """Manage the database schema.

    \b
    Example:
      matcher db upgrade --db postgresql+psycopg://postgres@127.0.0.1:5432/matcher
    """


@db_group.command("upgrade")
@db_option
@handle_errors
@database_errors
def db_upgrade(db_url: str | None) -> None:
    """Bring the database schema to this version of matcher (a fresh database is created).

    \b
    Example:
      matcher db upgrade --db postgresql+psycopg://postgres@127.0.0.1:5432/matcher
    """
    from matcher.store import db

    engine = db.make_engine(db_url)
    before, after = db.upgrade(engine)
    engine.dispose()
    where = engine.url.render_as_string()
    was = " (already current)" if before == after else f" (was {before or 'empty'})"
    click.echo(f"{where}: schema {after}{was}")

"""``matcher sweep``: seeded draws of uncertain pledges and grids over scenario values."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence

import click

from matcher.cli.common import (
    EXIT_INFEASIBLE,
    cli,
    drop_native_stdout,
    handle_errors,
    one_line_name,
    write_output,
)
from matcher.cli.store import database_errors, db_option
from matcher.engine import SolveParams
from matcher.errors import MatcherError
from matcher.report.sweep import render_sweep
from matcher.scenario_io import load_scenario, read_scenario_data
from matcher.sweep import EXECUTORS, SweepResult, SweepSpec, open_executor, run_sweep
from matcher.sweep.run import plan

PROGRESS_EVERY = 1.0  # seconds between progress lines


@cli.command("sweep")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--draws",
    type=click.IntRange(min=1),
    default=None,
    help="Seeded draws of the uncertain pledges (donor keys confidence, budget_range).",
)
@click.option(
    "--exact",
    is_flag=True,
    help="Instead of draws: every combination of arriving and lost envelopes at its exact probability "
    "(confidence only; a budget_range needs --draws).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the draws. The solver keeps `matcher solve`'s seed (0): a round drawn under any seed is "
    "solved the same way.",
)
@click.option(
    "--vary",
    multiple=True,
    metavar="PATH=VALUES",
    help="Grid axis: 0.05,0.1,0.2 or a..b:n or *0.6..*1.2:n (factors). Repeat for a grid.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="PATH=VALUE",
    help="Edit the scenario first: donors[JPN].confidence=0.7, donors[DEU].budget*=0.8.",
)
@click.option(
    "--safe-threshold",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=0.9,
    show_default=True,
    help="Share of draws a request must be fully funded in to be safe to promise.",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="local: a process pool on this machine; dask: Dask distributed.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Dask scheduler, e.g. tcp://10.0.0.5:8786; without it --executor dask starts a local cluster.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: this machine's cores)."
)
@click.option("--format", "fmt", type=click.Choice(("table", "json", "csv")), default="table", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout."
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.01),
    default=60.0,
    show_default=True,
    help="Seconds per solve. A solve stopped by time may differ between runs; see --node-limit.",
)
@click.option(
    "--node-limit",
    type=click.IntRange(min=1),
    default=None,
    help="Work limit per stage: the same answer on every run, machine and executor.",
)
@click.option(
    "--gap",
    type=click.FloatRange(min=0, max=1),
    default=SolveParams.relative_gap,
    show_default=True,
    help="Relative gap at which a solve's stage counts as proven (1e-4: within 0.01% of the best possible).",
)
@click.option(
    "--fewest-grants/--any-grants",
    "fewest_grants",
    default=None,
    help="Minimise the number of grants in every solve (the objective's last tie-break). "
    "Default: only without --draws; draws are solved for the money terms, several times faster.",
)
@click.option("--progress/--quiet", default=True, show_default=True, help="Progress lines on stderr.")
@click.option(
    "--save", is_flag=True, help="Save the sweep as one run (options, summary, every solve); prints its id on stderr."
)
@click.option("--note", default="", help="With --save: why this sweep was made; kept with it.")
@click.option(
    "--by", default=None, callback=one_line_name, help="With --save: who made the sweep.  [default: the OS user]"
)
@db_option
@handle_errors
@database_errors
def sweep_cmd(
    file: str,
    draws: int | None,
    exact: bool,
    seed: int,
    vary: tuple[str, ...],
    sets: tuple[str, ...],
    safe_threshold: float,
    executor: str,
    scheduler: str | None,
    workers: int | None,
    fmt: str,
    output: str | None,
    time_limit: float,
    node_limit: int | None,
    gap: float,
    fewest_grants: bool | None,
    progress: bool,
    save: bool,
    note: str,
    by: str | None,
    db_url: str | None,
) -> None:
    """Solve many versions of a scenario: draws of uncertain pledges, a grid over values, or both.

    With --draws: per request the share of draws in which it is fully and partly funded, per
    donor the money used, the spread of coverage and money placed, and the requests safe to
    promise. --exact gives the same figures as exact probabilities, from every combination of
    arriving and lost envelopes (donors with confidence; each solved once). With --vary: one row
    per grid point with the compare measures (--format csv to plot).
    The same seed gives the same output on every executor and any number of workers.

    \b
    Example:
      matcher sweep round.yaml --draws 1000 --set 'donors[JPN].confidence=0.7'
      matcher sweep round.yaml --exact --set 'donors[JPN].confidence=0.7'
      matcher sweep round.yaml --vary 'policy.max_country_share=0.05,0.1,0.2' --format csv
      matcher sweep round.yaml --vary 'donors[DEU].budget=*0.6..*1.2:7' --draws 200 --executor dask
      matcher sweep round.yaml --draws 200 --set 'donors[JPN].confidence=0.7' --node-limit 1000 --save \\
        --note "JPN at 70%"
    """
    if exact and draws is not None:
        raise MatcherError(
            "--exact takes every combination of the pledges instead of draws; give one of --exact, --draws"
        )
    if draws is None and not exact and not vary:
        raise MatcherError(
            "nothing to sweep: give --draws N or --exact (uncertain pledges) and/or --vary PATH=VALUES (a grid)"
        )
    if (note or by) and not save:
        raise MatcherError("--note and --by are kept with a saved sweep; add --save")
    raw = read_scenario_data(file)
    if not isinstance(raw, dict):
        raise MatcherError(f"{file}: a scenario is a mapping with name, currency, donors and requests")
    spec = SweepSpec(
        draws=draws,
        exact=exact,
        seed=seed,
        vary=vary,
        sets=sets,
        threshold=safe_threshold,
        params=SolveParams(time_limit=time_limit, node_limit=node_limit, relative_gap=gap),
        fewest_grants=fewest_grants,
    )
    scenario, store = None, None
    if save:
        from matcher.store import db  # the store's modules only when saving (half a second of imports)

        scenario = load_scenario(file)
        plan(raw, spec)  # every input error first: bad input creates no database and writes nothing
        store = db.open_store(db_url)  # before the sweep: an unreachable database fails fast
    started = time.perf_counter()
    report = _progress_printer() if progress else None
    drop_native_stdout()  # before the workers start (they inherit it): a sweep's progress is its own lines
    with open_executor(executor, workers, scheduler) as ex:
        result = run_sweep(raw, spec, ex, executor, report)
    text = render_sweep(result, fmt, str(raw.get("currency", "")))
    run_id = None
    if store is not None:
        from matcher.store.runs import default_by
        from matcher.store.sweeps import save_sweep

        run_id = save_sweep(
            store,
            scenario=scenario,  # type: ignore[arg-type]
            spec=spec,
            result=result,
            by=by or default_by(),
            note=note,
        )
        store.dispose()
    write_output(text, output)
    if progress:
        _summary_line(result, time.perf_counter() - started)
    if run_id is not None:
        click.echo(f"saved run {run_id}: sweep of {result.scenario}, {result.solves} solves", err=True)
    _limit_note(result, node_limit)
    for tag in _tags_nobody_carries(raw, [*vary, *sets]):
        click.echo(
            f"note: no request carries the agenda tag '{tag}', so its weight changes nothing (check the spelling)",
            err=True,
        )
    uncertain = _uncertain_ids(raw, sets)
    if not spec.drawn() and uncertain:
        click.echo(
            f"note: confidence and budget_range ({', '.join(uncertain)}) count only with --draws or --exact; every "
            "point was solved with the pledges as written (add --draws N to draw them)",
            err=True,
        )
    elif spec.drawn() and not uncertain and not any("confidence" in v or "budget_range" in v for v in vary):
        click.echo(
            "note: no donor has confidence or budget_range, so every draw is the round as pledged; give them "
            "in the file or with --set (e.g. --set 'donors[JPN].confidence=0.7')",
            err=True,
        )
    if all(set(p.statuses) == {"infeasible"} for p in result.points):  # as `matcher solve` of such a round
        click.echo(
            "Note: the hard rules admit no allocation in any draw or point (exit 3); `matcher solve` of the round, "
            "with the same --set, says why",
            err=True,
        )
        sys.exit(EXIT_INFEASIBLE)


def _tags_nobody_carries(raw: dict, exprs: Sequence[str]) -> list[str]:
    """Agenda tags a --vary or --set weighs that no request of the file carries: a misspelt tag would
    otherwise give a grid of identical rows and no word why."""
    requests = raw.get("requests")
    if not isinstance(requests, list):
        return []
    carried = {str(t) for r in requests if isinstance(r, dict) for t in (r.get("agenda") or [])}
    named = [m.group(1) for e in exprs if (m := re.match(r"\s*policy\.agenda_weights\.([^=*+\s]+)", e))]
    return [t for t in dict.fromkeys(named) if t not in carried]


def _uncertain_ids(raw: dict, sets: Sequence[str]) -> list[str]:
    """The donors whose pledge is uncertain once the --set edits are made."""
    from matcher.paths import apply_assignment

    data = raw
    for expr in sets:
        data = apply_assignment(data, expr)
    donors = data.get("donors")
    if not isinstance(donors, list):
        return []
    return [
        str(d.get("id"))
        for d in donors
        if isinstance(d, dict) and (d.get("confidence") is not None or d.get("budget_range") is not None)
    ]


def _progress_printer():
    """A callback that prints ``sweep: done/total solves`` on stderr, at most once a second and at the end."""
    started = time.perf_counter()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            click.echo(f"sweep: {done}/{total} solves ({now - started:.1f} s)", err=True)

    return report


def _summary_line(result: SweepResult, seconds: float) -> None:
    """How the sweep ran: on stderr only, so the output itself is the same on every executor."""
    draws = f"{result.draws} draws, " if result.draws else ("exact, " if result.exact else "")
    click.echo(
        f"sweep: {len(result.points)} point{'' if len(result.points) == 1 else 's'}, {draws}{result.solves} distinct "
        f"solve{'' if result.solves == 1 else 's'} on {result.executor} "
        f"({result.workers} workers) in {seconds:.1f} s (solving {result.seconds:.1f} s); "
        f"{result.solve_seconds:.3f} s solver time per solve",
        err=True,
    )


def _limit_note(result: SweepResult, node_limit: int | None) -> None:
    """Say so when a solve stopped at a limit: then the output may differ from run to run."""
    stopped = sum(1 for s in result.solved if s.outcome.stopped)  # distinct solves, as the summary line counts
    lost = sum(p.statuses.get("unknown", 0) for p in result.points)
    failed = sum(p.statuses.get("error", 0) for p in result.points)
    if failed:
        click.echo(
            f"note: the solver failed on {failed} draw(s) (HiGHS raised an internal error twice); they count as "
            "funding no request; the rest of the sweep stands; please report it with the scenario",
            err=True,
        )
    if lost:
        click.echo(
            f"note: {lost} draw(s) found no allocation within the limits, and count as funding no request; "
            "raise --time-limit (or --node-limit) so that every draw is solved",
            err=True,
        )
    if stopped and node_limit is None:
        click.echo(
            f"note: {stopped} solve(s) stopped at the time limit before proving optimality; such results can vary "
            "between runs; give --node-limit for a replayable sweep",
            err=True,
        )
    elif stopped:
        click.echo(
            f"note: {stopped} solve(s) stopped at a limit before proving optimality; the sweep replays exactly when "
            f"the node limit ({node_limit}), not the time limit, stopped them",
            err=True,
        )

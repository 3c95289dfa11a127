"""``matcher validate``, ``matcher solve`` and ``matcher generate``."""

from __future__ import annotations

import dataclasses
import sys
import time

import click

from matcher.cli.common import (
    EXIT_ERROR,
    EXIT_INFEASIBLE,
    EXIT_NO_SOLUTION,
    cli,
    drop_native_stdout,
    handle_errors,
    keep_edits,
    write_output,
)
from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError, ScenarioError
from matcher.infeasible import infeasible_note
from matcher.options import load_option
from matcher.report.formats import FORMATS, render
from matcher.scenario_io import input_sha256, load_scenario


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@handle_errors
def validate(file: str) -> None:
    """Check a scenario file against format v1 without solving it; every problem is listed, the
    first on the Error line.

    \b
    Example:
      matcher validate scenarios/lac-unlirec-2027.yaml
    """
    try:
        s = load_scenario(file)
    except ScenarioError as exc:
        if len(exc.problems) < 2:
            raise
        click.echo(f"Error: {exc}", err=True)  # a checker lists them all: fix them in one go
        for problem in exc.problems[1:]:
            click.echo(f"  also {problem.located()}", err=True)
        sys.exit(EXIT_ERROR)
    counts = ", ".join(
        count_of(len(items), word)
        for items, word in (
            (s.donors, "donor"),
            (s.requests, "request"),
            (s.partners, "partner"),
            (s.commitments, "commitment"),
            (s.offers, "offer"),
        )
    )
    click.echo(f"{file}: valid scenario '{s.name}': {counts}; input sha256 {input_sha256(s)}")
    from matcher.domain import commitment_conflicts, unusual_rules
    from matcher.engine.solve import check_scale

    for conflict in commitment_conflicts(s):  # valid input, but no allocation can keep these
        click.echo(f"Note: infeasible as written: {conflict}", err=True)
    for note in unusual_rules(s):  # valid input, surely not what was meant
        click.echo(f"Note: {note}", err=True)
    try:
        check_scale(s)
    except MatcherError as exc:  # valid input the solver refuses: say so before anyone runs `solve`
        click.echo(f"Note: `matcher solve` refuses this round: {exc}", err=True)
    from matcher.sweep.draws import check_uncertainty

    try:
        check_uncertainty(s)
    except MatcherError as exc:  # solve ignores the uncertainty keys; sweep reads them
        click.echo(f"Note: `matcher sweep` refuses this round: {exc}", err=True)


def count_of(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def solve_options(fn):
    """The options every command that solves shares."""
    fn = click.option(
        "--time-limit",
        type=click.FloatRange(min=0.01),
        default=60.0,
        show_default=True,
        help="Seconds for the whole solve; stops with the best allocation and its gap.",
    )(fn)
    fn = click.option("--seed", type=int, default=0, show_default=True, help="Solver random seed.")(fn)
    fn = click.option(
        "--node-limit",
        type=click.IntRange(min=1),
        default=None,
        help="Work limit per stage (branch-and-bound nodes) for a round that would reach the time limit: "
        "then nothing depends on the clock, and the answer is the same on every run and machine.",
    )(fn)
    fn = click.option(
        "--progress/--quiet", default=False, help="Show the solver's progress (incumbent, bound, gap, time) on stderr."
    )(fn)
    return fn


SET_HELP = "Change a value: PATH=V, PATH*=F or PATH+=N (e.g. donors[DEU].budget*=0.8); repeatable."


def set_option(fn):
    """``--set PATH=V``: a what-if on the scenario before it is used (matcher/paths.py)."""
    return click.option("--set", "sets", multiple=True, metavar="PATH=V", help=SET_HELP)(fn)


def scale_checked(scenario, file: str) -> None:
    """The engine's refusal of amounts it cannot solve reliably, naming the file as every input error does."""
    from matcher.engine.solve import check_scale

    try:
        check_scale(scenario)
    except MatcherError as exc:
        raise MatcherError(f"{file}: {exc}") from None


def params_from(
    time_limit: float, seed: int, node_limit: int | None, progress: bool, method: str = "auto"
) -> SolveParams:
    """SolveParams from the shared options; progress lines go to stderr. Without progress, native
    solver output is dropped (common.drop_native_stdout)."""
    if not progress:
        drop_native_stdout()
    return SolveParams(
        time_limit=time_limit,
        seed=seed,
        node_limit=node_limit,
        method=method,
        on_log=(lambda line: click.echo(line, err=True)) if progress else None,
    )


def effort_options(fn):
    """``--polish`` and ``--gap``: how hard the engine works on a stage (solve and run)."""
    fn = click.option(
        "--gap",
        type=click.FloatRange(min=0, max=1),
        default=SolveParams.relative_gap,
        show_default=True,
        help="Relative gap at which a stage counts as proven (1e-4: within 0.01% of the best possible).",
    )(fn)
    fn = click.option(
        "--polish",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="Extra seconds of wall time searching for fewer grants (the last tie-break) after the class-by-class "
        "re-split; the grants may then differ from run to run (not under --node-limit).",
    )(fn)
    return fn


@cli.command("solve")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout."
)
@set_option
@solve_options
@click.option(
    "--method",
    type=click.Choice(["auto", "decomposed", "full", "cpsat"]),
    default="auto",
    show_default=True,
    help="full: the plain model with one binary per pair (a baseline for checks); cpsat: force CP-SAT (in-kind only).",
)
@effort_options
@handle_errors
def solve_cmd(
    file: str,
    fmt: str,
    output: str | None,
    sets: tuple[str, ...],
    time_limit: float,
    seed: int,
    node_limit: int | None,
    progress: bool,
    method: str,
    polish: float,
    gap: float,
) -> None:
    """Solve a scenario: the allocation that funds the most priority-weighted need.

    Exit code 0 when solved (optimal or feasible), 3 when the rules admit no allocation,
    4 when no allocation was found within the limits.

    \b
    Example:
      matcher solve scenarios/sahel-pssm-2027.yaml
      matcher solve scenarios/global-poa-2027.yaml --format json -o result.json --time-limit 30
      matcher solve round.yaml --gap 1e-4 --time-limit 30 --progress
      matcher solve scenarios/lac-unlirec-2027.yaml --set 'donors[DEU].budget*=0.8'
    """
    scenario = load_option(file, sets).scenario if sets else load_scenario(file)
    scale_checked(scenario, file)
    if sets:  # the output is the changed round's: say which change, and why its input hash is not the file's
        given = " ".join(f"--set '{x}'" for x in sets)
        click.echo(f"what-if: {file} with {given} (input sha256 {input_sha256(scenario)[:12]})", err=True)
    params = dataclasses.replace(
        params_from(time_limit, seed, node_limit, progress, method), polish_seconds=polish, relative_gap=gap
    )
    result = solve(scenario, params)  # native solver output goes to stderr: see main()
    write_output(render(result, scenario, fmt), output)
    if result.status == "infeasible":
        click.echo(infeasible_note(scenario), err=True)
        sys.exit(EXIT_INFEASIBLE)
    if result.status == "unknown":
        click.echo("No allocation found within the limits; raise --time-limit.", err=True)
        sys.exit(EXIT_NO_SOLUTION)


@cli.command()
@click.option("--requests", "n_requests", type=click.IntRange(min=1), required=True, help="Number of requests.")
@click.option("--donors", "n_donors", type=click.IntRange(min=1), required=True, help="Number of donor envelopes.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), required=True, help="Scenario file to write (.yaml or .json)."
)
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists with other content (it may hold edits).")
@handle_errors
def generate(n_requests: int, n_donors: int, seed: int, output: str, force: bool) -> None:
    """Generate a realistic, seeded round in scenario format v1 (for benchmarks and what-ifs).

    \b
    Example:
      matcher generate --requests 2000 --donors 60 --seed 1 -o round-m.yaml
    """
    from matcher.generate import dump_scenario_data, generate_round

    t0 = time.perf_counter()
    data = generate_round(n_requests, n_donors, seed)
    text = dump_scenario_data(data, output)
    keep_edits(text, output, force)
    write_output(text, output)
    click.echo(f"wrote {output}: {n_requests} requests, {n_donors} donors ({time.perf_counter() - t0:.1f} s)", err=True)

"""``matcher compare``, ``explain``, ``value``, ``graph`` and ``report``: options side by side and why.

Every input goes through :func:`matcher.options.load_option` (scenario and variant files) or, for a
saved run's number in compare and report, :func:`matcher.options.stored_option`. Every input is loaded
and validated before anything is solved or written.
"""

from __future__ import annotations

from pathlib import Path

import click

from matcher import jsonout
from matcher.cli.common import cli, handle_errors, write_output
from matcher.cli.solving import params_from, set_option, solve_options
from matcher.cli.store import database_errors, db_option
from matcher.errors import MatcherError
from matcher.infeasible import infeasible_note
from matcher.options import Option, load_option, stored_option, unique_labels


def _options(args: tuple[str, ...], sets: tuple[str, ...], db_url: str | None = None) -> list[Option]:
    """The inputs, plus one more when --set is given: the first input with every assignment applied.
    An input that is a number and no file is a saved run (``matcher runs``), read from the store."""
    runs = {a: _stored_run(int(a), db_url) for a in dict.fromkeys(args) if a.isdigit() and not Path(a).exists()}
    options = [stored_option(runs[a][0], warning=runs[a][1]) if a in runs else load_option(a) for a in args]
    if sets:
        options.append(stored_option(runs[args[0]][0], sets) if args[0] in runs else load_option(args[0], sets))
    currencies = {o.scenario.currency for o in options}
    if len(currencies) > 1:  # side by side, 2,000,000 EUR would read as USD
        each = ", ".join(f"{a}: {o.scenario.currency}" for a, o in zip(args, options, strict=False))
        raise MatcherError(
            f"the options are in different currencies ({each}); state them in one currency "
            "(the same `currency`, donors' own currencies converted with `fx`)"
        )
    return unique_labels(options)


def _format_option(choices: tuple[str, ...]):
    return click.option("--format", "fmt", type=click.Choice(choices), default="table", show_default=True)


def _output_option(fn):
    return click.option(
        "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout."
    )(fn)


@cli.command("compare")
@click.argument("inputs", nargs=-1, required=True, metavar="A B [C ...]")
@set_option
@_format_option(("table", "json", "csv"))
@_output_option
@solve_options
@db_option
@handle_errors
@database_errors
def compare_cmd(inputs, sets, fmt, output, time_limit, seed, node_limit, progress, db_url) -> None:
    """Solve options and put their measures side by side.

    Each input is a scenario file, a variant file or a saved run's number (`matcher runs`: its
    allocation as saved, not solved again). With --set, one more option is added: the first input
    with every --set applied (so one file and --set compare before and after).

    \b
    Example:
      matcher compare examples/west-africa.yaml examples/deu-cut.yaml examples/diversion-first.yaml
      matcher compare examples/west-africa.yaml --set 'donors[DEU].budget*=0.8' --format csv
      matcher compare 3 4 --db matcher.db
    """
    from matcher.compare import compare, render

    options = _options(inputs, sets, db_url)
    if len(options) < 2:
        raise MatcherError("compare needs two options or more: give two files or saved runs, or one and --set PATH=V")
    params = params_from(time_limit, seed, node_limit, progress)
    solved = [o.solved(params) for o in options]
    write_output(render(compare(solved), fmt), output)
    _no_allocation_notes(solved)
    _weights_note(solved)


def _stored_run(run_id: int, db_url: str | None):
    """A saved solve from the store and, when it was changed after it was saved, the warning (also on stderr)."""
    from matcher.store import audit, db
    from matcher.store.runs import load_run
    from matcher.store.sweeps import SWEEP, run_kind

    engine = db.open_store(db_url, create=False, reading=True)
    try:
        if run_kind(engine, run_id=run_id) == SWEEP:
            raise MatcherError(
                f"run {run_id} is a sweep: `matcher show {run_id}` prints it; compare and report take solves"
            )
        changed = audit.check_run(engine, run_id)
        warning = None
        if changed is not None:
            warning = f"run {run_id} was changed after it was saved ({changed}); what it shows is not what was saved"
            click.echo(f"Warning: {warning}; `matcher audit verify` checks the whole store", err=True)
        return load_run(engine, run_id=run_id), warning
    finally:
        engine.dispose()


def _weights_note(solved) -> None:
    from matcher.compare import weights_note

    note = weights_note(solved)
    if note:
        click.echo(f"Note: {note}", err=True)


def _no_allocation_notes(solved) -> None:
    """Why an option has no figures: its infeasible note, or the limits."""
    for o in solved:
        if o.result.status == "infeasible":
            click.echo(f"Note: option {o.label} is infeasible. {infeasible_note(o.scenario)}", err=True)
        elif o.result.status == "unknown":
            click.echo(f"Note: option {o.label}: no allocation found within the limits; raise --time-limit.", err=True)


@cli.command("explain")
@click.argument("file", metavar="FILE")
@click.argument("request", metavar="REQUEST")
@set_option
@_format_option(("table", "json"))
@_output_option
@click.option("--no-what-if", is_flag=True, help="Skip the re-solves (extra budget, forcing it in).")
@click.option(
    "--what-if-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Wall-clock budget for all what-if re-solves; when it runs out, the extra budgets are verified ranges.",
)
@solve_options
@handle_errors
def explain_cmd(
    file, request, sets, fmt, output, no_what_if, what_if_seconds, time_limit, seed, node_limit, progress
) -> None:
    """Why a request got what it got, and what would change it.

    Names the rule that binds, the eligible donors and where their money went; for a request not
    fully funded, the smallest extra budget from each eligible donor that funds it (verified by
    re-solving with it and with one unit less) and what forcing it in would displace. The base
    allocation is solved once (--time-limit); the what-if re-solves skip the grants stage, stop at
    --node-limit nodes per stage (200 when not given) and share --what-if-seconds: when that runs
    out, an extra budget is given as a verified range.

    \b
    Example:
      matcher explain examples/west-africa.yaml BFA-DDR-01
      matcher explain examples/west-africa.yaml BFA-DDR-01 --format json
      matcher explain scenarios/global-poa-2027.yaml CMR-DDR-01 --time-limit 10 --what-if-seconds 20
    """
    from matcher.explain import explain, to_text

    option = load_option(file, sets)
    params = params_from(time_limit, seed, node_limit, progress)
    doc = explain(
        option.scenario, request, params, result=option.result, what_if=not no_what_if, what_if_seconds=what_if_seconds
    )
    write_output(jsonout.dumps(doc) if fmt == "json" else to_text(doc), output)


@cli.command("value")
@click.argument("file", metavar="FILE")
@click.option(
    "--step",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Extra money per donor, in scenario currency.",
)
@set_option
@_format_option(("table", "json"))
@_output_option
@solve_options
@handle_errors
def value_cmd(file, step, sets, fmt, output, time_limit, seed, node_limit, progress) -> None:
    """The coverage one more step of each resource or limit would buy, by re-solving.

    Steps: --step more money per donor, one unit of in-kind capacity, one partner project, one
    percentage point on the country cap, one point off each region floor.

    \b
    Example:
      matcher value examples/west-africa.yaml
      matcher value examples/west-africa.yaml --step 50000 --format json
    """
    from matcher.value import marginal_values

    option = load_option(file, sets)
    params = params_from(time_limit, seed, node_limit, progress)
    doc = marginal_values(option.scenario, params, step, base=option.result)
    write_output(jsonout.dumps(doc) if fmt == "json" else _value_text(doc), output)


def _value_text(doc: dict) -> str:
    own = doc.get("allocation_coverage")
    shown = (
        f"; the allocation's own {own:,.4f}: a later stage may give up a millionth of it"
        if own is not None and abs(own - doc["coverage"]) >= 5e-5
        else ""
    )
    lines = [
        f"{doc['scenario']}: priority-weighted coverage {doc['coverage']:,.4f} ({doc['status']}{shown})",
        f"{'lever':<18} {'target':<22} {'step':<24} {'coverage':>12} {'gain':>10}",
    ]
    for e in doc["levers"]:
        if e["gain"] is not None:
            gain = f"{e['gain']:,.4f}"
        elif e["gain_high"] is not None:
            gain = f"{e['gain_low']:,.3f}..{e['gain_high']:,.3f}"
        else:
            gain = e["status"]
        cov = f"{e['coverage']:,.4f}" if e["coverage"] is not None else "-"
        lines.append(f"{e['kind']:<18} {e['target']:<22} {e['step']:<24} {cov:>12} {gain:>10}")
    return "\n".join(lines) + "\n"


@cli.command("graph")
@click.argument("file", metavar="FILE")
@set_option
@_format_option(("table", "json"))
@_output_option
@handle_errors
def graph_cmd(file, sets, fmt, output) -> None:
    """Who may fund whom, before solving: components, orphans, idle donors, money that can reach demand.

    \b
    Example:
      matcher graph examples/west-africa.yaml
    """
    from matcher.graph import analyse, to_text

    doc = analyse(load_option(file, sets).scenario)
    write_output(jsonout.dumps(doc) if fmt == "json" else to_text(doc), output)


@cli.command("report")
@click.argument("inputs", nargs=-1, required=True, metavar="FILE|RUN [...]")
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="HTML file to write.")
@click.option("--title", default=None, help="Heading of the report.")
@set_option
@solve_options
@db_option
@handle_errors
@database_errors
def report_cmd(inputs, output, title, sets, time_limit, seed, node_limit, progress, db_url) -> None:
    """One self-contained HTML report (works offline) to send to a donor.

    A Sankey of money from donors to regions to themes, coverage by region and theme, the requests
    not fully funded and why; with several inputs (or --set), the comparison table first. An input
    that is a number is a saved run (`matcher runs`), reported as it was saved.

    \b
    Example:
      matcher report examples/west-africa.yaml -o report.html
      matcher report examples/west-africa.yaml examples/deu-cut.yaml -o options.html
      matcher report 3 --db matcher.db -o run-3.html
    """
    from matcher.report.html import render_html

    options = _options(inputs, sets, db_url)
    params = params_from(time_limit, seed, node_limit, progress)
    solved = [o.solved(params) for o in options]
    write_output(render_html(solved, title), output)
    _no_allocation_notes(solved)
    click.echo(f"wrote {output}: {len(solved)} option{'s' if len(solved) != 1 else ''}", err=True)

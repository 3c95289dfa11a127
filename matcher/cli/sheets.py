"""``matcher template``, ``matcher import`` and ``matcher export``: spreadsheets, CSV folders and IATI."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import click
import yaml

from matcher import jsonout
from matcher.cli.common import _umask, cli, handle_errors, keep_edits, write_output
from matcher.cli.solving import params_from, solve_options
from matcher.domain import Scenario
from matcher.errors import MatcherError
from matcher.reference import THEMES
from matcher.result import Result
from matcher.scenario_io import input_sha256, parse_scenario, read_data
from matcher.validate import solution_problems

XLSX_SUFFIXES = (".xlsx", ".xlsm")

PLACEHOLDER_ORG_REF = "XM-SALW-COORDINATION"  # not a registered IATI organisation: export warns


@dataclass(frozen=True)
class ExportSource:
    """What an export writes: the scenario, its result when there is one, and the stored run's id."""

    scenario: Scenario
    result: Result | None = None
    run_id: str | None = None


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists (it may be a filled-in workbook).")
@handle_errors
def template(file: str, force: bool) -> None:
    """Write an empty scenario workbook to fill in: a sheet per part, notes on every column, drop-downs.

    \b
    Example:
      matcher template round-2027.xlsx
      (fill it in, then)  matcher import round-2027.xlsx -o round-2027.yaml
    """
    from matcher.sheets import template_xlsx

    _need_suffix(file, XLSX_SUFFIXES, "the template")
    if Path(file).exists() and not force:
        raise MatcherError(
            f"{file}: exists, perhaps filled in already; choose another name, or add --force to"
            " replace it with an empty template"
        )
    write_bytes(template_xlsx(), file)
    click.echo(f"wrote {file}: sheets scenario, donors, requests, partners, commitments, offers, policy", err=True)


@cli.command("import")
@click.argument("source", type=click.Path())
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), required=True, help="Scenario file to write (.yaml or .json)."
)
@click.option("--name", default=None, help="IATI only: scenario name (default: the file name).")
@click.option("--currency", default=None, help="IATI only: keep amounts in this currency (default: the file's).")
@click.option(
    "--default-theme",
    type=click.Choice(THEMES),
    default=None,
    help="IATI only: theme of activities without a theme sector (vocabulary 99).",
)
@click.option(
    "--from",
    "source_format",
    type=click.Choice(["auto", "gap"]),
    default="auto",
    show_default=True,
    help="gap: an OR-Library generalized assignment file, read as in-kind offers.",
)
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists with other content (it may hold edits).")
@handle_errors
def import_cmd(
    source: str,
    output: str,
    name: str | None,
    currency: str | None,
    default_theme: str | None,
    source_format: str,
    force: bool,
) -> None:
    """Read a scenario from a workbook, a folder of CSV files or IATI activities, and write it as YAML.

    Every problem in the file is listed with its sheet, row and column; nothing is written then.

    \b
    Example:
      matcher import round-2027.xlsx -o round-2027.yaml
      matcher import round-2027-csv/ -o round-2027.yaml
      matcher import activities.xml -o salw-activities.yaml --default-theme stockpile
      matcher import data/gap/cattrysse1994/gap1-0 --from gap -o gap1-0.yaml
    """
    _need_suffix(output, (".yaml", ".yml", ".json"), "the scenario")
    p = Path(source)
    if source_format == "gap":
        from matcher.gap import read_gap

        scenario = parse_scenario(read_gap(p), source=source)
    elif p.suffix.lower() == ".xml":
        from matcher.iati import read_activities

        found = read_activities(p, name=name, currency=currency, default_theme=default_theme)
        scenario = found.scenario
        for line in found.skipped:
            click.echo(f"skipped {line}", err=True)
    else:
        scenario = read_scenario(source)
    text = dump_scenario(scenario, output)
    keep_edits(text, output, force)
    write_output(text, output)
    from matcher.cli.solving import count_of

    click.echo(
        f"wrote {output}: {count_of(len(scenario.donors), 'donor')}, "
        f"{count_of(len(scenario.requests), 'request')}, {count_of(len(scenario.commitments), 'commitment')}",
        err=True,
    )


@cli.command("export")
@click.argument("source", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "iati"]), required=True)
@click.option(
    "--output", "-o", type=click.Path(), required=True, help="File to write (.xlsx, .xml), or a folder for csv."
)
@click.option("--solve", "do_solve", is_flag=True, help="Solve the scenario and export its result too.")
@click.option(
    "--result",
    "result_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A result of this scenario from `matcher solve --format json`, to export with it.",
)
@click.option(
    "--org-ref",
    default=PLACEHOLDER_ORG_REF,
    show_default=True,
    help="IATI: identifier of the reporting organisation (use your registered one).",
)
@click.option(
    "--org-name",
    default="SALW assistance coordination",
    show_default=True,
    help="IATI: name of the reporting organisation.",
)
@click.option(
    "--value-date",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="IATI: date of the commitments and their values (default: the scenario's fx_date, else today).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing workbook or IATI file; csv: write into a folder that holds an earlier "
    "export, replacing its CSV files.",
)
@solve_options
@handle_errors
def export_cmd(
    source: str,
    fmt: str,
    output: str,
    do_solve: bool,
    result_file: str | None,
    org_ref: str,
    org_name: str,
    value_date: datetime | None,
    force: bool,
    time_limit: float,
    seed: int,
    node_limit: int | None,
    progress: bool,
) -> None:
    """Export a scenario, and with --solve or --result its allocations, outcomes and donor totals.

    xlsx and csv hold one sheet (file) per part, ready to filter; text that a spreadsheet would run
    as a formula is written so that it is shown, not run. iati writes the allocations as IATI 2.03
    activities (sector 15240, SDG target 16.4, commitment transactions).

    \b
    Example:
      matcher export round-2027.yaml --format xlsx -o round-2027.xlsx
      matcher export round-2027.yaml --solve --format xlsx -o result-2027.xlsx
      matcher export round-2027.yaml --solve --format csv -o result-2027/
      matcher solve round-2027.yaml --format json -o result.json
      matcher export round-2027.yaml --result result.json --format iati -o activities.xml --org-ref XM-DAC-41114
    """
    if do_solve and result_file:
        raise click.UsageError("give --solve or --result, not both")
    if fmt == "xlsx":
        _need_suffix(output, XLSX_SUFFIXES, "the export")
    if fmt == "iati":
        _need_suffix(output, (".xml",), "the IATI export")
    if fmt in ("xlsx", "iati") and Path(output).exists() and not force:  # as template does: it may hold edits
        raise MatcherError(f"{output}: exists, perhaps edited since; choose another name, or add --force to replace it")
    if fmt == "csv" and Path(output).is_dir() and _export_files_in(Path(output)) and not force:
        raise MatcherError(
            f"{output}: the folder already holds an export's CSV files (perhaps of another "
            "scenario); choose a new folder, or add --force to replace them"
        )
    src = load_export_source(source, result_file)
    if do_solve:
        from matcher.engine import solve

        src = ExportSource(src.scenario, solve(src.scenario, params_from(time_limit, seed, node_limit, progress)))
    _export(src, fmt, output, org_ref, org_name, value_date)
    status = f" with its result ({src.result.status})" if src.result is not None else ""
    click.echo(f"wrote {output}: scenario '{src.scenario.name}'{status}", err=True)
    if fmt == "iati" and org_ref == PLACEHOLDER_ORG_REF:
        click.echo(
            f"Warning: the activities carry the placeholder organisation {PLACEHOLDER_ORG_REF}; give your "
            "registered IATI identifier with --org-ref before publishing them",
            err=True,
        )


def _export(src: ExportSource, fmt: str, output: str, org_ref: str, org_name: str, value_date: datetime | None) -> None:
    if fmt == "xlsx":
        from matcher.sheets import export_xlsx

        write_bytes(export_xlsx(src.scenario, src.result, src.run_id), output)
    elif fmt == "csv":
        from matcher.sheets import export_csv

        write_folder(export_csv(src.scenario, src.result, src.run_id), output)
    else:
        from matcher.iati import ReportingOrg, activities_xml

        if src.result is None:
            raise MatcherError("IATI export publishes allocations: add --solve, or --result RESULT.json")
        when = value_date.date() if value_date else (src.scenario.fx_date or date.today())
        now = datetime.now(UTC)
        write_bytes(activities_xml(src.scenario, src.result, ReportingOrg(org_ref, org_name), when, now), output)


def load_export_source(source: str, result_file: str | None) -> ExportSource:
    """The scenario (and result) to export. The store resolves stored RUN ids here."""
    scenario = read_scenario(source)
    if result_file is None:
        return ExportSource(scenario)
    data = read_data(result_file)
    if isinstance(data, dict) and isinstance(data.get("solver"), dict):
        # Result.to_json_data leaves out None values, which SolverInfo requires back (reported to the lead)
        for key in ("time_limit", "node_limit"):
            data["solver"].setdefault(key, None)
    try:
        result = Result.model_validate(data)
    except Exception:  # noqa: BLE001 - any shape error means the same thing to the user
        raise MatcherError(
            f"{result_file}: not a result; write one with `matcher solve FILE --format json -o {result_file}`"
        ) from None
    if result.solver.input_sha256 != input_sha256(scenario):
        raise MatcherError(
            f"{result_file}: is the result of another scenario (input hash differs from {source});"
            " solve this scenario again"
        )
    problems = solution_problems(scenario, result) if result.has_solution() else []
    if problems:  # edited after the solve: never export grants that break the rules
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise MatcherError(
            f"{result_file}: breaks the rules of {source}: {problems[0]}{more}; it was changed after "
            "the solve: solve again"
        )
    return ExportSource(scenario, result)


def read_scenario(source: str) -> Scenario:
    """A scenario from a YAML/JSON file, an .xlsx workbook or a folder of CSV files."""
    p = Path(source)
    if p.is_dir():
        from matcher.sheets import read_csv_dir

        return read_csv_dir(p)
    if p.suffix.lower() in XLSX_SUFFIXES:
        from matcher.sheets import read_workbook

        return read_workbook(p)
    if p.suffix.lower() == ".csv":
        raise MatcherError(f"{source}: give the folder that holds the CSV files (scenario.csv, donors.csv, ...)")
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
        from matcher.variants import resolve_file

        return parse_scenario(resolve_file(p), source=source)  # a variant file exports as the scenario it makes
    raise MatcherError(f"{source}: not a scenario (.yaml, .json, .xlsx, a CSV folder or IATI .xml)")


def dump_scenario(scenario: Scenario, path: str) -> str:
    """The scenario as YAML (or JSON for .json), leaving out what is the default."""

    data = {"format": 1, **scenario.model_dump(mode="json", exclude_defaults=True)}
    if path.lower().endswith(".json"):
        return jsonout.dumps(data, indent=1)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def _need_suffix(path: str, suffixes: tuple[str, ...], what: str) -> None:
    if not path.lower().endswith(suffixes):
        raise MatcherError(f"{path}: name {what} with {' or '.join(suffixes)}")


def write_bytes(data: bytes, output: str) -> None:
    """Write bytes atomically: a reader never sees half a file."""
    target = Path(output)
    if not target.parent.exists():
        raise MatcherError(f"{output}: folder {target.parent} does not exist; create it or choose another path")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a workbook is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _export_files_in(folder: Path) -> list[Path]:
    """The CSV files in the folder that an export writes (the scenario's sheets, a result's tables);
    other files, the user's own, are never counted, replaced or removed."""
    from matcher.sheets.columns import SHEET_ORDER
    from matcher.sheets.results import RESULT_TABLES

    names = {f"{n}.csv" for n in (*SHEET_ORDER, *RESULT_TABLES)}
    return sorted(p for p in folder.iterdir() if p.name in names)


def write_folder(files: dict[str, str], output: str) -> None:
    """Write every file to a new folder first, then move it (or its files) into place."""
    target = Path(output)
    if target.exists() and not target.is_dir():
        raise MatcherError(f"{output}: is a file; CSV export writes a folder")
    if not target.parent.exists():
        raise MatcherError(f"{output}: folder {target.parent} does not exist; create it or choose another path")
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; the folder is meant to be shared
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8", newline="")
        if not target.exists():
            os.replace(staging, target)
            return
        for name in files:
            os.replace(staging / name, target / name)
        for stale in _export_files_in(target):  # --force: an earlier export's result files would mislead
            if stale.name not in files:
                stale.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)

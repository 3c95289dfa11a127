"""A solved scenario's result as sheet tables: allocations, request outcomes, donor totals and the run.

The ``run`` table carries what identifies the result (status, objective, solver, input hash); a stored
run's id goes there too once results come from the store (``run_id``).
"""

from __future__ import annotations

from typing import Any

from matcher.domain import Scenario
from matcher.reference import countries
from matcher.result import Result
from matcher.sheets.columns import FLOAT, INT, TEXT, Column
from matcher.sheets.tables import Table

RESULT_TABLES = ("run", "allocations", "outcomes", "donor_totals")  # the names result_tables gives its tables


def result_tables(result: Result, scenario: Scenario, run_id: str | None = None) -> list[Table]:
    """The result's sheets, each one row per item so a person can filter and sort them."""
    return [_run(result, run_id), _allocations(result, scenario), _outcomes(result, scenario), _donor_totals(result)]


def _col(name: str, kind: str, help_text: str) -> Column:
    return Column(name, kind, help_text)


def _run(result: Result, run_id: str | None) -> Table:
    s = result.solver
    rows: list[list[Any]] = [
        ["run_id", run_id],
        ["scenario", result.scenario],
        ["status", result.status],
        ["currency", result.currency],
    ]
    rows += [[f"objective.{k}", v] for k, v in result.objective.items()]
    rows += [[f"bound.{k}", v] for k, v in result.bound.items()]
    rows += [
        ["engine", s.engine],
        ["ortools", s.ortools],
        ["matcher", s.matcher],
        ["seed", s.seed],
        ["time_limit", s.time_limit],
        ["node_limit", s.node_limit],
        ["seconds", round(s.seconds, 3)],
        ["gap", s.gap],
        ["input_sha256", s.input_sha256],
    ]
    columns = [_col("item", TEXT, "What the row reports."), _col("value", TEXT, "Its value.")]
    return Table("run", columns, rows)


def _allocations(result: Result, scenario: Scenario) -> Table:
    donors = {d.id: d for d in scenario.donors}
    requests = {r.id: r for r in scenario.requests}
    rows = []
    for a in result.allocations:
        r = requests[a.request]
        rows.append(
            [
                a.donor,
                donors[a.donor].name,
                a.request,
                r.country,
                r.m49_region,
                r.theme,
                a.kind,
                a.amount,
                a.units,
                a.committed,
                result.currency,
            ]
        )
    columns = [
        _col("donor", TEXT, "Donor id."),
        _col("donor_name", TEXT, "Donor name."),
        _col("request", TEXT, "Request id."),
        _col("country", TEXT, "ISO alpha-3 of the request."),
        _col("region", TEXT, "M49 region of the request."),
        _col("theme", TEXT, "Theme of the request."),
        _col("kind", TEXT, "funds or in_kind."),
        _col("amount", INT, f"Grant or delivery value, {result.currency}."),
        _col("units", INT, "In-kind units delivered."),
        _col("committed", INT, f"Part of the amount committed before the solve, {result.currency}."),
        _col("currency", TEXT, "Currency of amount and committed: the scenario's (a donor's own is converted)."),
    ]
    return Table("allocations", columns, rows)


def _outcomes(result: Result, scenario: Scenario) -> Table:
    requests = {r.id: r for r in scenario.requests}
    funders: dict[str, list[str]] = {}
    for a in result.allocations:
        funders.setdefault(a.request, []).append(a.donor)
    rows = []
    for o in result.requests:
        r = requests[o.id]
        rows.append(
            [
                o.id,
                r.country,
                countries()[r.country].name,
                r.m49_region,
                r.theme,
                r.priority,
                o.amount,
                o.funded,
                round(o.funded / o.amount, 4) if o.amount else None,
                o.status,
                ", ".join(funders.get(o.id, [])) or None,
                ", ".join(o.reason_codes) or None,
                " | ".join(o.reasons) or None,
            ]
        )
    columns = [
        _col("request", TEXT, "Request id."),
        _col("country", TEXT, "ISO alpha-3."),
        _col("country_name", TEXT, "Country name."),
        _col("region", TEXT, "M49 region."),
        _col("theme", TEXT, "Theme."),
        _col("priority", INT, "Priority 1-5."),
        _col("amount", INT, f"Requested, {result.currency}."),
        _col("funded", INT, f"Funded, {result.currency}."),
        _col("share", FLOAT, "Funded / requested."),
        _col("status", TEXT, "funded, partial or unfunded."),
        _col("donors", TEXT, "Donors funding it."),
        _col("reason_codes", TEXT, "Why not fully funded (codes)."),
        _col("reasons", TEXT, "Why not fully funded."),
    ]
    return Table("outcomes", columns, rows)


def _donor_totals(result: Result) -> Table:
    rows = []
    for d in result.donors:
        remaining = d.budget - d.allocated if d.budget is not None else None
        rows.append(
            [
                d.id,
                d.kind,
                d.budget,
                d.allocated,
                remaining,
                d.capacity,
                d.used,
                d.unit,
                result.currency if d.kind == "funds" else None,
            ]
        )
    columns = [
        _col("donor", TEXT, "Donor id."),
        _col("kind", TEXT, "funds or in_kind."),
        _col("budget", INT, f"Envelope in {result.currency}."),
        _col("allocated", INT, f"Allocated, {result.currency}."),
        _col("remaining", INT, f"Budget left, {result.currency}."),
        _col("capacity", INT, "In-kind units available."),
        _col("used", INT, "In-kind units used."),
        _col("unit", TEXT, "In-kind unit."),
        _col(
            "currency",
            TEXT,
            "Currency of budget, allocated and remaining: the scenario's (a donor's own "
            "budget converted, so it may differ from the donors sheet).",
        ),
    ]
    return Table("donor_totals", columns, rows)

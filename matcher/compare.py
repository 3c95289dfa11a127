"""Options side by side: the measures a regional centre weighs, and the requests whose outcome changes.

Coverage of a group (a region, a theme, a priority level, a country) is money funded over money
requested in that group. The priority-weighted coverage is the engine's ``coverage`` term, also
given as a share of its maximum (every request fully funded). Fairness is across countries: the
lowest country coverage, and the Gini coefficient of country coverage (0 = every country equally
covered, towards 1 = coverage concentrated in few countries).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

from matcher import jsonout
from matcher.domain import Scenario
from matcher.options import Option
from matcher.result import Result

FORMATS = ("table", "json", "csv")
GROUPS = ("region", "theme", "priority")


NO_ALLOCATION = ("infeasible", "unknown")  # statuses without an allocation to measure


def measures(scenario: Scenario, result: Result) -> dict[str, Any]:
    """Every measure of one solved option, as plain JSON-able data. An option without an allocation
    (infeasible, or none found in time) has its status and no figures: none (null, '-'), not zeros
    that would read as an allocation that funds nothing."""
    if result.status in NO_ALLOCATION:
        figures = measures(scenario, result.model_copy(update={"status": "feasible"}))
        return {k: ({} if isinstance(v, dict) else None) for k, v in figures.items()} | {"status": result.status}
    funded = {o.id: o.funded for o in result.requests}
    status = [o.status for o in result.requests]
    placed = sum(funded.values())
    asked = sum(r.amount for r in scenario.requests)
    weighted = math.fsum(scenario.weight(r) * funded[r.id] / r.amount for r in scenario.requests)
    max_weighted = math.fsum(scenario.weight(r) for r in scenario.requests)
    grants = len(result.allocations)
    money_donors = [d for d in result.donors if d.kind == "funds"]
    budget = sum(d.budget or 0 for d in money_donors)
    used = sum(d.allocated for d in money_donors)
    countries = group_coverage(scenario, funded, lambda r: r.country)
    low = min(countries.items(), key=lambda kv: (kv[1], kv[0])) if countries else ("", 0.0)
    return {
        "status": result.status,
        "coverage": weighted,
        "coverage_share": _share(weighted, max_weighted),
        "money_placed": placed,
        "money_asked": asked,
        "funded": status.count("funded"),
        "partial": status.count("partial"),
        "unfunded": status.count("unfunded"),
        "grants": grants,
        "average_grant": round(sum(a.amount for a in result.allocations) / grants) if grants else 0,
        "budget": budget,
        "budget_used": used,
        "budget_used_share": _share(used, budget) if budget else None,
        # a donor with no budget (a lost pledge, a what-if at 0) used no share of anything: none, '-'
        "donor_budget_used": {d.id: _share(d.allocated, d.budget) if d.budget else None for d in money_donors},
        "coverage_by_region": group_coverage(scenario, funded, lambda r: r.m49_region),
        "coverage_by_theme": group_coverage(scenario, funded, lambda r: r.theme),
        "coverage_by_priority": group_coverage(scenario, funded, lambda r: str(r.priority)),
        "lowest_country": low[0],
        "lowest_country_coverage": low[1],
        "gini_country_coverage": gini(list(countries.values())),
    }


def group_coverage(scenario: Scenario, funded: dict[str, int], key) -> dict[str, float]:
    """Money funded / money requested per group, groups in sorted order."""
    asked: dict[str, int] = defaultdict(int)
    got: dict[str, int] = defaultdict(int)
    for r in scenario.requests:
        asked[key(r)] += r.amount
        got[key(r)] += funded.get(r.id, 0)
    return {g: _share(got[g], asked[g]) for g in sorted(asked)}


def gini(values: list[float]) -> float:
    """Gini coefficient: mean absolute difference over twice the mean; 0 for no or all-zero values."""
    n = len(values)
    mean = math.fsum(values) / n if n else 0.0
    if mean == 0:
        return 0.0
    diffs = math.fsum(abs(a - b) for a in values for b in values)
    return diffs / (2 * n * n * mean)


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def changes(options: list[Option]) -> list[dict[str, Any]]:
    """Requests whose funded amount differs between options (or that some options do not have)."""
    outcomes: dict[str, dict[str, dict | None]] = {}
    for o in options:
        assert o.result is not None, "solve options before comparing them"
        for out in o.result.requests:
            if o.result.status in NO_ALLOCATION:
                outcomes.setdefault(out.id, {})[o.label] = {"funded": None, "status": "no allocation"}
            else:
                outcomes.setdefault(out.id, {})[o.label] = {"funded": out.funded, "status": out.status}
    rows = []
    for rid, per in outcomes.items():
        cells = {o.label: per.get(o.label) for o in options}
        # between options with an allocation (one without has nothing to compare a request's funding with)
        amounts = {
            None if c is None else c["funded"] for c in cells.values() if c is None or c["status"] != "no allocation"
        }
        if len(amounts) > 1:
            rows.append({"request": rid, "outcomes": cells})
    return rows


def weights_note(options: list[Option]) -> str | None:
    """Coverage is measured with each option's own weights: the sentence to show when they differ."""

    def weights(o: Option):
        p = o.scenario.policy
        return (sorted(p.priority_weights.items()), sorted(p.agenda_weights.items()))

    first = weights(options[0])
    other = [o.label for o in options[1:] if weights(o) != first]
    if not other:
        return None
    verb, its = ("weighs", "its") if len(other) == 1 else ("weigh", "their")
    return (
        f"{', '.join(other)} {verb} priorities or agendas differently from {options[0].label}, so {its} "
        "priority-weighted coverage is on another scale; compare money placed, requests funded and the share "
        "of the maximum instead."
    )


def compare(options: list[Option]) -> dict[str, Any]:
    """The comparison document: option labels, measures per option, changed requests."""
    for o in options:
        assert o.result is not None, "solve options before comparing them"
    doc = {
        "options": [o.label for o in options],
        "currency": options[0].scenario.currency,
        "measures": {o.label: measures(o.scenario, o.result) for o in options},  # type: ignore[arg-type]
        "changes": changes(options),
    }
    warnings = {o.label: o.warning for o in options if o.warning}
    return {**doc, "warnings": warnings} if warnings else doc


# --- rendering -------------------------------------------------------------------------------------

SCALARS = (
    ("status", "status"),
    ("coverage", "priority-weighted coverage"),
    ("coverage_share", "  share of the maximum"),
    ("money_placed", "money placed"),
    ("funded", "requests funded"),
    ("partial", "requests partial"),
    ("unfunded", "requests unfunded"),
    ("grants", "grants"),
    ("average_grant", "average grant"),
    ("budget_used", "donor budget used"),
    ("budget_used_share", "  share of budgets"),
    ("lowest_country_coverage", "lowest country coverage"),
    ("lowest_country", "  that country"),
    ("gini_country_coverage", "Gini of country coverage"),
)
SHARES = {"coverage_share", "budget_used_share", "lowest_country_coverage"}


def rows(doc: dict[str, Any]) -> list[tuple[str, str, list[Any]]]:
    """(section, key, one value per option) for every measure: the table and CSV share it."""
    labels = doc["options"]
    m = doc["measures"]
    out = [("measure", key, [m[lb][key] for lb in labels]) for key, _title in SCALARS]
    for section in ("coverage_by_region", "coverage_by_theme", "coverage_by_priority", "donor_budget_used"):
        keys = sorted({k for lb in labels for k in m[lb][section]})
        out += [(section, k, [m[lb][section].get(k) for lb in labels]) for k in keys]
    for ch in doc["changes"]:
        cells = [ch["outcomes"][lb] for lb in labels]
        out.append(("request", ch["request"], [None if c is None else _outcome_cell(c) for c in cells]))
    return out


def _outcome_cell(c: dict[str, Any]) -> str:
    return c["status"] if c["funded"] is None else f"{c['status']} {c['funded']:,}"


def render(doc: dict[str, Any], fmt: str) -> str:
    """The comparison as ``table``, ``json`` or ``csv`` text ending with a newline."""
    if fmt == "json":
        return jsonout.dumps(doc)
    if fmt == "csv":
        return to_csv(doc)
    return to_table(doc)


def to_csv(doc: dict[str, Any]) -> str:
    """One row per measure (section, key, a column per option); raw numbers for a spreadsheet."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "key", *doc["options"]])
    for section, key, values in rows(doc):
        w.writerow([section, key, *["" if v is None else v for v in values]])
    return buf.getvalue()


def to_table(doc: dict[str, Any]) -> str:
    """The side-by-side table a regional centre reads, then the requests whose outcome changes."""
    buf = io.StringIO()
    con = Console(file=buf, width=160, force_terminal=False, color_system=None, highlight=False)
    titles = dict(SCALARS)
    t = Table(title=f"Options compared ({doc['currency']})", title_justify="left")
    t.add_column("measure")
    for label in doc["options"]:
        t.add_column(label, justify="right", overflow="fold")
    section_titles = {
        "coverage_by_region": "coverage, region",
        "coverage_by_theme": "coverage, theme",
        "coverage_by_priority": "coverage, priority",
        "donor_budget_used": "budget used, donor",
    }
    changed = []
    for section, key, values in rows(doc):
        if section == "request":
            changed.append((key, values))
            continue
        name = titles[key] if section == "measure" else f"{section_titles[section]} {key}"
        share = section != "measure" or key in SHARES
        t.add_row(name, *[fmt_value(v, share) for v in values])
    con.print(t)
    if changed:
        c = Table(title=f"Requests whose outcome changes ({len(changed)})", title_justify="left")
        c.add_column("request")
        for label in doc["options"]:
            c.add_column(label, justify="right", overflow="fold")
        for key, values in changed:
            c.add_row(key, *[v if v is not None else "(absent)" for v in values])
        con.print(c)
    else:
        some = any(m["status"] in NO_ALLOCATION for m in doc["measures"].values())
        con.print("No request's outcome changes between the options" + (" that have an allocation." if some else "."))
    return buf.getvalue()


def fmt_value(v: Any, share: bool = False) -> str:
    """A cell: shares as percentages, money with thousands separators, None as '-'."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if share:
        return f"{v:.1%}"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.3f}"
    return f"{int(v):,}"

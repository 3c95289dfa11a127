"""A Result as JSON (the spec's shape), CSV (one row per request) and a coordinator's table."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict

from rich.console import Console
from rich.table import Table

from matcher import jsonout
from matcher.domain import Scenario
from matcher.result import Result

FORMATS = ("table", "json", "csv")


def render(result: Result, scenario: Scenario, fmt: str) -> str:
    """The result in one of FORMATS, as text ending with a newline."""
    if fmt == "json":
        return to_json(result)
    if fmt == "csv":
        return to_csv(result, scenario)
    return to_table(result, scenario)


def to_json(result: Result) -> str:
    """The spec's solution JSON, keys in a stable order."""
    return jsonout.dumps(result.to_json_data())


def to_csv(result: Result, scenario: Scenario) -> str:
    """One row per request: who funds it, how much (the scenario currency in its own column, so a sheet that
    sums several rounds sees it), its status and reasons; filterable in a sheet."""
    grants = defaultdict(list)
    for a in result.allocations:
        grants[a.request].append(f"{a.donor}:{a.amount}")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "request",
            "country",
            "region",
            "theme",
            "priority",
            "amount",
            "funded",
            "currency",
            "status",
            "donors",
            "reasons",
        ]
    )
    by_id = {r.id: r for r in scenario.requests}
    for o in result.requests:
        r = by_id[o.id]
        w.writerow(
            [
                o.id,
                r.country,
                r.m49_region,
                r.theme,
                r.priority,
                o.amount,
                o.funded,
                result.currency,
                o.status,
                ";".join(grants[o.id]),
                " | ".join(o.reasons),
            ]
        )
    return buf.getvalue()


def to_table(result: Result, scenario: Scenario) -> str:
    """What a coordinator reads: status, money per donor, requests by status with reasons, totals."""
    buf = io.StringIO()
    con = Console(file=buf, width=140, force_terminal=False, color_system=None, highlight=False)
    cur = result.currency
    con.print(_headline(result, scenario))
    if not result.has_solution():
        return buf.getvalue()
    con.print(_donor_table(result, cur))
    for status in ("funded", "partial", "unfunded"):
        rows = [o for o in result.requests if o.status == status]
        if rows:
            con.print(_request_table(result, scenario, status, rows, cur))
    con.print(_totals(result, cur))
    return buf.getvalue()


def _headline(result: Result, scenario: Scenario) -> str:
    title = scenario.title or scenario.name
    s = result.solver
    line = f"{title}\nstatus: {result.status}"
    if result.objective:
        obj = ", ".join(f"{k} {_num(v)}" for k, v in result.objective.items())
        line += f" | {obj}"
    if s.gap is not None and math.isfinite(s.gap):
        line += f" | gap {s.gap:.4%}" if len(s.stages) < 2 else f" | {s.stages[0].term} gap {s.gap:.4%}"
    line += f" | {s.seconds:.2f} s"
    open_stages = [st for st in s.stages if st.status != "optimal"]
    if result.status == "feasible" and open_stages:
        proven = [st.term for st in s.stages if st.status == "optimal"]
        shown = ", ".join(f"{st.term} {_num(round(st.value, 6))} (bound {_bound(st)})" for st in open_stages)
        done = f"; proven optimal: {', '.join(proven)}" if proven else ""
        line += f"\nnot proven: {shown}{_hint(open_stages, s.node_limit)}{done}"
    return line


def _bound(st) -> str:
    return _num(round(st.bound, 6)) if math.isfinite(st.bound) else "none yet"


def _hint(open_stages, node_limit: int | None) -> str:
    """What to give `solve` or `run` to try harder (under --node-limit, the nodes stop a search)."""
    if [st.term for st in open_stages] == ["grants"]:
        if node_limit is not None:
            return (
                ", the last tie-break: --polish 1 (any seconds) searches the full model for fewer grants within"
                " --node-limit; with --polish, raise --node-limit"
            )
        return ", the last tie-break: --polish S searches S seconds more for fewer grants"
    if node_limit is not None:
        return ": raise --node-limit (and --time-limit if it was reached) to try harder"
    return ": raise --time-limit to try harder"


def _donor_table(result: Result, cur: str) -> Table:
    t = Table(title="Donors", title_justify="left")
    for col in ("donor", f"budget ({cur})", "allocated", "used", "grants"):
        t.add_column(col, justify="left" if col == "donor" else "right")
    counts: dict[str, int] = defaultdict(int)
    for a in result.allocations:
        counts[a.donor] += 1
    for d in result.donors:
        if d.kind == "funds":
            used = f"{d.allocated / d.budget:.0%}" if d.budget else "-"
            t.add_row(d.id, _money(d.budget or 0), _money(d.allocated), used, str(counts[d.id]))
        else:
            used = f"{d.used}/{d.capacity} {d.unit or 'units'}"
            t.add_row(f"{d.id} (in kind)", "-", _money(d.allocated), used, str(counts[d.id]))
    return t


def _request_table(result: Result, scenario: Scenario, status: str, rows, cur: str) -> Table:
    by_id = {r.id: r for r in scenario.requests}
    grants = defaultdict(list)
    for a in result.allocations:
        grants[a.request].append(a.donor if a.kind == "funds" else f"{a.donor}*")
    t = Table(title=f"Requests {status} ({len(rows)})", title_justify="left")
    for col in ("request", "country", "theme", "prio", f"amount ({cur})", "funded", "donors"):
        t.add_column(col, justify="right" if col in ("prio", "funded") or col.startswith("amount") else "left")
    if status != "funded":
        t.add_column("why", overflow="fold", max_width=60)
    for o in rows:
        r = by_id[o.id]
        cells = [o.id, r.country, r.theme, str(r.priority), _money(o.amount), _money(o.funded), ", ".join(grants[o.id])]
        if status != "funded":
            cells.append("; ".join(o.reasons))
        t.add_row(*cells)
    return t


def _totals(result: Result, cur: str) -> str:
    asked = sum(o.amount for o in result.requests)
    placed = sum(o.funded for o in result.requests)
    budget = sum(d.budget or 0 for d in result.donors if d.kind == "funds")
    n = {s: sum(1 for o in result.requests if o.status == s) for s in ("funded", "partial", "unfunded")}
    share = placed / asked if asked else 0
    in_kind = sum(a.amount for a in result.allocations if a.kind == "in_kind")
    kind = f" ({_money(in_kind)} of it in kind)" if in_kind else ""  # else more placed than the budgets hold
    grants = sum(1 for a in result.allocations if a.kind == "funds")
    deliveries = len(result.allocations) - grants
    given = f"{grants} grants" + (f" and {deliveries} deliveries" if deliveries else "")
    return (
        f"Totals: {_money(placed)} {cur} placed{kind} of {_money(asked)} asked ({share:.0%}); "
        f"budgets {_money(budget)}; {n['funded']} funded, {n['partial']} partial, {n['unfunded']} unfunded; "
        f"{given}"
    )


def _money(v: int) -> str:
    return f"{v:,}"


def _num(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.4f}"

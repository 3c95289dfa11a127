"""A sweep as a coordinator's table, JSON, or CSV.

Nothing here depends on how the sweep ran (executor, workers, seconds): the same seed gives the
same bytes on a laptop and on a cluster.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from matcher import jsonout
from matcher.sweep.aggregate import PointSummary, Stats
from matcher.sweep.document import sweep_data
from matcher.sweep.run import SweepResult

GRID_COLUMNS = (
    "draws",
    "solved",
    "coverage_mean",
    "coverage_p5",
    "coverage_p50",
    "coverage_p95",
    "placed_mean",
    "placed_p5",
    "placed_p50",
    "placed_p95",
    "placed_share",
    "funded",
    "partial",
    "grants_mean",
    "safe",
)


def render_sweep(result: SweepResult, fmt: str, currency: str) -> str:
    """The sweep in ``table``, ``json`` or ``csv``, ending with a newline."""
    if fmt == "json":
        return jsonout.dumps(sweep_data(result))
    if result.paths:
        return grid_csv(result) if fmt == "csv" else grid_table(result, currency)
    return requests_csv(result.points[0]) if fmt == "csv" else draws_table(result, currency)


def grid_row(p: PointSummary) -> dict[str, Any]:
    """One grid point's compare measures (GRID_COLUMNS)."""
    cov, placed, grants = p.coverage, p.placed, p.grants
    return {
        "draws": p.draws,
        "solved": p.solved,
        "coverage_mean": _r(cov.mean) if cov else None,
        "coverage_p5": _r(cov.p5) if cov else None,
        "coverage_p50": _r(cov.p50) if cov else None,
        "coverage_p95": _r(cov.p95) if cov else None,
        "placed_mean": round(placed.mean) if placed else None,
        "placed_p5": round(placed.p5) if placed else None,
        "placed_p50": round(placed.p50) if placed else None,
        "placed_p95": round(placed.p95) if placed else None,
        "placed_share": _r(placed.mean / p.asked) if placed and p.asked else None,
        "funded": _r(sum(r.funded for r in p.requests)),  # expected number of fully funded requests
        "partial": _r(sum(r.partial for r in p.requests)),
        "grants_mean": _r(grants.mean) if grants else None,
        "safe": len(p.safe),
    }


def grid_csv(result: SweepResult) -> str:
    """One row per grid point: the varied values, then GRID_COLUMNS; ready for a sheet or a plot."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*result.paths, *GRID_COLUMNS])
    for p in result.points:
        row = grid_row(p)
        values = [_cell(p.values[k]) for k in result.paths]
        w.writerow([*values, *("" if row[c] is None else row[c] for c in GRID_COLUMNS)])
    return buf.getvalue()


def requests_csv(p: PointSummary) -> str:
    """One row per request: how often it is funded, and whether it is safe to promise."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["request", "amount", "funded_share", "partial_share", "mean_funded", "safe"])
    for r in p.requests:
        w.writerow([r.id, r.amount, _r(r.funded), _r(r.partial), r.mean_funded, "yes" if r.safe else "no"])
    return buf.getvalue()


def draws_table(result: SweepResult, cur: str) -> str:
    """Distributions, donors, requests and the safe-to-promise list of one scenario's draws."""
    p = result.points[0]
    con, buf = _console()
    con.print(_headline(result, p))
    con.print(_distribution(result, p, cur))
    con.print(_donors(p, cur))
    for k in p.in_kind:
        con.print(
            f"In kind: {k.id} ({k.capacity:,} {k.unit or 'units'}, confidence {k.confidence:g}) arrived in "
            f"{_share(k.arrived, 0)} of draws"
        )
    con.print(_requests(p, cur))
    share = f"{result.threshold * 100:.10g}%"  # exactly as given: 0.704 is 70.4%, not 70%
    listing = ", ".join(p.safe) if p.safe else "none"
    together = ""
    if p.safe_together is not None and len(p.safe) > 1:
        together = f"; all {len(p.safe)} fully funded together in {_share(p.safe_together, 1)} of draws"
    con.print(
        f"Safe to promise (fully funded in at least {share} of draws): {len(p.safe)} of {len(p.requests)}: "
        f"{listing}{together}"
    )
    return buf.getvalue()


def grid_table(result: SweepResult, cur: str) -> str:
    """One row per grid point."""
    con, buf = _console(140 + 24 * len(result.paths))  # room for the varied values; a file is not a terminal
    draws = f"{result.draws} draws each (seed {result.seed})" if result.draws else "pledges as pledged"
    if result.exact:
        draws = "each point's pledges in every combination, at its exact probability"
    con.print(f"Sweep of {result.scenario}: {_count(len(result.points), 'point')}, {draws}")
    t = Table(title="Grid", title_justify="left")
    for path in result.paths:
        t.add_column(path)
    cols = ["coverage", f"placed ({cur})", "of asked", "funded", "partial", _grants_label(result)]
    if result.drawn:
        cols = ["coverage p5..p95", f"placed p5..p95 ({cur})", *cols, "safe"]
    for c in cols:
        t.add_column(c, justify="right")
    for p in result.points:
        row = grid_row(p)
        cells = [_shown(p.values[k]) for k in result.paths]
        if p.solved == 0:  # no allocation at this point (infeasible, or none found): its status, not zeros
            status = ", ".join(sorted(p.statuses)) or "no solve"
            cells += ["-", "-"] * result.drawn + [status, "-", "-", "-", "-", "-"] + ["-"] * result.drawn
            t.add_row(*cells)
            continue
        if result.drawn:
            cells += [_range(p.coverage, _num), _range(p.placed, _money)]
        cells += [
            _opt(row["coverage_mean"], _num),
            _opt(row["placed_mean"], _money),
            _opt(row["placed_share"], lambda v: f"{v:.0%}"),
            _num(row["funded"]),
            _num(row["partial"]),
            _opt(row["grants_mean"], _num),
        ]
        if result.drawn:
            cells.append(str(row["safe"]))
        t.add_row(*cells)
    con.print(t)
    return buf.getvalue()


def _grants_label(result: SweepResult) -> str:
    return "grants" if result.fewest_grants else "grants (not minimised)"


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _headline(result: SweepResult, p: PointSummary) -> str:
    uncertain = ", ".join(result.uncertain) if result.uncertain else "none (every draw is the pledges as pledged)"
    statuses = ", ".join(f"{k} {v}" for k, v in p.statuses.items())
    how = (
        f"exact: every combination of the pledges ({p.distinct} solved), "
        f"weighted as {_count(p.draws, 'equally likely draw')}"
        if result.exact
        else f"{_count(p.draws, 'draw')} (seed {result.seed}), {_count(p.distinct, 'distinct scenario')} solved"
    )
    return (
        f"Sweep of {result.scenario}: {how}\n"
        f"uncertain pledges: {uncertain}\ndraws with an allocation: {p.solved} of {p.draws} ({statuses})"
        + (f"; the other {p.draws - p.solved} count as nothing placed" if p.solved < p.draws else "")
    )


def _distribution(result: SweepResult, p: PointSummary, cur: str) -> Table:
    t = Table(title="Over all draws", title_justify="left")
    for c in ("measure", "mean", "p5", "p50", "p95"):
        t.add_column(c, justify="left" if c == "measure" else "right")
    for name, st, fmt in (
        ("coverage", p.coverage, _num),
        (f"money placed ({cur})", p.placed, _money),
        (_grants_label(result), p.grants, _num),
    ):
        if st:
            t.add_row(name, fmt(st.mean), fmt(st.p5), fmt(st.p50), fmt(st.p95))
    return t


def _donors(p: PointSummary, cur: str) -> Table:
    t = Table(title=f"Donors ({cur})", title_justify="left")
    for c in ("donor", "pledged", "confidence", "range", "arrived", "mean budget", "mean used", "used p5..p95"):
        t.add_column(c, justify="left" if c == "donor" else "right")
    for d in p.donors:
        rng = f"{_money(d.budget_range[0])}..{_money(d.budget_range[1])}" if d.budget_range else "-"
        conf = f"{d.confidence:g}" if d.confidence is not None else "-"
        t.add_row(
            d.id,
            _money(d.pledged),
            conf,
            rng,
            _share(d.arrived, 0),
            _money(d.mean_budget),
            _money(d.mean_used),
            _range(d.used, _money),
        )
    return t


def _requests(p: PointSummary, cur: str) -> Table:
    t = Table(title="Requests: share of draws", title_justify="left")
    for c in ("request", f"amount ({cur})", "funded", "partly", "mean funded", "safe"):
        t.add_column(c, justify="left" if c in ("request", "safe") else "right")
    for r in sorted(p.requests, key=lambda r: (-r.funded, -r.partial, r.id)):
        t.add_row(
            r.id,
            _money(r.amount),
            _share(r.funded, 1),
            _share(r.partial, 1),
            _money(r.mean_funded),
            "yes" if r.safe else "",
        )
    return t


def _console(width: int = 140) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, force_terminal=False, color_system=None, highlight=False), buf


def _share(x: float, digits: int) -> str:
    """A share as a percentage that never rounds to 100% or 0% unless it is: 399 of 400 is ">99%"."""
    text = f"{x:.{digits}%}"
    if 0 < x < 1 and text in (f"{1:.{digits}%}", f"{0:.{digits}%}"):
        edge = 10**-digits
        return f">{100 - edge:.{digits}f}%" if x > 0.5 else f"<{edge:.{digits}f}%"
    return text


def _range(st: Stats | None, fmt) -> str:
    return f"{fmt(st.p5)}..{fmt(st.p95)}" if st else "-"


def _opt(v, fmt) -> str:
    return "-" if v is None else fmt(v)


def _r(v: float) -> float:
    return round(v, 6)


def _cell(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def _shown(v: Any) -> str:
    """A varied value as the table shows it: whole numbers (budgets, caps) with thousands separators
    (CSV and JSON keep them plain)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return _cell(v)


def _money(v: float) -> str:
    return f"{round(v):,}"


def _num(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.4f}"

"""One self-contained HTML report that works offline: plotly.js inlined, every user text escaped.

Per option: a Sankey of money from donors to regions to themes, coverage by region and by theme,
and the requests not fully funded with the reasons. With several options, the comparison table
comes first. User text (ids, names, titles, reasons) goes through :func:`html.escape` in tables
and in chart labels (plotly decodes entities, so the text shows as written and never as markup);
chart data is embedded as JSON with ``<``, ``>`` and ``&`` escaped, so it cannot close its script.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

import plotly.graph_objects as go
from plotly.io.json import to_json_plotly
from plotly.offline import get_plotlyjs

from matcher import __version__
from matcher.compare import NO_ALLOCATION, SCALARS, SHARES, compare, fmt_value, rows, weights_note
from matcher.domain import Scenario
from matcher.infeasible import infeasible_note
from matcher.options import Option
from matcher.reference import countries

NOT_PLACED = "not allocated"
PALETTE = ("#1f6f8b", "#e07a5f", "#3d9970", "#8e6c8a", "#d4a017", "#5b8bd9", "#b5525c", "#4f7c3a")
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2730;background:#f5f6f8}
header{background:#1f3b57;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.8;font-size:13px}
main{padding:12px 32px 40px;max-width:1280px}
section{background:#fff;border-radius:6px;padding:16px 20px;margin:18px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:18px;margin:0 0 6px} h3{font-size:15px;margin:16px 0 6px}
.summary{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.kpi{background:#eef2f6;border-radius:4px;padding:6px 12px;font-size:13px} .kpi b{display:block;font-size:17px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.chart{width:100%} .sankey{width:100%;min-height:460px}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e1e5ea;padding:4px 8px;text-align:left;vertical-align:top}
td:first-child{white-space:nowrap} th{background:#f0f3f6} td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#6b7785;font-size:12px}
.note{background:#fff6e0;border-left:4px solid #e0a800;padding:6px 10px}
td.why{min-width:22em}
@media print{
body{background:#fff;font-size:11px} header{background:none;color:#000;padding:0 0 8px;border-bottom:2px solid #1f3b57}
main{padding:0;max-width:none} section{box-shadow:none;padding:0;margin:12px 0}
.sankey,.chart,.summary,tr{break-inside:avoid} h2,h3{break-after:avoid} table{font-size:10px}
.charts{grid-template-columns:1fr 1fr} section+section{break-before:page}
}
"""


def render_html(options: list[Option], title: str | None = None) -> str:
    """The report for one or more solved options, as one HTML document."""
    figures: list[tuple[str, go.Figure]] = []
    sections = []
    if len(options) > 1:
        sections.append(_comparison_section(options))
    for n, option in enumerate(options):
        sections.append(_option_section(option, n, figures))
    heading = title or (
        options[0].scenario.title or options[0].scenario.name if len(options) == 1 else "Options compared"
    )
    scripts = "\n".join(_plot_call(div, fig) for div, fig in figures)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(heading)}</title>'
        f"<style>{CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>{_e(heading)}</h1><p>Donor-need matching report · matcher {_e(__version__)} · "
        f"{len(options)} option{'s' if len(options) != 1 else ''}</p></header>"
        f"<main>{''.join(sections)}</main>"
        f"<script>{scripts}</script></body></html>\n"
    )


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _label(text: Any) -> str:
    """Chart text: plotly reads a few tags and decodes entities, so escape only <, > and &."""
    return html.escape(str(text), quote=False)


def _plot_call(div: str, fig: go.Figure) -> str:
    """``Plotly.newPlot`` with the figure as script-safe JSON."""
    spec = to_json_plotly(fig.to_plotly_json())
    for raw, safe in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        spec = spec.replace(raw, safe)
    config = '{"displaylogo":false,"responsive":true,"displayModeBar":false}'
    return f'(function(){{var f={spec};Plotly.newPlot("{div}",f.data,f.layout,{config});}})();'


# --- sections --------------------------------------------------------------------------------------


def _comparison_section(options: list[Option]) -> str:
    doc = compare(options)
    titles = dict(SCALARS)
    head = "".join(f"<th>{_e(lb)}</th>" for lb in doc["options"])
    body = []
    changed = []
    for section, key, values in rows(doc):
        if section == "request":
            changed.append((key, values))
            continue
        name = titles[key] if section == "measure" else f"{section.replace('_', ' ')}: {key}"
        share = section != "measure" or key in SHARES
        cells = "".join(f'<td class="num">{_e(fmt_value(v, share))}</td>' for v in values)
        body.append(f"<tr><td>{_e(name)}</td>{cells}</tr>")
    note = weights_note(options)
    out = (
        f"<section><h2>Options compared ({_e(doc['currency'])})</h2>"
        + (f'<p class="note">Note: {_e(note)}</p>' if note else "")
        + f"<table><thead><tr><th>measure</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    if changed:
        crow = "".join(
            f"<tr><td>{_e(rid)}</td>" + "".join(f'<td class="num">{_e(v or "(absent)")}</td>' for v in values) + "</tr>"
            for rid, values in changed
        )
        out += (
            f"<h3>Requests whose outcome changes ({len(changed)})</h3>"
            f"<table><thead><tr><th>request</th>{head}</tr></thead><tbody>{crow}</tbody></table>"
        )
    return out + "</section>"


def _option_section(option: Option, n: int, figures: list) -> str:
    s, r = option.scenario, option.result
    assert r is not None, "solve the option before reporting it"
    cur = s.currency
    if r.status in NO_ALLOCATION:
        why = (
            infeasible_note(s).rstrip(".") if r.status == "infeasible" else "no allocation was found within the limits"
        )
        warned = f'<p class="note"><b>Warning:</b> {_e(option.warning)}</p>' if option.warning else ""
        return (
            f'<section><h2>{_e(option.label)}</h2>{warned}<p class="muted">{_e(s.title or s.name)} · input sha256 '
            f"{_e(r.solver.input_sha256[:12])}</p><p><b>{_e(r.status)}</b>: {_e(why)}.</p></section>"
        )
    placed = sum(o.funded for o in r.requests)
    in_kind = sum(a.amount for a in r.allocations if a.kind == "in_kind")
    asked = sum(o.amount for o in r.requests)
    count = {st: sum(1 for o in r.requests if o.status == st) for st in ("funded", "partial", "unfunded")}
    kpis = [
        ("status", r.status),
        ("placed", f"{placed:,} {cur}" + (f" ({in_kind:,} in kind)" if in_kind else "")),
        ("asked", f"{asked:,} {cur}"),
        ("funded / partial / unfunded", f"{count['funded']} / {count['partial']} / {count['unfunded']}"),
        ("priority-weighted coverage", f"{r.objective.get('coverage', 0):,.2f}"),
        ("grants", f"{len(r.allocations)}"),
    ]
    kpi_html = "".join(f'<div class="kpi">{_e(k)}<b>{_e(v)}</b></div>' for k, v in kpis)
    sankey_id, region_id, theme_id = f"sankey-{n}", f"region-{n}", f"theme-{n}"
    figures.append((sankey_id, sankey_figure(option)))
    figures.append((region_id, coverage_figure(option, "region")))
    figures.append((theme_id, coverage_figure(option, "theme")))
    title = s.title or s.name
    warning = f'<p class="note"><b>Warning:</b> {_e(option.warning)}</p>' if option.warning else ""
    return (
        f'<section><h2>{_e(option.label)}</h2>{warning}<p class="muted">{_e(title)} · input sha256 '
        f'{_e(r.solver.input_sha256[:12])}</p><div class="summary">{kpi_html}</div>'
        f'<h3>Where the money goes: donors → regions → themes</h3><div id="{sankey_id}" class="sankey"></div>'
        f'<div class="charts"><div id="{region_id}" class="chart"></div><div id="{theme_id}" class="chart"></div></div>'
        f"{_rules_table(option)}{_unfunded_table(option)}</section>"
    )


def _rules_table(option: Option) -> str:
    """The policy's country cap and region floors beside what the allocation gives (shares of all funding,
    in-kind deliveries included, as the spec's rules 9 and 10 count them): how much room each leaves."""
    s, r = option.scenario, option.result
    if r is None:
        return ""
    p = s.policy
    total = sum(o.funded for o in r.requests)
    if not total or (p.max_country_share is None and not p.region_floors):
        return ""
    by_id = {q.id: q for q in s.requests}
    rows = []
    if p.max_country_share is not None:
        per: dict[str, int] = defaultdict(int)
        for o in r.requests:
            per[by_id[o.id].country] += o.funded
        top, amount = max(per.items(), key=lambda kv: (kv[1], kv[0]))
        rows.append(
            (
                "country cap",
                f"at most {_pct(p.max_country_share)} to one country",
                f"largest: {top}, {_pct(amount / total)} ({amount:,} {s.currency})",
            )
        )
    for g, floor in sorted(p.region_floors.items()):
        amount = sum(o.funded for o in r.requests if g in by_id[o.id].areas)
        rows.append(
            (f"floor: {_pretty(g)}", f"at least {_pct(floor)}", f"{_pct(amount / total)} ({amount:,} {s.currency})")
        )
    body = "".join(f"<tr><td>{_e(a)}</td><td>{_e(b)}</td><td>{_e(c)}</td></tr>" for a, b, c in rows)
    return (
        f"<h3>Caps and floors (shares of the {total:,} {_e(s.currency)} placed)</h3><table><thead><tr>"
        f"<th>rule</th><th>the policy</th><th>this allocation</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%".replace(".0%", "%")


def _unfunded_table(option: Option) -> str:
    s, r = option.scenario, option.result
    by_id = {q.id: q for q in s.requests}
    rows_html = []
    for o in r.requests:  # type: ignore[union-attr]
        if o.status == "funded":
            continue
        q = by_id[o.id]
        rows_html.append(
            f'<tr><td>{_e(o.id)}</td><td>{_e(q.country)}</td><td>{_e(q.theme)}</td><td class="num">{q.priority}</td>'
            f'<td class="num">{o.amount:,}</td><td class="num">{o.funded:,}</td><td>{_e(o.status)}</td>'
            f'<td class="why">{"<br>".join(_e(t) for t in o.reasons)}</td></tr>'
        )
    if not rows_html:
        return "<h3>Every request is fully funded</h3>"
    return (
        f"<h3>Requests not fully funded ({len(rows_html)}), and why</h3><table><thead><tr><th>request</th>"
        f"<th>country</th><th>theme</th><th>priority</th><th>amount</th><th>funded</th><th>status</th>"
        f"<th>reasons</th></tr></thead><tbody>{''.join(rows_html)}</tbody></table>"
    )


# --- charts ----------------------------------------------------------------------------------------


def areas_shown(scenario: Scenario) -> dict[str, str]:
    """Each request's region as the report shows it: the M49 region, or in a round within one region (a
    regional centre's) the first finer level that tells its requests apart (LAC: caribbean,
    central-america, south-america; a country with no intermediate region keeps its sub-region)."""
    found = {q.id: countries()[q.country] for q in scenario.requests}
    shown = {rid: c.region for rid, c in found.items()}
    for level in ("sub_region", "intermediate_region"):
        if len(set(shown.values())) > 1:
            break
        shown = {rid: getattr(c, level) or shown[rid] for rid, c in found.items()}
    return shown if len(set(shown.values())) > 1 else {rid: c.region for rid, c in found.items()}


def sankey_flows(option: Option) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Node labels (donors, regions, themes) and links (source, target, amount) of the Sankey."""
    s, r = option.scenario, option.result
    requests = {q.id: q for q in s.requests}
    area = areas_shown(s)
    donor_region: dict[tuple[str, str], int] = defaultdict(int)
    region_theme: dict[tuple[str, str], int] = defaultdict(int)
    for a in r.allocations:  # type: ignore[union-attr]
        q = requests[a.request]
        donor_region[(a.donor, area[q.id])] += a.amount
        region_theme[(area[q.id], q.theme)] += a.amount
    for d in r.donors:  # type: ignore[union-attr]
        left = (d.budget or 0) - d.allocated if d.kind == "funds" else 0
        if left > 0:
            donor_region[(d.id, NOT_PLACED)] += left
    # regions by money, largest on top; donors and themes beside the region most of their money
    # goes to or comes from, so few links cross
    into: dict[str, int] = defaultdict(int)
    for (_d, g), v in donor_region.items():
        into[g] += v
    regions = sorted((g for g in into if g != NOT_PLACED), key=lambda g: (-into[g], g))
    regions += [NOT_PLACED] if NOT_PLACED in into else []
    donors = sorted((d.id for d in s.donors), key=lambda d: _beside(d, donor_region, regions))
    themes = sorted({t for _g, t in region_theme}, key=lambda t: _beside(t, region_theme, regions, flip=True))
    labels = [*donors, *regions, *themes]
    index = {("d", x): i for i, x in enumerate(donors)}
    index.update({("g", x): len(donors) + i for i, x in enumerate(regions)})
    index.update({("t", x): len(donors) + len(regions) + i for i, x in enumerate(themes)})
    links = [(index["d", d], index["g", g], v) for (d, g), v in sorted(donor_region.items()) if v > 0]
    links += [(index["g", g], index["t", t], v) for (g, t), v in sorted(region_theme.items()) if v > 0]
    return labels, links


def _beside(node: str, flows: dict[tuple[str, str], int], regions: list[str], flip: bool = False):
    """Sort key: the index of the region most of this node's money flows with, then more money first."""
    mine: dict[str, int] = {}
    for (x, y), v in flows.items():
        donor_or_theme, region = (y, x) if flip else (x, y)
        if donor_or_theme == node:
            mine[region] = mine.get(region, 0) + v
    if not mine:
        return (len(regions), 0, node)
    main = max(mine, key=lambda g: (mine[g], -regions.index(g)))
    return (regions.index(main), -sum(mine.values()), node)


def sankey_figure(option: Option) -> go.Figure:
    """Money from donors to regions to themes; a donor's unspent budget ends in 'not allocated'."""
    labels, links = sankey_flows(option)
    n_donors = len(option.scenario.donors)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    colors = ["#b9c0c8" if lb == NOT_PLACED else c for lb, c in zip(labels, colors, strict=True)]
    # donor -> region links take the donor's colour, region -> theme links the theme's
    link_colors = [_fade(colors[src] if src < n_donors else colors[tgt]) for src, tgt, _v in links]
    height = sankey_height(labels, links, n_donors)
    x, y = _node_positions(labels, links, n_donors, height)
    # a printed report has no hover: each node says how much passes through it
    through = [0] * len(labels)
    for src, tgt, v in links:
        through[tgt] += v
        if src < n_donors:
            through[src] += v
    in_kind = {d.id for d in option.scenario.donors if d.kind != "funds"}  # its value, not money it gave
    shown = [
        f"{_pretty(lb)}{' (in kind)' if i < n_donors and lb in in_kind else ''}  {_short_money(v)}"
        for i, (lb, v) in enumerate(zip(labels, through, strict=True))
    ]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            valueformat=",d",
            valuesuffix=f" {option.scenario.currency}",
            node={
                "label": [_label(lb) for lb in shown],
                "pad": SANKEY_PAD,
                "thickness": 16,
                "color": colors,
                "x": x,
                "y": y,
                "line": {"color": "#ffffff", "width": 0.5},
            },
            link={
                "source": [s for s, _t, _v in links],
                "target": [t for _s, t, _v in links],
                "value": [v for _s, _t, v in links],
                "color": link_colors,
            },
        )
    )
    fig.update_layout(
        margin={"l": SANKEY_MARGIN, "r": SANKEY_MARGIN, "t": SANKEY_MARGIN, "b": SANKEY_MARGIN},
        font={"size": 12},
        height=height,
    )
    return fig


SANKEY_PAD = 14
SANKEY_MARGIN = 10


def sankey_height(labels: list[str], links: list[tuple[int, int, int]], n_donors: int) -> int:
    """Pixels for the Sankey: enough for a readable label per node in its fullest column."""
    column = _columns(labels, links, n_donors)
    fullest = max((column.count(c) for c in set(column)), default=1)
    return max(460, 26 * fullest + 2 * SANKEY_MARGIN)


def _columns(labels: list[str], links: list[tuple[int, int, int]], n_donors: int) -> list[int]:
    n_regions = len({t for s, t, _v in links if s < n_donors})
    return [0 if i < n_donors else (1 if i < n_donors + n_regions else 2) for i in range(len(labels))]


def _node_positions(
    labels: list[str], links: list[tuple[int, int, int]], n_donors: int, height: int
) -> tuple[list, list]:
    """Donors left, regions (and 'not allocated') middle, themes right, each column stacked by value.

    Plotly would put 'not allocated', which has no outgoing link, in the last column; fixed
    positions keep it beside the regions where it belongs, at the top of them when the donors
    with money left sit mostly in the top half (so its thin links cross fewer flows). Positions
    are node centres laid out as plotly sizes nodes (one pixels-per-unit scale for all columns,
    ``SANKEY_PAD`` pixels between nodes), so no node overlaps another or the edge.
    """
    value = [0] * len(labels)
    for s, t, v in links:
        value[t] += v
        if s < n_donors:
            value[s] += v
    column = _columns(labels, links, n_donors)
    order = list(range(len(labels)))
    inner = height - 2 * SANKEY_MARGIN
    if NOT_PLACED in labels:
        idle = labels.index(NOT_PLACED)
        left = [(s, v) for s, t, v in links if t == idle]
        donor_y = _stacked(order, column, value, inner)
        if left and sum(donor_y[s] * v for s, v in left) / sum(v for _s, v in left) < 0.5:
            order.remove(idle)
            order.insert(n_donors, idle)
    x_of = (0.001, 0.5, 0.999)
    ys = _stacked(order, column, value, inner)
    return [x_of[column[i]] for i in range(len(labels))], [ys[i] for i in range(len(labels))]


def _stacked(order: list[int], column: list[int], value: list[int], inner: int) -> dict[int, float]:
    """Centre height (0 top, 1 bottom) of each node, every column stacked in ``order``."""
    cols = {c: [i for i in order if column[i] == c] for c in set(column)}
    scale = min((inner - SANKEY_PAD * (len(m) - 1)) / max(1, sum(value[k] for k in m)) for m in cols.values())
    out = {}
    for members in cols.values():
        used = sum(value[k] * scale for k in members) + SANKEY_PAD * (len(members) - 1)
        top = max(0.0, (inner - used) / 2)  # a short column sits in the middle
        for i in members:
            h = value[i] * scale
            out[i] = min(0.999, max(0.001, (top + h / 2) / inner))
            top += h + SANKEY_PAD
    return out


def _pretty(slug: str) -> str:
    """A theme or region slug as words: 'record_keeping' -> 'record keeping'."""
    return slug.replace("_", " ")


def _short_money(amount: int) -> str:
    """1,234,567 -> '1.23M', 45,000 -> '45k': short enough for a chart label."""
    if amount >= 999_500:
        return f"{amount / 1_000_000:.3g}M"
    if amount >= 1_000:
        return f"{amount / 1_000:.3g}k"
    return f"{amount:,}"


def _fade(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.35)"


def bar_height(n_bars: int) -> int:
    """Pixels for a bar chart: a fixed frame plus a row per bar, so one bar is not a slab."""
    return 90 + 26 * max(n_bars, 2)


def coverage_figure(option: Option, by: str) -> go.Figure:
    """Horizontal bars: money funded as a share of money requested, per region or theme."""
    s, r = option.scenario, option.result
    funded = {o.id: o.funded for o in r.requests}  # type: ignore[union-attr]
    area = areas_shown(s)
    asked: dict[str, int] = defaultdict(int)
    got: dict[str, int] = defaultdict(int)
    for q in s.requests:
        key = area[q.id] if by == "region" else q.theme
        asked[key] += q.amount
        got[key] += funded[q.id]
    keys = sorted(asked, key=lambda k: (got[k] / asked[k], k))
    shares = [100 * got[k] / asked[k] for k in keys]
    # a short bar cannot hold its label: put it outside, so 0% still shows
    hover = [f"{_label(k)}: {got[k]:,} of {asked[k]:,} {s.currency}" for k in keys]
    fig = go.Figure(
        go.Bar(
            x=shares,
            y=[_label(_pretty(k)) for k in keys],
            orientation="h",
            marker_color=PALETTE[0 if by == "region" else 2],
            text=[f"{v:.0f}%" for v in shares],
            textposition=["inside" if v >= 15 else "outside" for v in shares],
            cliponaxis=False,
            hovertext=hover,
            hoverinfo="text",
        )
    )
    fig.update_layout(
        title={"text": f"Coverage by {by} (funded / requested)", "font": {"size": 14}},
        xaxis={"range": [0, 100], "ticksuffix": "%", "dtick": 25},
        margin={"l": 10, "r": 30, "t": 40, "b": 30},
        height=bar_height(len(keys)),
        bargap=0.25,
        yaxis={"automargin": True},
    )
    return fig

"""The HTML report: self-contained, escaped, and drawn in headless Chromium without console errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from analysis_fixtures import two_countries

from matcher.engine import SolveParams
from matcher.options import Option
from matcher.report.html import render_html, sankey_flows
from matcher.scenario_io import parse_scenario
from matcher.variants import apply_sets

PARAMS = SolveParams(time_limit=10)
EVIL = "</script><img src=x onerror=alert(1)>"


def options() -> list[Option]:
    data = two_countries()
    data["requests"][3]["title"] = EVIL
    base = Option("base <i>", parse_scenario(data)).solved(PARAMS)
    more = Option("A +150", parse_scenario(apply_sets(data, ["donors[A].budget+=150"]))).solved(PARAMS)
    return [base, more]


@pytest.fixture(scope="module")
def report() -> str:
    return render_html(options())


def test_self_contained_and_offline(report):
    assert report.count("<script") == 2  # the plotly bundle and our plot calls
    assert not re.search(r"<script[^>]+src=", report)
    assert not re.search(r"<link[^>]+href=", report)
    assert "Plotly.newPlot" in report


def test_user_text_is_escaped(report):
    assert "base &lt;i&gt;" in report and "base <i>" not in report
    assert "Two countries &amp; a &lt;b&gt;test&lt;/b&gt;" in report
    ours = report.split("</head>", 1)[1]
    assert "<img" not in ours and "<b>test" not in ours


def test_sankey_flows_conserve_money():
    option = options()[0]
    labels, links = sankey_flows(option)
    into = {labels[t]: 0 for _s, t, _v in links}
    for _s, t, v in links:
        into[labels[t]] += v
    assert into["africa"] == 400  # A 300 + B 100
    assert into["not allocated"] == 100  # B's unspent half
    assert into["stockpile"] + into["marking"] + into["ddr"] == 400


def test_comparison_table_only_with_several_options(report):
    assert "Options compared (USD)" in report and "Requests whose outcome changes (1)" in report
    assert "Options compared (USD)" not in render_html(options()[:1])


def test_the_report_carries_the_notes_a_reader_needs():
    """What compare says on stderr reaches the reader too: weights that differ, why an option is infeasible."""
    data = two_countries()
    base = Option("base", parse_scenario(data)).solved(PARAMS)
    heavier = {**data, "policy": {**data.get("policy", {}), "priority_weights": {1: 1, 2: 2, 3: 4, 4: 8, 5: 99}}}
    weighted = Option("weighted", parse_scenario(heavier)).solved(PARAMS)
    page = render_html([base, weighted])
    assert "Note: weighted weighs priorities or agendas differently from base" in page
    stuck = apply_sets(data, ["requests[R1].must_fund=true", "requests[R1].amount=100000"])
    infeasible = Option("stuck", parse_scenario(stuck)).solved(PARAMS)
    page = render_html([infeasible])
    assert "must_fund beyond what its eligible donors can give: R1 needs 100,000" in page
    assert "command line" not in page


def test_caps_and_floors_show_the_room_each_leaves():
    data = two_countries()  # R1..R3 in Africa (NER, MLI), R4 in the Americas (PER)
    data["policy"] = {**data.get("policy", {}), "max_country_share": 0.8, "region_floors": {"americas": 0.1}}
    option = Option("capped", parse_scenario(data)).solved(PARAMS)
    funded = {o.id: o.funded for o in option.result.requests}
    total = sum(funded.values())
    per = {"NER": funded["R1"] + funded["R2"], "MLI": funded["R3"], "PER": funded["R4"]}
    top = max(per, key=lambda c: (per[c], c))
    page = render_html([option])
    assert f"Caps and floors (shares of the {total:,} USD placed)" in page
    assert f"largest: {top}, {per[top] * 100 / total:.1f}% ({per[top]:,} USD)".replace(".0%", "%") in page
    assert (
        f"<td>floor: americas</td><td>at least 10%</td><td>{funded['R4'] * 100 / total:.1f}%".replace(".0%", "%")
    ) in page


def test_a_regional_round_shows_its_sub_regions():
    """One M49 region (a regional centre's round): the Sankey and the bars split it (they showed one node)."""
    from matcher.report.html import areas_shown

    data = two_countries()
    for request, country in zip(data["requests"], ["JAM", "HTI", "PER", "MEX"], strict=True):
        request["country"] = country
    shown = areas_shown(parse_scenario(data))
    assert shown == {"R1": "caribbean", "R2": "caribbean", "R3": "south-america", "R4": "central-america"}
    assert areas_shown(parse_scenario(two_countries())) == {
        "R1": "africa",
        "R2": "africa",
        "R3": "africa",
        "R4": "americas",
    }


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


PROBE = (
    "<script>window.__errors=[];"
    "window.addEventListener('error',function(e){window.__errors.push(String(e.message))});"
    "var __ce=console.error;console.error=function(){"
    "window.__errors.push(Array.prototype.join.call(arguments,' '));__ce.apply(console,arguments)};"
    "window.addEventListener('load',function(){setTimeout(function(){"
    "document.body.setAttribute('data-errors',JSON.stringify(window.__errors))},0)});</script>"
)


def run_chromium(exe: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--window-size=1300,2600",
    ]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_report_draws_in_headless_chromium(tmp_path):
    exe = chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs it with apt-get")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    page.write_text(render_html(options()), encoding="utf-8")
    shot = run_chromium(exe, tmp_path, f"--screenshot={tmp_path / 'report.png'}", page.as_uri())
    assert (tmp_path / "report.png").stat().st_size > 10_000, shot.stderr[-2000:]

    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    dump = run_chromium(exe, tmp_path, "--dump-dom", probed.as_uri())
    dom = dump.stdout
    errors = re.search(r'data-errors="([^"]*)"', dom)
    assert errors, "the page never finished loading"
    assert json.loads(errors.group(1).replace("&quot;", '"')) == []
    console = [ln for ln in dump.stderr.splitlines() if "CONSOLE" in ln and "error" in ln.lower()]
    assert console == []
    # plotly drew: two option sections, each a Sankey and two bar charts
    assert len(re.findall(r'class="main-svg"', dom)) >= 6
    assert len(re.findall(r'class="sankey-node"', dom)) >= 2 * 7  # A, B; 2 regions + n/a; themes
    assert len(re.findall(r'class="point"', dom)) >= 2 * (2 + 4)  # bars per region and per theme
    assert "data-unformatted" in dom  # plotly's rendered text nodes

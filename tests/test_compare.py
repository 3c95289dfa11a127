"""Every compare measure, checked by hand on the two_countries fixture (see analysis_fixtures)."""

from __future__ import annotations

import csv
import io

import pytest
from analysis_fixtures import two_countries

from matcher.compare import compare, gini, render
from matcher.engine import SolveParams
from matcher.options import Option
from matcher.scenario_io import parse_scenario
from matcher.variants import apply_sets

PARAMS = SolveParams(time_limit=10)


@pytest.fixture(scope="module")
def doc() -> dict:
    base = Option("base", parse_scenario(two_countries())).solved(PARAMS)
    more = Option("more", parse_scenario(apply_sets(two_countries(), ["donors[A].budget+=150"]))).solved(PARAMS)
    return compare([base, more])


def test_coverage_and_money(doc):
    base, more = doc["measures"]["base"], doc["measures"]["more"]
    assert base["coverage"] == pytest.approx(28)  # 16 + 8 + 4
    assert base["coverage_share"] == pytest.approx(28 / 30)  # max: 16 + 8 + 4 + 2
    assert more["coverage"] == pytest.approx(30)
    assert (base["money_placed"], base["money_asked"]) == (400, 550)
    assert more["money_placed"] == 550


def test_request_counts(doc):
    base, more = doc["measures"]["base"], doc["measures"]["more"]
    assert (base["funded"], base["partial"], base["unfunded"]) == (3, 0, 1)
    assert (more["funded"], more["partial"], more["unfunded"]) == (4, 0, 0)


def test_grants_and_average_grant(doc):
    base, more = doc["measures"]["base"], doc["measures"]["more"]
    assert (base["grants"], base["average_grant"]) == (3, 133)  # 400 / 3
    assert (more["grants"], more["average_grant"]) == (4, 138)  # 550 / 4 = 137.5


def test_donor_budget_used(doc):
    base = doc["measures"]["base"]
    assert (base["budget"], base["budget_used"]) == (500, 400)
    assert base["budget_used_share"] == pytest.approx(0.8)
    assert base["donor_budget_used"] == {"A": 1.0, "B": 0.5}


def test_a_donor_without_budget_has_no_share_used():
    none = Option("none", parse_scenario(apply_sets(two_countries(), ["donors[B].budget=0"]))).solved(PARAMS)
    doc = compare([none])
    assert doc["measures"]["none"]["donor_budget_used"]["B"] is None
    line = next(ln for ln in render(doc, "table").splitlines() if "budget used, donor B" in ln)
    assert line.split("│")[-2].strip() == "-"


def test_coverage_by_region_theme_priority(doc):
    base = doc["measures"]["base"]
    assert base["coverage_by_region"] == {"africa": 1.0, "americas": 0.0}
    assert base["coverage_by_theme"] == {"ddr": 1.0, "legislation": 0.0, "marking": 1.0, "stockpile": 1.0}
    assert base["coverage_by_priority"] == {"2": 0.0, "3": 1.0, "4": 1.0, "5": 1.0}


def test_fairness_across_countries(doc):
    base, more = doc["measures"]["base"], doc["measures"]["more"]
    assert (base["lowest_country"], base["lowest_country_coverage"]) == ("PER", 0.0)
    # countries NER 1, MLI 1, PER 0: sum |xi - xj| over ordered pairs = 4; 4 / (2 * 3^2 * 2/3) = 1/3
    assert base["gini_country_coverage"] == pytest.approx(1 / 3)
    assert more["gini_country_coverage"] == 0.0
    assert more["lowest_country_coverage"] == 1.0


def test_gini_by_hand():
    assert gini([]) == 0.0
    assert gini([0, 0]) == 0.0
    assert gini([1, 0]) == pytest.approx(0.5)  # 2 / (2 * 4 * 0.5)
    assert gini([0.5, 0.5, 0.5]) == 0.0


def test_changed_requests(doc):
    assert doc["changes"] == [
        {
            "request": "R4",
            "outcomes": {"base": {"funded": 0, "status": "unfunded"}, "more": {"funded": 150, "status": "funded"}},
        }
    ]


def test_a_request_missing_from_one_option_is_a_change():
    data = two_countries()
    fewer = apply_sets(data, ["requests=" + str([r for r in data["requests"] if r["id"] != "R3"]).replace("'", '"')])
    a = Option("all", parse_scenario(data)).solved(PARAMS)
    b = Option("fewer", parse_scenario(fewer)).solved(PARAMS)
    rows = {c["request"]: c["outcomes"] for c in compare([a, b])["changes"]}
    assert rows["R3"]["fewer"] is None


def test_csv_has_one_column_per_option(doc):
    table = list(csv.reader(io.StringIO(render(doc, "csv"))))
    assert table[0] == ["section", "key", "base", "more"]
    assert ["measure", "money_placed", "400", "550"] in table
    assert ["request", "R4", "unfunded 0", "funded 150"] in table


def test_table_lists_measures_and_changes(doc):
    text = render(doc, "table")
    assert "priority-weighted coverage" in text
    assert "Gini of country coverage" in text
    assert "Requests whose outcome changes (1)" in text

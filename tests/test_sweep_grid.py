"""``--vary`` expressions: lists, ranges, factor ranges, grids, and clear errors for bad ones."""

from __future__ import annotations

import pytest

from matcher.errors import MatcherError
from matcher.sweep.grid import grid_points, parse_axes, parse_vary

BASE = {
    "policy": {"max_country_share": 0.2, "agenda_weights": {}},
    "donors": [{"id": "DEU", "budget": 1000}, {"id": "JPN", "budget": 10}],
}


def test_a_list_of_values():
    assert parse_vary("policy.max_country_share=0.05,0.1,0.2", BASE).values == (0.05, 0.1, 0.2)


def test_a_factor_range_multiplies_the_current_value_and_keeps_money_whole():
    axis = parse_vary("donors[DEU].budget=*0.6..*1.2:7", BASE)
    assert axis.values == (600, 700, 800, 900, 1000, 1100, 1200)
    assert all(isinstance(v, int) for v in axis.values)


def test_a_factor_on_money_is_exact_before_it_is_rounded_down():
    """1,400,000 x 0.7 is 979,999.99... in floating point: the grid once showed 979,999 EUR for 980,000."""
    base = {"donors": [{"id": "DEU", "budget": 1400000}]}
    assert parse_vary("donors[DEU].budget=*0.6..*1.2:7", base).values == (
        840000,
        980000,
        1120000,
        1260000,
        1400000,
        1540000,
        1680000,
    )


def test_a_priority_weight_is_varied_by_its_number():
    base = {"policy": {"priority_weights": {1: 1, 5: 16}}, "donors": []}
    axis = parse_vary("policy.priority_weights.5=16,64", base)
    assert axis.values == (16, 64)
    (_low, (_values, high)) = grid_points(base, [axis])
    assert high["policy"]["priority_weights"] == {1: 1, 5: 64}


def test_a_plain_range_with_whole_ends_gives_whole_values():
    assert parse_vary("donors[DEU].budget=100..200:3", BASE).values == (100, 150, 200)
    assert parse_vary("donors[DEU].budget=0..10:4", BASE).values == (0, 3, 6, 10)


def test_a_plain_range_of_a_weight_keeps_its_fractions():
    assert parse_vary("policy.agenda_weights.diversion=1..2:3", BASE).values == (1.0, 1.5, 2.0)


def test_a_plain_range_of_shares():
    assert parse_vary("policy.max_country_share=0.05..0.2:4", BASE).values == (0.05, 0.1, 0.15, 0.2)


def test_several_axes_make_a_grid_first_axis_slowest():
    axes = parse_axes(["policy.max_country_share=0.1,0.2", "donors[JPN].budget=5,6,7"], BASE)
    points = grid_points(BASE, axes)
    assert [tuple(v.values()) for v, _ in points] == [(0.1, 5), (0.1, 6), (0.1, 7), (0.2, 5), (0.2, 6), (0.2, 7)]
    assert points[4][1]["donors"][1]["budget"] == 6 and points[4][1]["policy"]["max_country_share"] == 0.2
    assert BASE["donors"][1]["budget"] == 10


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "policy.max_country_share",
            "--vary 'policy.max_country_share': write PATH=VALUES, e.g. "
            "policy.max_country_share=0.05,0.1,0.2 or donors[DEU].budget=*0.6..*1.2:7",
        ),
        (
            "donors[FRA].budget=1,2",
            "--vary 'donors[FRA].budget=1,2': 'donors[FRA].budget': no donors entry with id 'FRA' (known: DEU, JPN)",
        ),
        (
            "policy.max_country_share=0.1..0.3",
            "--vary 'policy.max_country_share=0.1..0.3': '0.1..0.3' is not a range; "
            "write a..b:n or *a..*b:n (n values), e.g. policy.max_country_share=0.05,0.1,0.2 or "
            "donors[DEU].budget=*0.6..*1.2:7",
        ),
        (
            "donors[DEU].budget=*0.6..1.2:3",
            "--vary 'donors[DEU].budget=*0.6..1.2:3': '*0.6..1.2:3' mixes a factor and "
            "a value; write *a..*b:n for factors or a..b:n for values",
        ),
        ("donors[DEU].budget=10..x:3", "--vary 'donors[DEU].budget=10..x:3': 'x' is not a number"),
        (
            "donors[DEU].budget=10..20:1",
            "--vary 'donors[DEU].budget=10..20:1': ':1' must be a whole number of values, at least 2 (e.g. ..:5)",
        ),
        (
            "donors[DEU].budget=1,,2",
            "--vary 'donors[DEU].budget=1,,2': an empty value in the list '1,,2'; separate values with single commas",
        ),
        (
            "donors[DEU].budget=2..1:3",
            "--vary 'donors[DEU].budget=2..1:3': gives 1 twice (2, 1, 1); give distinct values",
        ),
        (
            "policy.max_country_share=0.1,0.1",
            "--vary 'policy.max_country_share=0.1,0.1': gives 0.1 twice (0.1, 0.1); give distinct values",
        ),
        (
            "donors[DEU].budget=*-0.5..*1:3",
            "--vary 'donors[DEU].budget=*-0.5..*1:3': '*-0.5..*1:3' has a negative "
            "factor; factors are 0 or more (*0.6..*1.2:7)",
        ),
        (
            "donors[DEU].name=*0.5..*2:3",
            "--vary 'donors[DEU].name=*0.5..*2:3': 'donors[DEU].name' has no value in the scenario to multiply; "
            "check the key's spelling (docs/scenario-format.md lists them) or give values a..b:n",
        ),
    ],
)
def test_bad_expressions_name_the_expression_and_the_fix(expr, message):
    with pytest.raises(MatcherError) as err:
        parse_vary(expr, BASE)
    assert str(err.value) == message


def test_a_path_varied_twice_is_refused():
    with pytest.raises(MatcherError, match=r"'policy.max_country_share' is already varied"):
        parse_axes(["policy.max_country_share=0.1", "policy.max_country_share=0.2"], BASE)


def test_one_donor_named_two_ways_is_varied_once():
    """donors[DEU] and donors[0] are one donor: the second axis overwrote the first while the rows kept
    the first's labels (DEU = 100000 for a solve of 300000)."""
    with pytest.raises(MatcherError) as err:
        parse_axes(["donors[DEU].budget=1,2", "donors[0].budget=3,4"], BASE)
    assert str(err.value) == (
        "--vary 'donors[0].budget=3,4': 'donors[0].budget' is already varied (as "
        "'donors[DEU].budget'); give all its values in one --vary"
    )

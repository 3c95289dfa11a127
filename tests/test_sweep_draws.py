"""Seeded pledge draws: reproducible, per donor, within the declared uncertainty, never below commitments."""

from __future__ import annotations

import pytest

from matcher.errors import MatcherError
from matcher.scenario_io import parse_scenario
from matcher.sweep.draws import apply_pledges, check_uncertainty, draw_pledges, pledge_key


def _scenario(donors, commitments=()):
    return parse_scenario(
        {
            "name": "draws",
            "currency": "USD",
            "fx": {"EUR": 1.08},
            "donors": donors,
            "requests": [{"id": "NER-1", "country": "NER", "theme": "stockpile", "amount": 500000}],
            "commitments": list(commitments),
        }
    )


JPN = {"id": "JPN", "budget": 400000, "confidence": 0.7}
DEU = {"id": "DEU", "budget": 300000, "budget_range": [100000, 300000]}
NOR = {"id": "NOR", "budget": 50000}


def test_same_seed_same_draws_other_seed_other_draws():
    s = _scenario([JPN, DEU, NOR])
    first = [draw_pledges(s, 7, d) for d in range(50)]
    assert first == [draw_pledges(s, 7, d) for d in range(50)]
    assert first != [draw_pledges(s, 8, d) for d in range(50)]


def test_only_uncertain_donors_are_drawn():
    assert set(draw_pledges(_scenario([JPN, DEU, NOR]), 0, 0)) == {"JPN", "DEU"}


def test_a_donors_draw_does_not_depend_on_the_other_donors():
    alone = [draw_pledges(_scenario([JPN]), 3, d)["JPN"] for d in range(40)]
    with_others = [draw_pledges(_scenario([DEU, NOR, JPN]), 3, d)["JPN"] for d in range(40)]
    assert alone == with_others


def test_confidence_gives_all_or_nothing():
    values = {draw_pledges(_scenario([JPN]), 1, d)["JPN"] for d in range(200)}
    assert values == {0, 400000}


def test_budget_range_gives_whole_amounts_within_the_range():
    values = [draw_pledges(_scenario([DEU]), 1, d)["DEU"] for d in range(200)]
    assert all(isinstance(v, int) and 100000 <= v <= 300000 for v in values)
    assert len(set(values)) > 150  # uniform over 200,001 amounts: repeats are rare


def test_confidence_and_range_combine():
    both = {**DEU, "confidence": 0.5}
    values = [draw_pledges(_scenario([both]), 2, d)["DEU"] for d in range(200)]
    assert 0 in values and all(v == 0 or 100000 <= v <= 300000 for v in values)


def test_a_draw_never_goes_below_what_is_committed():
    eur = {"id": "EU", "budget": 400000, "currency": "EUR", "confidence": 0.1}
    s = _scenario([eur], [{"donor": "EU", "request": "NER-1", "amount": 108000}])
    draws = [draw_pledges(s, 0, d)["EU"] for d in range(50)]
    assert min(draws) == 100000  # 100,000 EUR × 1.08 is exactly the 108,000 USD committed
    assert s.convert(min(draws), "EUR") == 108000 and s.convert(min(draws) - 1, "EUR") < 108000


def test_apply_pledges_sets_budgets_and_drops_offers_of_a_lost_in_kind_donor():
    data = {
        "donors": [{"id": "JPN", "budget": 400000}, {"id": "LAB", "kind": "in_kind", "capacity": 3}],
        "offers": [{"donor": "LAB", "request": "NER-1", "units": 1, "value": 10000}],
    }
    out = apply_pledges(data, {"JPN": 0, "LAB": 0})
    assert out["donors"][0]["budget"] == 0 and out["donors"][1]["capacity"] == 0 and out["offers"] == []
    assert data["donors"][0]["budget"] == 400000  # the input is not edited


def test_budget_range_on_an_in_kind_donor_is_refused():
    lab = {"id": "LAB", "kind": "in_kind", "capacity": 3, "budget_range": [1, 2]}
    with pytest.raises(MatcherError, match=r"donors\[0\].budget_range: 'LAB' is an in-kind donor"):
        check_uncertainty(_scenario([lab]))


def test_pledge_key_ignores_order():
    assert pledge_key({"A": 1, "B": 2}) == pledge_key({"B": 2, "A": 1})


def test_tasks_cover_every_distinct_draw_once_in_order_never_across_points_and_shrink_at_the_end() -> None:
    from matcher.sweep.run import MAX_CHUNK, _Point, chunks_of

    points = [
        _Point({}, {"point": k}, None, [], [{"D": k * 10_000 + n} for n in range(m)])  # type: ignore[arg-type]
        for k, m in enumerate((1000, 7, 1))
    ]
    chunks = chunks_of(points, {}, workers=2)
    for k, p in enumerate(points):
        mine = [c for c in chunks if c.point == k]
        assert [d for c in mine for d in c.pledges] == p.distinct  # all of them, once, in order
        assert all(c.data is p.data for c in mine)
    first = [len(c.pledges) for c in chunks if c.point == 0]
    assert first[0] == MAX_CHUNK and first == sorted(first, reverse=True)  # large tasks first, then smaller
    assert all(n <= 5 for n in first[-5:]) and len(chunks[-1].pledges) == 1


def test_a_commitment_beyond_the_whole_pledge_lifts_no_draw_above_the_pledge():
    """Commitments over budget are valid and infeasible; the committed floor (1,500) lifted JPN's draws
    above its pledge of 1,000, and a sweep called an infeasible round feasible in every draw."""
    s = _scenario(
        [{"id": "JPN", "budget": 1000, "confidence": 0.9}], [{"donor": "JPN", "request": "NER-1", "amount": 1500}]
    )
    assert {draw_pledges(s, 0, d)["JPN"] for d in range(30)} == {1000}

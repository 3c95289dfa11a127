"""One test per hard rule of the spec (1-11, must_fund, in-kind capacity), each on a fixture small
enough to solve by hand, plus one test per rule that the validator catches a hand-broken allocation.

Default priority weights: 1 -> 1, 3 -> 4, 4 -> 8, 5 -> 16. Coverage = sum of w[r] * f[r] / amount[r].
"""

from __future__ import annotations

import pytest
from helpers import alloc, funded, grants, req, scenario, solved

from matcher.validate import objective_terms, violations


def _broken(s, allocations, rule: str) -> None:
    found = violations(s, allocations)
    assert any(v.startswith(rule) for v in found), found


# Rule 1: earmarks ---------------------------------------------------------------------------------


def rule1():
    """DEU funds Africa only; Peru's request is the more urgent one but DEU may not fund it."""
    return scenario(
        [{"id": "DEU", "budget": 100, "regions": ["africa"]}],
        [req("NER-1", "NER", priority=3), req("PER-1", "PER", priority=5, theme="legislation")],
    )


def test_rule1_earmark_keeps_money_in_its_region():
    result = solved(rule1())
    assert result.status == "optimal"
    assert funded(result) == {"NER-1": 100, "PER-1": 0}
    assert result.requests[1].reason_codes == ["no_eligible_donor"]


def test_rule1_validator_catches_money_outside_the_earmark():
    s = rule1()
    assert violations(s, [alloc("DEU", "NER-1", 100)]) == []
    _broken(s, [alloc("DEU", "PER-1", 100)], "rule 1")


# Rule 2: budgets (converted with fx, rounded down) -------------------------------------------------


def rule2():
    """101 EUR at 1.08 is 109.08 USD, rounded down to 109: enough for A (100), not for A and B."""
    return scenario(
        [{"id": "EU", "budget": 101, "currency": "EUR"}],
        [req("A", priority=5), req("B", priority=3, amount=10)],
        fx={"EUR": 1.08},
    )


def test_rule2_budget_in_scenario_currency_rounded_down():
    result = solved(rule2())
    assert funded(result) == {"A": 100, "B": 0}
    assert result.donors[0].budget == 109


def test_rule2_validator_catches_overspent_budget():
    s = rule2()
    assert violations(s, [alloc("EU", "A", 100)]) == []
    _broken(s, [alloc("EU", "A", 100), alloc("EU", "B", 10)], "rule 2")


# Rule 3: never more than asked ---------------------------------------------------------------------


def rule3():
    return scenario([{"id": "DEU", "budget": 1000}], [req("A", min_funding=0)])


def test_rule3_funding_stops_at_the_amount():
    result = solved(rule3())
    assert funded(result) == {"A": 100}
    assert result.objective["volume"] == 100


def test_rule3_validator_catches_overfunding():
    _broken(rule3(), [alloc("DEU", "A", 150)], "rule 3")


# Rule 4: minimum useful share ----------------------------------------------------------------------


def rule4():
    """60 to spend: A is useful from 50, B only from 70, so only A can be funded (60 of 100)."""
    return scenario(
        [{"id": "DEU", "budget": 60}],
        [req("A", priority=5, min_funding=0.5), req("B", priority=5, min_funding=0.7)],
    )


def test_rule4_partial_funding_only_above_the_minimum_share():
    result = solved(rule4())
    assert funded(result) == {"A": 60, "B": 0}
    assert result.objective["coverage"] == pytest.approx(16 * 0.6)


def test_rule4_validator_catches_funding_below_the_minimum_share():
    s = rule4()
    assert violations(s, [alloc("DEU", "A", 60)]) == []
    _broken(s, [alloc("DEU", "B", 60)], "rule 4")


# Rule 5: minimum and maximum grant -------------------------------------------------------------------


def rule5():
    """UNSCAR gives at most 100 a grant; USA at least 80, so it cannot fund the 50 Mali asks."""
    return scenario(
        [
            {"id": "UNSCAR", "budget": 300, "max_grant": 100, "themes": ["stockpile"]},
            {"id": "USA", "budget": 300, "min_grant": 80, "themes": ["marking"]},
        ],
        [req("NER-1", amount=200, min_funding=0), req("MLI-1", "MLI", amount=50, theme="marking", min_funding=0)],
    )


def test_rule5_grant_size_limits():
    result = solved(rule5())
    assert funded(result) == {"NER-1": 100, "MLI-1": 0}
    assert grants(result) == {("UNSCAR", "NER-1"): 100}


def test_rule5_validator_catches_grants_outside_the_limits():
    s = rule5()
    _broken(s, [alloc("UNSCAR", "NER-1", 150)], "rule 5")
    _broken(s, [alloc("USA", "MLI-1", 50)], "rule 5")


# Rule 6: partner capacity ----------------------------------------------------------------------------


def rule6():
    return scenario(
        [{"id": "DEU", "budget": 200}],
        [req("A", priority=5, partner="UNREC"), req("B", priority=4, partner="UNREC")],
        partners=[{"id": "UNREC", "type": "un", "max_projects": 1}],
    )


def test_rule6_partner_runs_at_most_max_projects():
    result = solved(rule6())
    assert funded(result) == {"A": 100, "B": 0}
    assert "partner_capacity" in result.requests[1].reason_codes


def test_rule6_validator_catches_too_many_projects():
    _broken(rule6(), [alloc("DEU", "A", 100), alloc("DEU", "B", 100)], "rule 6")


# Rule 7: donors per request ---------------------------------------------------------------------------


def rule7():
    """Two donors with 60 each, one request of 100 that takes any amount, at most 1 donor."""
    return scenario(
        [{"id": "DEU", "budget": 60}, {"id": "JPN", "budget": 60}],
        [req("A", priority=5, min_funding=0)],
        policy={"max_donors_per_request": 1},
    )


def test_rule7_one_donor_per_request():
    result = solved(rule7())
    assert funded(result) == {"A": 60}
    assert len(result.allocations) == 1


def test_rule7_validator_catches_too_many_donors():
    _broken(rule7(), [alloc("DEU", "A", 50), alloc("JPN", "A", 50)], "rule 7")


# Rule 8: prerequisites ----------------------------------------------------------------------------------


def rule8(budget: int):
    """A (priority 5) needs B (priority 1); C is priority 4."""
    return scenario(
        [{"id": "DEU", "budget": budget}],
        [req("A", priority=5, requires=["B"]), req("B", priority=1), req("C", priority=4)],
    )


def test_rule8_prerequisite_funded_first():
    # 100: A cannot go alone, so C (8) beats B (1). 200: A+B (17) beats B+C (9).
    small = solved(rule8(100))
    assert funded(small) == {"A": 0, "B": 0, "C": 100}
    assert "prerequisite_unfunded" in small.requests[0].reason_codes
    assert funded(solved(rule8(200))) == {"A": 100, "B": 100, "C": 0}


def test_rule8_validator_catches_missing_prerequisite():
    _broken(rule8(100), [alloc("DEU", "A", 100)], "rule 8")


# Rule 9: country cap --------------------------------------------------------------------------------------


def rule9():
    """Niger may get at most half of all money: NER <= MLI, so both get 40 (coverage 6.4 + 1)."""
    return scenario(
        [{"id": "DEU", "budget": 1000}],
        [req("NER-1", priority=5, min_funding=0), req("MLI-1", "MLI", amount=40, priority=1, min_funding=0)],
        policy={"max_country_share": 0.5},
    )


def test_rule9_country_cap():
    result = solved(rule9())
    assert funded(result) == {"NER-1": 40, "MLI-1": 40}
    assert result.objective["coverage"] == pytest.approx(16 * 0.4 + 1)


def test_rule9_validator_catches_country_over_its_share():
    _broken(rule9(), [alloc("DEU", "NER-1", 100), alloc("DEU", "MLI-1", 40)], "rule 9")


# Rule 10: region floors -------------------------------------------------------------------------------------


def rule10():
    """At least half to Africa: Peru can get no more than Niger's 40."""
    return scenario(
        [{"id": "DEU", "budget": 1000}],
        [req("PER-1", "PER", priority=5, min_funding=0), req("NER-1", amount=40, priority=1, min_funding=0)],
        policy={"region_floors": {"africa": 0.5}},
    )


def test_rule10_region_floor():
    assert funded(solved(rule10())) == {"PER-1": 40, "NER-1": 40}


def test_rule10_validator_catches_region_below_its_floor():
    _broken(rule10(), [alloc("DEU", "PER-1", 100), alloc("DEU", "NER-1", 40)], "rule 10")


# Rule 11: commitments ---------------------------------------------------------------------------------------


def rule11():
    """50 of DEU's 100 are committed to B, so A (all or nothing, 100) can no longer be funded."""
    return scenario(
        [{"id": "DEU", "budget": 100}],
        [req("A", priority=5), req("B", amount=50, priority=1)],
        commitments=[{"donor": "DEU", "request": "B", "amount": 50}],
    )


def test_rule11_commitment_is_held():
    result = solved(rule11())
    assert funded(result) == {"A": 0, "B": 50}
    assert [a.committed for a in result.allocations] == [50]


def test_rule11_validator_catches_dropped_commitment():
    s = rule11()
    assert violations(s, [alloc("DEU", "B", 50)]) == []
    _broken(s, [alloc("DEU", "A", 100)], "rule 11")


# must_fund ------------------------------------------------------------------------------------------------------


def must_fund():
    return scenario(
        [{"id": "DEU", "budget": 100}],
        [req("A", priority=5), req("B", priority=1, must_fund=True)],
    )


def test_must_fund_request_is_funded_in_full():
    assert funded(solved(must_fund())) == {"A": 0, "B": 100}


def test_must_fund_validator_catches_unfunded():
    _broken(must_fund(), [alloc("DEU", "A", 100)], "must_fund")


def test_must_fund_beyond_the_money_is_infeasible():
    s = scenario([{"id": "DEU", "budget": 50}], [req("A", must_fund=True)])
    assert solved(s).status == "infeasible"


# in-kind capacity ---------------------------------------------------------------------------------------------


def in_kind():
    """3 team-weeks: A (2 weeks, priority 5) and C (1 week, priority 3) beat A alone or B and C."""
    return scenario(
        [{"id": "MSAG", "kind": "in_kind", "capacity": 3, "unit": "team-week"}],
        [req("A", priority=5), req("B", priority=4), req("C", amount=50, priority=3)],
        offers=[
            {"donor": "MSAG", "request": "A", "units": 2, "value": 100, "cost": 5},
            {"donor": "MSAG", "request": "B", "units": 2, "value": 100},
            {"donor": "MSAG", "request": "C", "units": 1, "value": 50},
        ],
    )


def test_in_kind_capacity():
    result = solved(in_kind())
    assert funded(result) == {"A": 100, "B": 0, "C": 50}
    assert {(a.request, a.kind, a.units) for a in result.allocations} == {("A", "in_kind", 2), ("C", "in_kind", 1)}
    assert result.objective["coverage"] == pytest.approx(16 + 4)
    assert objective_terms(in_kind(), result.allocations)["cost"] == 5


def test_in_kind_validator_catches_capacity_overrun():
    s = in_kind()
    over = [alloc("MSAG", r, 100, kind="in_kind", units=2) for r in ("A", "B")]
    _broken(s, over, "capacity")

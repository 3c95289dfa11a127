"""Reasons a coordinator reads for each request not fully funded, on hand-checked fixtures."""

from __future__ import annotations

from helpers import funded, req, scenario, solved

from matcher.engine import solve
from matcher.scenario_io import parse_scenario


def test_unfunded_request_names_the_requests_that_took_the_money():
    # 100 to spend: B (16 for 75) and C (8 for 25) beat A (4 for 100, all or nothing).
    s = scenario(
        [{"id": "DEU", "budget": 100}],
        [req("A", priority=3), req("B", priority=5, amount=75), req("C", priority=4, amount=25)],
    )
    result = solved(s)
    assert funded(result) == {"A": 0, "B": 75, "C": 25}
    a = result.requests[0]
    assert a.reason_codes == ["budget_spent"]
    # ranked by priority weight per unit requested (what a unit of money buys): C 8/25 before B 16/75
    assert a.reasons == [
        "eligible donors' budgets (DEU) spent on requests with as much or more priority weight per USD requested: C, B"
    ]


def test_partial_request_does_not_name_itself_as_taking_its_money():
    result = solved(scenario([{"id": "DEU", "budget": 60}], [req("A", min_funding=0)]))
    a = result.requests[0]
    assert (a.status, a.funded) == ("partial", 60)
    assert a.reasons == ["eligible donors' budgets (DEU) are spent, 60 of them on this request"]


def test_partial_request_names_only_the_others_that_took_the_money():
    result = solved(
        scenario([{"id": "DEU", "budget": 100}], [req("A", min_funding=0), req("B", priority=5, amount=75)])
    )
    assert funded(result) == {"A": 25, "B": 75}
    assert result.requests[0].reasons[-1].endswith("per USD requested: B")


def test_money_spent_says_when_the_same_budgets_also_funded_requests_that_buy_less():
    """B (16 for 60) and A (4 for 40, all or nothing) fill DEU's 100; C (8 for 50) does not fit beside B.
    "spent on requests with as much or more priority weight" alone read as if all of it went to such."""
    s = scenario(
        [{"id": "DEU", "budget": 100}],
        [req("A", priority=3, amount=40), req("B", priority=5, amount=60), req("C", priority=4, amount=50)],
    )
    result = solved(s)
    assert funded(result) == {"A": 40, "B": 60, "C": 0}
    assert result.requests[2].reasons == [
        "eligible donors' budgets (DEU) spent on requests with as much or more priority weight per USD requested: B; "
        "also on A, with less per USD but fitting what was left as a whole"
    ]


def test_a_budget_nobody_used_is_not_called_spent():
    """UNSCAR gives at most 100,000 to one request and COL asks 250,000: UNSCAR's 200,000 stays unused, and the
    reasons said "eligible donors' budgets (UNSCAR) are spent" next to the max_grant reason that does stop it."""
    s = scenario(
        [{"id": "UNSCAR", "budget": 200_000, "max_grant": 100_000}],
        [{"id": "COL-DDR-01", "country": "COL", "theme": "ddr", "amount": 250_000}],
    )
    (outcome,) = solved(s).requests
    assert outcome.reason_codes == ["min_funding_unreachable"]
    assert "spent" not in " ".join(outcome.reasons)


def test_a_request_the_country_cap_excludes_on_its_own_says_so():
    """'SHN already receives 0 of 4,406,738 (cap 20%)' named no cause: the request alone exceeds the cap."""
    s = scenario(
        [{"id": "DEU", "budget": 1000}],
        [
            req("A", country="NER", amount=300),
            req("B", country="MLI", amount=300),
            req("C", country="TCD", amount=300),
            req("D", country="SEN", amount=300, priority=5),
        ],
        policy={"max_country_share": 0.3},
    )
    result = solved(s)  # all or nothing at 300 each: 3 funded would be 33% each, 4 need 1,200: none is funded
    assert sum(funded(result).values()) == 0
    d = next(o for o in result.requests if o.id == "D")
    assert "country cap binding: its 300 alone would be more than 30% of all money placed (0 without it)" in d.reasons


def test_a_donors_own_grant_limits_are_named_not_a_trade_off():
    """E has 900 left after both grants, yet R3 gets nothing and R4 half: E's grants are 60 to 100 (rule 5). The
    reasons once said 'funding it would lower the priority-weighted coverage' (trade_off) for both."""
    s = parse_scenario(
        {
            "name": "limits",
            "currency": "USD",
            "donors": [{"id": "E", "budget": 1000, "min_grant": 60, "max_grant": 100}],
            "requests": [
                {"id": "R3", "country": "BFA", "theme": "marking", "amount": 50},
                {"id": "R4", "country": "BFA", "theme": "marking", "amount": 200, "min_funding": 0.4},
            ],
        }
    )
    r = solve(s)
    why = {o.id: (o.reason_codes, o.reasons) for o in r.requests}
    assert why["R3"] == (
        ["min_funding_unreachable"],
        [
            "minimum funding not reachable: needs 50, eligible donors can give at most 0 "
            "(E's min_grant 60 is above the 50 it could give)"
        ],
    )
    assert why["R4"] == (["max_grant"], ["max_grant reached: it has the most that E (100 USD) may give one request"])


def test_grant_limits_that_make_a_minimum_unreachable_are_named_and_never_blamed_for_a_cap():
    """D gives one request at most 60,000 and E at least 150,000: ALL (100,000, all or nothing) was told
    'trade_off', and explain contradicted it. R3 of the second round is stopped by the 70% country cap alone,
    yet was also told B's leftover is below its min_grant while A had 200,000 left."""
    limits = parse_scenario(
        {
            "name": "r2",
            "currency": "USD",
            "donors": [
                {"id": "D", "budget": 500000, "max_grant": 60000},
                {"id": "E", "budget": 500000, "min_grant": 150000},
            ],
            "requests": [{"id": "ALL", "country": "NER", "theme": "stockpile", "amount": 100000, "priority": 5}],
        }
    )
    (out,) = solve(limits).requests
    assert (out.reason_codes, out.reasons) == (
        ["min_funding_unreachable"],
        [
            "minimum funding not reachable: needs 100,000, eligible donors can give at most 60,000 "
            "(D gives one request at most 60,000; E's min_grant 150,000 is above the 100,000 it could give)"
        ],
    )
    cap = parse_scenario(
        {
            "name": "r1",
            "currency": "USD",
            "policy": {"max_country_share": 0.7},
            "donors": [
                {"id": "A", "budget": 300000, "countries": ["NER"]},
                {"id": "B", "budget": 60000, "min_grant": 50000, "countries": ["MLI", "NER"]},
            ],
            "requests": [
                {"id": "R1", "country": "NER", "theme": "stockpile", "amount": 100000, "priority": 5},
                {"id": "R2", "country": "MLI", "theme": "stockpile", "amount": 50000, "priority": 5},
                {"id": "R3", "country": "NER", "theme": "marking", "amount": 100000, "priority": 1},
            ],
        }
    )
    r3 = next(o for o in solve(cap).requests if o.id == "R3")
    assert r3.reason_codes == ["country_cap"]

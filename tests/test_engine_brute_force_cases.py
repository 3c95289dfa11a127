"""Rounds on which an independent brute-force search (every allocation of a tiny round, checked rule by
rule) once disagreed with the engine. Each answer here is the brute force's, worked out by hand too."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import funded, grants, scenario, solved

from matcher.engine import SolveParams, solve
from matcher.engine.compile import compile_problem
from matcher.engine.readout import Solution
from matcher.engine.solve import _better_first
from matcher.errors import MatcherError
from matcher.graph import analyse
from matcher.scenario_io import load_scenario, parse_scenario
from matcher.validate import check_solution


def test_an_optimal_coverage_uses_the_in_kind_offer_that_frees_money():
    """K's expert-day (worth 2) on R1 frees 2 of D0's 8 for R0: coverage 5 + 5 x 5/5 + 1 x 2/3 = 32.667, not the 32 of
    D0 alone. HiGHS once reported "optimal" for 32 under its own bound of 32.667 (a start kept through a restart)."""
    s = scenario(
        [{"id": "D0", "budget": 8}, {"id": "K", "kind": "in_kind", "capacity": 1, "unit": "expert-day"}],
        [
            {"id": "R0", "country": "MLI", "theme": "stockpile", "amount": 3, "priority": 1, "min_funding": 0.2},
            {"id": "R1", "country": "PER", "theme": "marking", "amount": 3, "priority": 5, "min_funding": 0},
            {"id": "R2", "country": "PER", "theme": "stockpile", "amount": 5, "priority": 5},
        ],
        offers=[{"donor": "K", "request": "R1", "units": 1, "value": 2}],
        policy={"objective": ["coverage", "grants"]},
    )
    r = solved(s)
    assert r.status == "optimal"
    assert r.objective["coverage"] == pytest.approx(32 + 2 / 3)
    assert funded(r) == {"R0": 2, "R1": 3, "R2": 5}
    for st in r.solver.stages:  # an optimal stage is one whose value its bound proves
        assert st.value == pytest.approx(st.bound, rel=1e-6)


def test_fewest_grants_is_proven_not_taken_from_a_wrong_presolve():
    """R1 needs R0; 2 grants do it (D1 -> R0 5, D0 -> R1 5), not 3. HiGHS's presolve once called the
    grants stage infeasible and came back "optimal" with its start of 3 grants and a bound of -inf."""
    s = scenario(
        [{"id": "D0", "budget": 5}, {"id": "D1", "budget": 8}],
        [
            {"id": "R0", "country": "KEN", "theme": "marking", "amount": 5},
            {"id": "R1", "country": "PER", "theme": "marking", "amount": 5, "priority": 4, "requires": ["R0"]},
        ],
        policy={"objective": ["coverage", "grants", "volume"]},
    )
    r = solved(s)
    assert r.status == "optimal"
    assert len(r.allocations) == 2
    assert funded(r) == {"R0": 5, "R1": 5}


def test_a_commitment_below_the_donors_minimum_grant_becomes_a_grant_of_that_minimum():
    """D1 committed 2 to R1 but gives no grant under 3: the grant is 3 (rule 5 and rule 11 together),
    the commitment still reported as 2."""
    s = scenario(
        [{"id": "D0", "budget": 8}, {"id": "D1", "budget": 3, "min_grant": 3}],
        [{"id": "R1", "country": "NER", "theme": "marking", "amount": 3}],
        commitments=[{"donor": "D1", "request": "R1", "amount": 2}],
        policy={"objective": ["coverage", "volume"]},
    )
    for method in ("auto", "full"):
        r = solve(s, SolveParams(time_limit=10, method=method))
        assert r.status == "optimal"
        assert grants(r) == {("D1", "R1"): 3}
        assert [a.committed for a in r.allocations] == [2]
        check_solution(s, r)


def test_a_commitment_that_cannot_reach_the_donors_minimum_grant_is_infeasible():
    """D0's budget (2) is below its minimum grant (3), yet it committed 1 to R0: no allocation keeps both."""
    s = scenario(
        [{"id": "D0", "budget": 2, "min_grant": 3}, {"id": "D1", "budget": 4}],
        [{"id": "R0", "country": "NER", "theme": "marking", "amount": 2, "must_fund": True}],
        commitments=[{"donor": "D0", "request": "R0", "amount": 1}],
    )
    assert solved(s).status == "infeasible"


def test_money_placed_first_is_not_traded_for_the_greedy_starts_coverage():
    """With [volume, coverage] the 30 units of the three donors all go out (10 per request of NER), whatever
    the greedy start's coverage; the greedy start once replaced a proven 30 because it covered more."""
    requests = [{"id": f"N{k}", "country": "NER", "theme": "marking", "amount": 10, "priority": 1} for k in range(350)]
    requests += [{"id": f"M{k}", "country": "MLI", "theme": "marking", "amount": 4, "priority": 5} for k in range(350)]
    s = scenario(
        [{"id": f"D{i}", "budget": 10} for i in range(3)],
        requests,
        policy={"objective": ["volume", "coverage", "grants"]},
    )
    r = solve(s, SolveParams(time_limit=60, polish_seconds=0))
    assert r.objective["volume"] == 30


def test_an_offer_the_donor_cannot_make_is_allowed_and_never_delivered():
    """The format allows an offer above the donor's capacity, or to a request its earmarks exclude
    ("earmarks apply to in-kind donors as to others"): such an offer is simply never delivered."""
    s = scenario(
        [
            {"id": "D0", "budget": 4},
            {"id": "K", "kind": "in_kind", "capacity": 2, "unit": "team", "countries": ["NER", "MLI"]},
        ],
        [
            {"id": "R0", "country": "NER", "theme": "training", "amount": 5},
            {"id": "R1", "country": "PER", "theme": "training", "amount": 5},
            {"id": "R2", "country": "MLI", "theme": "training", "amount": 5},
        ],
        offers=[
            {"donor": "K", "request": "R0", "units": 3, "value": 5},  # above the capacity of 2
            {"donor": "K", "request": "R1", "units": 1, "value": 5},  # PER is outside K's countries
            {"donor": "K", "request": "R2", "units": 2, "value": 5},
        ],  # the one K can make
    )
    r = solved(s)
    assert r.status == "optimal"
    assert [(a.donor, a.request) for a in r.allocations if a.kind == "in_kind"] == [("K", "R2")]
    check_solution(s, r)


def test_an_offer_never_delivered_makes_no_request_reachable():
    """K's offers are above its capacity (R0) or outside its earmarks (R1): no donor can reach either
    request, and the reasons and the eligibility graph say so instead of blaming K's capacity."""
    s = scenario(
        [
            {"id": "D0", "budget": 4, "countries": ["NER"]},
            {"id": "K", "kind": "in_kind", "capacity": 2, "unit": "team", "countries": ["NER", "MLI"]},
        ],
        [
            {"id": "R0", "country": "MLI", "theme": "training", "amount": 5},
            {"id": "R1", "country": "PER", "theme": "training", "amount": 5},
        ],
        offers=[
            {"donor": "K", "request": "R0", "units": 3, "value": 5},
            {"donor": "K", "request": "R1", "units": 1, "value": 5},
        ],
    )
    r = solved(s)
    assert {o.id: o.reason_codes for o in r.requests} == {"R0": ["no_eligible_donor"], "R1": ["no_eligible_donor"]}
    reasons = {o.id: o.reasons[0] for o in r.requests}
    assert reasons["R0"].endswith("K's offer (3 team over its capacity of 2)")
    assert reasons["R1"].endswith("K's offer (countries earmark (NER, MLI) excludes PER)")
    assert analyse(s)["orphan_requests"] == ["R0", "R1"]


def test_the_greedy_start_never_replaces_a_plan_that_places_more_money_first():
    """[volume, coverage]: one unit of money placed outweighs any coverage, even at 2e7 units (a relative
    tolerance of 1e-6 would call 10 units a tie)."""
    s = scenario(
        [{"id": "D", "budget": 20_000_000}],
        [
            {"id": "BIG", "country": "NER", "theme": "marking", "amount": 19_999_990, "priority": 1, "min_funding": 0},
            {"id": "SMALL", "country": "MLI", "theme": "marking", "amount": 20, "priority": 5, "min_funding": 0},
        ],
        policy={"objective": ["volume", "coverage", "grants"]},
    )
    p = compile_problem(s)
    made = Solution({}, set(), [19_999_990, 0])
    greedy = Solution({}, set(), [19_999_970, 10])  # 10 units fewer, more coverage
    assert _better_first(p, made, greedy, ["volume", "coverage", "grants"]) is None
    assert _better_first(p, greedy, made, ["volume", "coverage", "grants"]) is made


def test_amounts_beyond_what_the_solver_handles_are_refused_not_answered_wrongly():
    """With amounts of 7e9-1e10 IDR HiGHS returned coverage 1 as "optimal" where FRA-MARK 7e9 and
    NER-PSSM 3e9 give 16.3 (the same round in units of 1e9 solves right): refused, naming the place."""
    s = scenario(
        [{"id": "JPN", "budget": 10_000_000_000}],
        [
            {"id": "FRA-MARK", "country": "FRA", "theme": "marking", "amount": 7_000_000_000, "priority": 5},
            {
                "id": "NER-PSSM",
                "country": "NER",
                "theme": "stockpile",
                "amount": 10_000_000_000,
                "min_funding": 0,
                "priority": 1,
            },
        ],
        policy={"region_floors": {"africa": 0.3}},
    )
    with pytest.raises(MatcherError, match=r"^donors\[JPN\]\.budget: 10,000,000,000 USD is above 1,000,000,000, "):
        solve(s, SolveParams(time_limit=20))


def test_a_budget_beyond_all_that_is_asked_is_no_obstacle():
    """A donor's envelope larger than every request together never binds, whatever its size."""
    s = scenario(
        [{"id": "EU", "budget": 50_000_000_000}],
        [
            {"id": "R0", "country": "NER", "theme": "marking", "amount": 300_000},
            {"id": "R1", "country": "MLI", "theme": "marking", "amount": 200_000},
        ],
    )
    r = solve(s, SolveParams(time_limit=20))
    assert r.status == "optimal"
    assert funded(r) == {"R0": 300_000, "R1": 200_000}


def test_commitments_from_more_donors_than_a_request_may_have_are_infeasible():
    """Spec: commitments "count against every limit"; two committed donors under max_donors_per_request 1
    crashed the default path ("the solution breaks hard rules: rule 7") where the full model said infeasible."""
    s = scenario(
        [{"id": "D1", "budget": 10}, {"id": "D2", "budget": 10}],
        [{"id": "R1", "country": "NER", "theme": "legislation", "amount": 8}],
        commitments=[{"donor": "D1", "request": "R1", "amount": 2}, {"donor": "D2", "request": "R1", "amount": 1}],
        policy={"max_donors_per_request": 1},
    )
    for method in ("auto", "full"):
        assert solve(s, SolveParams(time_limit=10, method=method)).status == "infeasible"


def test_min_and_max_grant_are_scenario_currency_for_the_scale_check():
    """max_grant is in the scenario currency (compile.py): 950,000,000 USD was converted with the donor's
    EUR rate to 1,026,000,000 and refused."""
    s = parse_scenario(
        {
            "name": "scale-fx",
            "currency": "USD",
            "fx": {"EUR": 1.08},
            "donors": [{"id": "EU", "budget": 800_000_000, "currency": "EUR", "max_grant": 950_000_000}],
            "requests": [
                {"id": "R1", "country": "MLI", "theme": "marking", "amount": 600_000_000, "min_funding": 0},
                {"id": "R2", "country": "NER", "theme": "tracing", "amount": 600_000_000, "min_funding": 0},
            ],
        }
    )
    assert solve(s, SolveParams(time_limit=20)).objective["volume"] == 864_000_000


@pytest.mark.parametrize("method", ["auto", "full"])
def test_a_request_with_two_prerequisites_is_solved(method):
    """R3 needs R1 and R2. Both rows of rule 8 carried one name, MathOpt refused the model and every such
    file ended in "HiGHS failed" (exit 1): 63 of 70 random rounds with two prerequisites on a request."""
    s = scenario(
        [{"id": "A", "budget": 100}, {"id": "B", "budget": 50}],
        [
            {"id": "R1", "country": "NER", "theme": "stockpile", "amount": 60, "priority": 5},
            {"id": "R2", "country": "BRA", "theme": "marking", "amount": 40, "priority": 3},
            {"id": "R3", "country": "PHL", "theme": "tracing", "amount": 30, "priority": 2, "requires": ["R1", "R2"]},
        ],
    )
    r = solve(s, SolveParams(time_limit=10, method=method))
    assert r.status == "optimal"
    assert r.objective["coverage"] == pytest.approx(22)  # all three: weights 16 + 4 + 2
    assert funded(r) == {"R1": 60, "R2": 40, "R3": 30}


def test_a_round_of_tens_of_millions_reaches_its_optimum():
    """Coverage is kept in later stages by a row of weight/amount coefficients (1e-8 here): unscaled, HiGHS met
    it only within its tolerance and the round came back "optimal" at 13.9073 with a bound of 13.9073. The
    optimum, 13.959646910466583 (CP-SAT, exact): D0 -> R2 34,000,000; D2 -> R1 51,000,000, R3 46,000,000 and
    R4 62,000,000. The same round in units of a million was always right."""
    s = scenario(
        [{"id": "D0", "budget": 59_000_000, "max_grant": 34_000_000}, {"id": "D2", "budget": 159_000_000}],
        [
            {"id": "R1", "country": "MLI", "theme": "record_keeping", "amount": 61_000_000, "min_funding": 0.7},
            {"id": "R2", "country": "MLI", "theme": "record_keeping", "amount": 52_000_000, "min_funding": 0.5},
            {"id": "R3", "country": "MLI", "theme": "transfer_control", "amount": 46_000_000, "min_funding": 0.3},
            {"id": "R4", "country": "MLI", "theme": "record_keeping", "amount": 62_000_000},
        ],
        policy={"max_donors_per_request": 1},
    )
    for method in ("auto", "full"):
        r = solve(s, SolveParams(time_limit=10, method=method))
        assert r.status == "optimal"
        assert r.objective["coverage"] == pytest.approx(13.959646910466583, rel=1e-6)
        assert r.bound["coverage"] >= r.objective["coverage"] - 1e-9


def test_a_later_stage_keeps_coverage_within_the_tolerance_with_room_for_the_solvers_own():
    """The grants stage may move coverage by a relative 1e-6; HiGHS met that row within its own tolerance,
    the allocation lost 1.05e-6 and the validator stopped the solve as an engine bug (exit 1)."""
    s = scenario(
        [{"id": "D0", "budget": 850_000}, {"id": "D1", "budget": 690_000}],
        [
            {"id": "R0", "country": "BRA", "theme": "record_keeping", "amount": 150_000},
            {"id": "R1", "country": "BRA", "theme": "tracing", "amount": 980_000, "priority": 4, "min_funding": 0.15},
            {"id": "R2", "country": "BRA", "theme": "tracing", "amount": 280_000, "priority": 1, "min_funding": 0},
            {
                "id": "R4",
                "country": "BRA",
                "theme": "record_keeping",
                "amount": 880_000,
                "priority": 2,
                "min_funding": 0.3,
            },
        ],
        commitments=[
            {"donor": "D1", "request": "R2", "amount": 100_000},
            {"donor": "D1", "request": "R0", "amount": 50_000},
        ],
    )
    r = solved(s)
    assert r.status == "optimal"
    assert r.objective["coverage"] == pytest.approx(1837 / 140, rel=1e-6)
    assert r.objective["volume"] == 1_540_000
    assert r.objective["grants"] == 5


def test_the_fewest_grants_of_a_small_round_are_found_by_default():
    """A 4 x 5 round (20 pairs): the full model's search for fewer grants, under 50 nodes, stopped at 8;
    7 keep every rule (brute force), and with 1,000 nodes it finds and proves them."""
    s = parse_scenario(
        {
            "name": "rnd",
            "currency": "USD",
            "fx": {"SEK": 0.7},
            "policy": {"priority_weights": {"5": 32}, "agenda_weights": {"diversion": 3, "wps": 1.25}},
            "donors": [
                {"id": "D0", "budget": 107, "themes": ["destruction", "community"]},
                {"id": "D1", "budget": 150, "currency": "SEK"},
                {"id": "D2", "budget": 108, "currency": "SEK", "min_grant": 23},
                {"id": "D3", "budget": 55},
            ],
            "requests": [
                {
                    "id": "R0",
                    "country": "IDN",
                    "theme": "ddr",
                    "amount": 51,
                    "min_funding": 0.25,
                    "agenda": ["diversion"],
                },
                {"id": "R1", "country": "PHL", "theme": "community", "amount": 100, "priority": 1, "min_funding": 0.25},
                {"id": "R2", "country": "KEN", "theme": "ddr", "amount": 98, "priority": 5},
                {
                    "id": "R3",
                    "country": "MEX",
                    "theme": "community",
                    "amount": 27,
                    "min_funding": 0.15,
                    "agenda": ["diversion", "sdg16.4"],
                },
                {
                    "id": "R4",
                    "country": "IDN",
                    "theme": "destruction",
                    "amount": 86,
                    "min_funding": 0.15,
                    "agenda": ["iti", "wps"],
                },
            ],
        },
        source="fixture",
    )
    r = solved(s)
    assert r.status == "optimal"
    assert (r.objective["coverage"], r.objective["volume"], r.objective["grants"]) == (pytest.approx(61.8), 342, 7)


def test_a_grant_binary_off_within_tolerance_lets_no_money_through():
    """Amounts of 1e7-1e8: HiGHS held a grant's binary at 1.4e-7 (within its integrality tolerance of 1e-6) and
    let 10 units through a donor whose grants start at 32,000,000; the validator stopped the solve as an
    engine bug. With the tolerance tightened to the largest grant, every grant keeps rule 5."""
    s = parse_scenario(
        {
            "name": "rnd",
            "currency": "USD",
            "fx": {"JPY": 0.0067},
            "policy": {"region_floors": {"asia": 0.1}},
            "donors": [
                {"id": "D0", "budget": 8_805_000_000, "currency": "JPY", "exclude_countries": ["MEX"]},
                {"id": "D1", "budget": 71_000_000, "min_grant": 32_000_000},
                {"id": "D2", "budget": 107_000_000},
                {"id": "D3", "budget": 41_000_000, "min_grant": 8_000_000, "max_grant": 86_000_000},
            ],
            "requests": [
                {"id": "R0", "country": "AFG", "theme": "ddr", "amount": 77_000_000, "priority": 2},
                {"id": "R1", "country": "AFG", "theme": "ddr", "amount": 63_000_000, "priority": 5},
                {"id": "R2", "country": "MEX", "theme": "ddr", "amount": 64_000_000},
                {
                    "id": "R3",
                    "country": "MEX",
                    "theme": "ddr",
                    "amount": 100_000_000,
                    "priority": 1,
                    "requires": ["R1"],
                },
                {"id": "R4", "country": "MEX", "theme": "transfer_control", "amount": 96_000_000, "min_funding": 0.15},
            ],
            "commitments": [{"donor": "D0", "request": "R1", "amount": 6_000_000}],
        },
        source="fixture",
    )
    r = solved(s)
    assert r.status == "optimal"
    assert r.objective["volume"] == 277_993_500
    assert r.objective["grants"] == 7
    assert all(a.amount >= 32_000_000 for a in r.allocations if a.donor == "D1")


def test_a_stage_bound_is_never_below_the_money_the_allocation_placed():
    """Found by the brute-force review: volume 1 reported with the bound 0.9999991 (HiGHS's tolerance on a whole f
    of 0.9999991, then rounded to 1), a 'bound' the allocation itself beats."""
    s = scenario(
        [{"id": "D0", "budget": 10, "max_grant": 5, "exclude_countries": ["KEN"]}],
        [
            {
                "id": "R0",
                "country": "PER",
                "theme": "community",
                "amount": 1,
                "priority": 2,
                "min_funding": 0.75,
                "agenda": ["diversion"],
            },
            {
                "id": "R1",
                "country": "COL",
                "theme": "community",
                "amount": 8,
                "priority": 3,
                "min_funding": 0.75,
                "requires": ["R0"],
            },
            {
                "id": "R2",
                "country": "AFG",
                "theme": "stockpile",
                "amount": 5,
                "priority": 3,
                "min_funding": 0.3,
                "requires": ["R1", "R0"],
            },
        ],
    )
    result = solved(s)
    for st in result.solver.stages:
        assert (st.bound >= st.value) if st.sense == "max" else (st.bound <= st.value), st
    assert result.bound["volume"] >= result.objective["volume"] == 1


@pytest.mark.parametrize(("name", "fewest"), [("grants-109-pairs", 24), ("grants-46-pairs", 14)])
def test_small_rounds_get_their_fewest_grants_by_default(name, fewest):
    """The reviewer's exact reference says 24 and 14; the default solve kept 38 (the search with money
    continuous stopped at 100 pairs) and 16 (its pattern had no whole-unit allocation), 'feasible'."""
    from pathlib import Path

    from matcher.scenario_io import load_scenario

    result = solved(load_scenario(Path(__file__).parent / "data" / f"{name}.yaml"))
    assert result.status == "optimal"
    assert result.objective["grants"] == fewest


def test_a_later_stage_that_breaks_the_kept_coverage_in_whole_units_does_not_leave_the_round_feasible():
    """R2's weight is 0.99999905 of R1's per request, so funding R2 (volume 100) gives up 0.95e-6 of coverage:
    inside the spec's 1e-6, outside the 0.9e-6 the engine keeps (docs/scenario-format.md). HiGHS met the keep row
    only within its tolerance and took R2; no grants could follow, and the round came back 'feasible' with a grants
    bound of 0, R1 under --method full. Both methods now give R1, proven."""
    s = scenario(
        [{"id": "A", "budget": 100}],
        [
            {"id": "R1", "country": "NER", "theme": "marking", "amount": 60},
            {"id": "R2", "country": "MLI", "theme": "marking", "amount": 100, "agenda": ["near"]},
        ],
        policy={"agenda_weights": {"near": 0.99999905}},
    )
    for method in ("auto", "full"):
        r = solve(s, SolveParams(method=method))
        assert r.status == "optimal", method
        assert funded(r) == {"R1": 60, "R2": 0}, method
        check_solution(s, r)


def test_the_volume_stage_moves_no_money_that_places_no_more(tmp_path):
    """Sahel without MSAG's teams, money terms only: the volume stage's MIP (seed 1) once came back with the same
    money placed but one dollar moved from MLI-PSSM-01 (380,000 asked) to MLI-COMM-01, losing 2e-7 of coverage
    for nothing, so a sweep counted MLI-PSSM-01 'partly funded' in every draw without MSAG. A later stage's plan
    is taken only when it does better on its own term."""
    variant = tmp_path / "no-msag.yaml"
    variant.write_text(
        f"base: {Path(__file__).resolve().parent.parent / 'scenarios' / 'sahel-pssm-2027.yaml'}\n"
        "set: ['donors[MSAG].capacity=0', 'policy.objective=[coverage, volume]']\n"
    )
    for seed in (0, 1):
        r = solve(load_scenario(variant), SolveParams(seed=seed))
        assert r.status == "optimal"
        assert funded(r)["MLI-PSSM-01"] == 380000, seed

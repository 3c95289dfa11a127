"""The CP-SAT path for rounds of in-kind offers only (matcher/engine/assign.py) against the HiGHS full model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.domain import Scenario
from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError
from matcher.gap import read_gap
from matcher.result import Result
from matcher.scenario_io import parse_scenario
from tests.helpers import funded, req, scenario

GAP = Path(__file__).resolve().parent.parent / "data" / "gap"


def both(s: Scenario) -> tuple[Result, Result]:
    """The same scenario on CP-SAT and on the HiGHS full model (single thread, generous limits)."""
    cpsat = solve(s, SolveParams(time_limit=30, method="cpsat"))
    full = solve(s, SolveParams(time_limit=30, method="full"))
    assert cpsat.solver.engine == "cpsat" and full.solver.engine.startswith("mathopt")
    return cpsat, full


def assert_same_optimum(s: Scenario) -> Result:
    cpsat, full = both(s)
    assert cpsat.status == full.status
    for stage, ref in zip(cpsat.solver.stages, full.solver.stages, strict=True):
        assert stage.term == ref.term
        assert stage.value == pytest.approx(ref.value, rel=1e-6, abs=1e-6)
        assert stage.status == "optimal" and stage.bound == pytest.approx(stage.value, rel=1e-6, abs=1e-6)
    return cpsat


def team(donor: str = "T", capacity: int = 3) -> dict:
    return {"id": donor, "kind": "in_kind", "capacity": capacity, "unit": "team-week"}


def offer(donor: str, request: str, units: int, value: int, cost: int = 0) -> dict:
    return {"donor": donor, "request": request, "units": units, "value": value, "cost": cost}


@pytest.mark.parametrize(("name", "optimum"), [("gap1-0", 261), ("gap1-1", 269)])
def test_smallest_gap_instances_match_the_full_model(name: str, optimum: int) -> None:
    result = assert_same_optimum(parse_scenario(read_gap(GAP / "cattrysse1994" / name)))
    assert result.objective["cost"] == optimum
    assert result.status == "optimal"


def test_auto_picks_cpsat_for_in_kind_only_rounds() -> None:
    result = solve(parse_scenario(read_gap(GAP / "cattrysse1994" / "gap1-0")), SolveParams(time_limit=30))
    assert result.solver.engine == "cpsat"


def test_auto_keeps_mathopt_when_money_can_fund_a_request(ok_in_kind) -> None:
    result = solve(parse_scenario(ok_in_kind), SolveParams(time_limit=30))
    assert result.solver.engine.startswith("mathopt")


def test_forcing_cpsat_on_money_is_a_clear_error(ok_small) -> None:
    with pytest.raises(MatcherError, match="method 'cpsat' covers rounds of in-kind offers only"):
        solve(parse_scenario(ok_small), SolveParams(method="cpsat"))


def test_must_fund_takes_two_part_deliveries() -> None:
    """A must be funded in full: two half deliveries (T and U) beat the cheaper single B delivery."""
    s = scenario(
        [team("T", 2), team("U", 2)],
        [req("A", amount=100, must_fund=True), req("B", amount=100, priority=5)],
        offers=[offer("T", "A", 2, 50, cost=3), offer("U", "A", 2, 50, cost=4), offer("T", "B", 1, 100)],
        policy={"objective": ["coverage", "cost"]},
    )
    result = assert_same_optimum(s)
    assert funded(result) == {"A": 100, "B": 0}


def test_must_fund_beyond_capacity_is_infeasible() -> None:
    s = scenario(
        [team("T", 2)],
        [req("A", must_fund=True), req("B", must_fund=True)],
        offers=[offer("T", "A", 2, 100), offer("T", "B", 2, 100)],
    )
    cpsat, full = both(s)
    assert cpsat.status == full.status == "infeasible"


def test_max_donors_per_request_counts_deliveries() -> None:
    """With one donor per request, A takes the whole delivery from V, not two halves from T and U."""
    s = scenario(
        [team("T"), team("U"), team("V")],
        [req("A", amount=100, min_funding=0.5)],
        offers=[offer("T", "A", 1, 50), offer("U", "A", 1, 50), offer("V", "A", 1, 100, cost=9)],
        policy={"max_donors_per_request": 1, "objective": ["coverage", "cost", "grants"]},
    )
    # Checked by hand, not against the full model: model.py skips rule 7 when no funds pair exists.
    result = solve(s, SolveParams(time_limit=30, method="cpsat"))
    assert result.status == "optimal"
    assert [(a.donor, a.request) for a in result.allocations] == [("V", "A")]
    assert result.objective["cost"] == 9 and result.bound["cost"] == 9


def test_partial_funding_prerequisites_and_partner_cap() -> None:
    """Partial shares in coverage, a prerequisite chain and a partner's one-project cap, all at once."""
    s = scenario(
        [team("T", 4), team("U", 2)],
        [
            req("A", amount=300, priority=2, min_funding=0.3),
            req("B", amount=200, priority=5, requires=["C"], partner="P"),
            req("C", amount=100, priority=1),
            req("D", amount=100, priority=4, partner="P"),
        ],
        partners=[{"id": "P", "type": "ngo", "max_projects": 1}],
        offers=[
            offer("T", "A", 1, 100),
            offer("U", "A", 1, 100),
            offer("T", "B", 2, 200),
            offer("U", "C", 1, 100),
            offer("T", "D", 1, 100),
        ],
    )
    assert_same_optimum(s)


def test_country_cap_and_region_floor() -> None:
    s = scenario(
        [team("T", 3)],
        [req("NER-1", "NER"), req("NER-2", "NER"), req("PER-1", "PER", priority=1)],
        offers=[offer("T", "NER-1", 1, 100), offer("T", "NER-2", 1, 100), offer("T", "PER-1", 1, 100)],
        policy={"max_country_share": 0.5, "region_floors": {"americas": 0.3}},
    )
    result = assert_same_optimum(s)
    assert funded(result)["PER-1"] == 100


def test_stopped_early_reports_a_true_bound_and_never_claims_optimal() -> None:
    """A tiny work limit on the hardest instance: no proof, so not optimal; the bound stays below 12244."""
    s = parse_scenario(read_gap(GAP / "chu1997" / "d20200"))
    result = solve(s, SolveParams(time_limit=30, node_limit=1, method="cpsat"))
    assert result.status in ("feasible", "unknown")
    cost = next(st for st in result.solver.stages if st.term == "cost") if result.has_solution() else None
    if cost is not None:
        assert cost.status == "feasible"
        assert cost.bound <= 12244 <= cost.value
        assert cost.gap > 0


def test_a_work_limit_replays_exactly() -> None:
    s = parse_scenario(read_gap(GAP / "chu1997" / "c05100"))
    params = SolveParams(time_limit=None, node_limit=300, method="cpsat", seed=3)
    first, again = solve(s, params), solve(s, params)
    assert first.allocations == again.allocations
    assert first.bound == again.bound


small_rounds = st.builds(
    lambda caps, rows, share: (caps, rows, share),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.lists(
        st.tuples(
            st.integers(1, 5),  # priority
            st.sampled_from([1.0, 0.5, 0.0]),  # min_funding
            st.booleans(),  # must_fund
            st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3), st.integers(1, 4), st.integers(0, 9)), max_size=3),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([None, 0.6]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_rounds)
def test_random_in_kind_rounds_match_the_full_model(round_) -> None:
    """Random small rounds (value in quarters of a 100 request, must_fund, min shares, country cap)."""
    caps, rows, share = round_
    donors = [team(f"D{i}", cap) for i, cap in enumerate(caps)]
    requests, offers, seen = [], [], set()
    for j, (priority, min_funding, must, row_offers) in enumerate(rows):
        requests.append(req(f"R{j}", ["NER", "PER"][j % 2], priority=priority, min_funding=min_funding, must_fund=must))
        for i, units, quarters, cost in row_offers:
            if i < len(caps) and (i, j) not in seen and units <= caps[i]:
                seen.add((i, j))
                offers.append(offer(f"D{i}", f"R{j}", units, 25 * quarters, cost))
    policy = {"objective": ["coverage", "cost", "grants"], "max_country_share": share}
    s = scenario(donors, requests, offers=offers, policy=policy)
    cpsat, full = both(s)
    assert cpsat.status == full.status
    for stage, ref in zip(cpsat.solver.stages, full.solver.stages, strict=True):
        assert stage.value == pytest.approx(ref.value, rel=1e-6, abs=1e-6)


def test_cli_method_cpsat(tmp_path: Path, ok_small) -> None:
    from click.testing import CliRunner

    from matcher.cli import cli

    scenario_file = tmp_path / "gap1-0.yaml"
    runner = CliRunner()
    assert (
        runner.invoke(
            cli, ["import", str(GAP / "cattrysse1994" / "gap1-0"), "--from", "gap", "-o", str(scenario_file)]
        ).exit_code
        == 0
    )
    done = runner.invoke(cli, ["solve", str(scenario_file), "--format", "json", "--method", "cpsat"])
    assert done.exit_code == 0 and '"engine": "cpsat"' in done.stdout
    money = tmp_path / "money.json"
    money.write_text(json.dumps(ok_small))
    done = runner.invoke(cli, ["solve", str(money), "--method", "cpsat"])
    assert done.exit_code == 1
    assert done.stderr.startswith("Error: method 'cpsat' covers rounds of in-kind offers only")

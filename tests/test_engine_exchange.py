"""Exchange paths (matcher/engine/exchange.py): grants that break a per-grant rule after the flow
are mended by moving money around short cycles, keeping every request's money, every budget and
every other rule."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.engine.compile import compile_problem
from matcher.engine.exchange import breaking, mend
from matcher.engine.realise import donor_slots, flow_grants
from matcher.generate import generate_round
from matcher.scenario_io import parse_scenario
from tests.helpers import req, scenario


def _grant(p, x, donor: str, request: str) -> int:
    i = [d.id for d in p.scenario.donors].index(donor)
    j = p.request_index[request]
    return x.get(p.pair_index(i, j), 0)


def test_a_grant_below_the_minimum_is_moved_around_a_cycle() -> None:
    # EU gives at least 50; the flow's split leaves EU 30 on A and JPN 70 on A, EU 70 and JPN 30 on B.
    # No single donor can take over, but EU 30 -> JPN on A with JPN 30 -> EU on B mends both.
    s = scenario(
        [{"id": "EU", "budget": 100, "min_grant": 50}, {"id": "JPN", "budget": 100, "min_grant": 50}],
        [req("A", amount=100), req("B", amount=100)],
    )
    p = compile_problem(s)
    x = {p.pair_index(0, 0): 30, p.pair_index(1, 0): 70, p.pair_index(0, 1): 70, p.pair_index(1, 1): 30}
    slots = donor_slots(p, set())
    assert len(breaking(p, x, slots)) == 2
    out = mend(p, x, slots)
    assert breaking(p, out, slots) == []
    assert _grant(p, out, "EU", "A") + _grant(p, out, "JPN", "A") == 100
    assert _grant(p, out, "EU", "B") + _grant(p, out, "JPN", "B") == 100
    assert sorted(out.values()) in ([100, 100], [50, 50, 50, 50])


def test_a_request_with_too_many_donors_loses_its_smallest_grant() -> None:
    s = scenario(
        [{"id": "EU", "budget": 100}, {"id": "JPN", "budget": 100}, {"id": "NOR", "budget": 100}],
        [req("A", amount=150), req("B", amount=150)],
        policy={"max_donors_per_request": 2},
    )
    p = compile_problem(s)
    x = {
        p.pair_index(0, 0): 100,
        p.pair_index(1, 0): 40,
        p.pair_index(2, 0): 10,
        p.pair_index(1, 1): 60,
        p.pair_index(2, 1): 90,
    }
    slots = donor_slots(p, set())
    assert breaking(p, x, slots) == [p.pair_index(2, 0)]
    out = mend(p, x, slots)
    assert breaking(p, out, slots) == []
    for j in (0, 1):
        assert sum(v for k, v in out.items() if p.pair_request[k] == j) == 150


def test_a_commitment_is_never_moved() -> None:
    s = scenario(
        [{"id": "EU", "budget": 100, "min_grant": 50}, {"id": "JPN", "budget": 100}],
        [req("A", amount=100)],
        commitments=[{"donor": "EU", "request": "A", "amount": 20}],
    )
    p = compile_problem(s)
    x = {p.pair_index(0, 0): 20, p.pair_index(1, 0): 80}
    out = mend(p, x, donor_slots(p, set()))
    assert _grant(p, out, "EU", "A") >= 20


def _check_kept(p, before: dict[int, int], after: dict[int, int], slots) -> None:
    for j in range(p.n_requests):
        assert sum(v for k, v in after.items() if p.pair_request[k] == j) == sum(
            v for k, v in before.items() if p.pair_request[k] == j
        )
    for i, budget in enumerate(p.budgets):
        assert sum(v for k, v in after.items() if p.pair_donor[k] == i) <= budget
    least = p.min_grants
    was_bad = set(breaking(p, before, slots))
    for k, v in after.items():
        assert v > 0 and p.pair_commit[k] <= v <= p.pair_cap[k]
        assert v >= least[p.pair_donor[k]] or k in was_bad or p.pair_commit[k]
    assert len(breaking(p, after, slots)) <= len(was_bad)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(10, 60), m=st.integers(2, 8), seed=st.integers(0, 10_000), share=st.floats(0.2, 0.9))
def test_mending_keeps_money_budgets_and_bounds(n: int, m: int, seed: int, share: float) -> None:
    p = compile_problem(parse_scenario(generate_round(n, m, seed)))
    # a money need per request that the flow can meet: its commitments and a share of the rest
    left = list(p.budgets)
    for k in range(len(p.pair_donor)):
        left[int(p.pair_donor[k])] -= int(p.pair_commit[k])
    need = [0] * p.n_requests
    for j in range(p.n_requests):
        pairs = list(p.request_pairs(j))
        committed = sum(int(p.pair_commit[k]) for k in pairs)
        want = max(0, int(p.scenario.requests[j].amount * share) - committed)
        need[j] = committed
        for k in pairs:
            take = min(want, int(p.pair_cap[k] - p.pair_commit[k]), max(0, left[int(p.pair_donor[k])]))
            left[int(p.pair_donor[k])] -= take
            need[j] += take
            want -= take
    flow = flow_grants(p, need)
    if flow is None:
        return
    slots = donor_slots(p, set())
    _check_kept(p, flow, mend(p, flow, slots), slots)

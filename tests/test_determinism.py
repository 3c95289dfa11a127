"""The default answer does not depend on the speed of Python's clock: the grants stage is work-limited.

What auditors rely on (``matcher replay``): a run re-solves to the same allocation on another machine
or under another load. Here "another machine" is a Python clock that runs eight times fast: every
decision the engine takes from it (how long a stage may take, whether there is time for one more
step, how long the grants stage may search) sees eight times the elapsed time, as on a machine eight
times slower. (With matcher 0.2.0's default, 5 s of wall time for the grants stage, this failed on
Sahel: the slow clock cut the grants search short.) HiGHS times its own limits on its own clock: the
steps that handed it fixed caps (0.5 s a class's grants MIP, 2 s a later repair stage) now hand it
work limits instead (test_no_step_hands_highs_a_fixed_wall_time_cap below).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from matcher.engine import SolveParams, solve
from matcher.scenario_io import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _allocation(result) -> list[tuple[str, str, str, int]]:
    return sorted((a.donor, a.request, a.kind, a.amount) for a in result.allocations)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_the_default_answer_is_the_same_on_a_machine_eight_times_slower(monkeypatch, path):
    scenario = load_scenario(path)
    params = SolveParams(time_limit=120)
    here = solve(scenario, params)
    real = time.perf_counter
    origin = real()
    monkeypatch.setattr(time, "perf_counter", lambda: origin + 8.0 * (real() - origin))
    slower = solve(scenario, params)
    assert slower.solver.stages[-1].term == "grants"
    assert _allocation(slower) == _allocation(here)
    assert slower.objective == here.objective
    assert slower.status == here.status


def test_no_step_hands_highs_a_fixed_wall_time_cap(monkeypatch):
    """Every HiGHS call of a default solve either has a work limit or only the time left of the time
    limit: a fixed cap (0.5 s, 2 s) made a 30-request round end with 19 grants instead of 21 on a
    slower machine. The round below needs the mending steps (min_grant and max donors break the
    plan's first split)."""
    import matcher.engine.params as params_module
    from matcher.scenario_io import parse_scenario

    seen = []
    real = params_module.solve_highs

    def spy(model, parameters, *args, **kwargs):
        seen.append((parameters.node_limit, parameters.time_limit))
        return real(model, parameters, *args, **kwargs)

    for name in (
        "matcher.engine.params",
        "matcher.engine.realise",
        "matcher.engine.repair",
        "matcher.engine.solve",
        "matcher.engine.plan",
        "matcher.engine.stages",
    ):
        module = __import__(name, fromlist=["_"])
        if hasattr(module, "solve_highs"):
            monkeypatch.setattr(module, "solve_highs", spy)
    donors = [{"id": f"D{i}", "budget": 90 + 7 * i, "min_grant": 20 + i} for i in range(4)]
    requests = [
        {
            "id": f"R{j}",
            "country": ["NER", "MLI", "PER"][j % 3],
            "theme": "marking",
            "amount": 30 + 11 * j,
            "min_funding": 0,
        }
        for j in range(12)
    ]
    s = parse_scenario(
        {
            "name": "mend",
            "currency": "USD",
            "donors": donors,
            "requests": requests,
            "policy": {"max_donors_per_request": 1},
        }
    )
    solve(s, SolveParams(time_limit=3600))
    assert seen, "no HiGHS call was made"
    for node_limit, limit in seen:  # a fixed cap shows as a short limit with no work limit
        assert node_limit is not None or limit is None or limit.total_seconds() > 60, (node_limit, limit)

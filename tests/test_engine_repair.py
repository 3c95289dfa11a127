"""The repair's start (matcher/engine/repair.py): a start that breaks a rule is thrown away by HiGHS,
which then begins from nothing (seen on a 2,000 x 60 round: the repair ended at a fifth of its
bound), so the start keeps prerequisites and partner caps."""

from __future__ import annotations

from matcher.engine.compile import compile_problem
from matcher.engine.repair import _drop_unmet_prerequisites, _projects_left
from tests.helpers import req, scenario


def _problem():
    s = scenario(
        [{"id": "NOR", "budget": 1000}],
        [
            req("LAW", partner="P"),
            req("MARK", requires=["LAW"], partner="P"),
            req("TRACE", requires=["MARK"]),
            req("STOCK", partner="P"),
        ],
        partners=[{"id": "P", "type": "ngo", "max_projects": 2}],
    )
    return compile_problem(s)


def test_a_request_whose_prerequisite_gets_nothing_gets_nothing_down_the_chain() -> None:
    p = _problem()
    given = {0: [], 1: [(0, 100)], 2: [(0, 100)], 3: [(0, 100)]}  # LAW unfunded
    _drop_unmet_prerequisites(p, given, value=[0, 0, 0, 0])
    assert given == {0: [], 1: [], 2: [], 3: [(0, 100)]}


def test_in_kind_value_counts_as_funded_for_a_prerequisite() -> None:
    p = _problem()
    given = {0: [], 1: [(0, 100)], 2: [(0, 100)]}
    _drop_unmet_prerequisites(p, given, value=[100, 0, 0, 0])  # LAW has an in-kind delivery
    assert given == {0: [], 1: [(0, 100)], 2: [(0, 100)]}


def test_partner_projects_left_count_only_the_fixed_funded_requests() -> None:
    p = _problem()
    assert _projects_left(p, funded=[100, 0, 0, 100], free={1, 3}) == {"P": 1}  # LAW fixed and funded
    assert _projects_left(p, funded=[0, 0, 0, 0], free={0, 1, 3}) == {"P": 2}

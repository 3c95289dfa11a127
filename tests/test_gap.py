"""The GAP importer and the in-kind engine against published optima (issue 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.engine import SolveParams, solve
from matcher.errors import MatcherError
from matcher.gap import read_gap
from matcher.scenario_io import parse_scenario

GAP = Path(__file__).resolve().parent.parent / "data" / "gap" / "cattrysse1994"


@pytest.mark.parametrize(("name", "optimum"), [("gap1-0", 261), ("gap1-1", 269)])
def test_smallest_instances_reach_their_optimum(name: str, optimum: int) -> None:
    result = solve(parse_scenario(read_gap(GAP / name)), SolveParams(time_limit=30))
    assert result.status == "optimal"
    assert result.objective["cost"] == optimum
    assert all(o.status == "funded" for o in result.requests)  # every item assigned
    assert all(a.kind == "in_kind" for a in result.allocations)


def test_importer_keeps_capacities_weights_and_costs(tmp_path: Path) -> None:
    f = tmp_path / "tiny.txt"
    f.write_text("2 3\n1 2 3\n4 5 6\n5 1 1\n2 2 9\n6 3\n")
    data = read_gap(f)
    assert [d["capacity"] for d in data["donors"]] == [6, 3]
    offers = {(o["donor"], o["request"]): (o["units"], o["cost"]) for o in data["offers"]}
    assert offers[("A1", "I1")] == (5, 1) and offers[("A2", "I2")] == (2, 5)
    assert ("A2", "I3") not in offers  # weight 9 above capacity 3: never deliverable
    result = solve(parse_scenario(data))
    # I1 -> A1 (5 of 6) forces I2, I3 elsewhere: I2 -> A2 (2 of 3), I3 -> A1 (1): cost 1 + 5 + 3
    assert result.objective["cost"] == 9


def test_importer_rejects_a_truncated_file(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("2 3\n1 2 3\n")
    with pytest.raises(MatcherError, match="needs 16 numbers, found 5"):
        read_gap(f)

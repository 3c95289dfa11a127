"""Every JSON document the CLI writes is strict JSON: a bound that is not finite is null, not Infinity."""

from __future__ import annotations

import json
import math

from helpers import scenario, solved

from matcher.report.formats import to_json
from matcher.result import Result


def _strict(text: str):
    def refuse(name: str):
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_stage_without_a_finite_bound_is_written_as_null_and_reads_back():
    s = scenario([{"id": "DEU", "budget": 100}], [{"id": "A", "country": "NER", "theme": "stockpile", "amount": 100}])
    r = solved(s)
    stages = [st.model_copy(update={"bound": math.inf, "gap": math.inf}) for st in r.solver.stages]
    unbounded = r.model_copy(
        update={"bound": {"coverage": math.inf}, "solver": r.solver.model_copy(update={"stages": stages})}
    )
    doc = _strict(to_json(unbounded))
    assert doc["bound"] == {"coverage": None}
    assert {(st["bound"], st["gap"]) for st in doc["solver"]["stages"]} == {(None, None)}
    back = Result.model_validate(doc)  # `matcher export --result` reads it
    assert math.isnan(back.bound["coverage"]) and math.isnan(back.solver.stages[0].bound)
    assert back.allocations == r.allocations

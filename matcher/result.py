"""What a solve returns: status, objective terms, bounds, allocations and each request's outcome."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

Status = Literal["optimal", "feasible", "infeasible", "unknown"]
RequestStatus = Literal["funded", "partial", "unfunded"]


# A value, bound or gap that is not finite (no bound proven) is written as null in JSON (jsonout.py)
# and read back as NaN.
Measure = Annotated[float, BeforeValidator(lambda v: math.nan if v is None else v)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Allocation(_Frozen):
    """One grant (``kind: funds``) or one in-kind delivery (``kind: in_kind``, with its units)."""

    donor: str
    request: str
    amount: int
    kind: Literal["funds", "in_kind"] = "funds"
    units: int | None = None
    committed: int = 0


class RequestOutcome(_Frozen):
    """How one request came out, and why when it is not fully funded."""

    id: str
    amount: int
    funded: int
    status: RequestStatus
    reasons: list[str] = []
    reason_codes: list[str] = []


class DonorUse(_Frozen):
    """A donor's envelope (scenario currency) or in-kind capacity, and what of it was used."""

    id: str
    kind: Literal["funds", "in_kind"] = "funds"
    budget: int | None = None
    allocated: int = 0
    capacity: int | None = None
    used: int | None = None
    unit: str | None = None


class StageInfo(_Frozen):
    """One stage of the lexicographic objective."""

    term: str
    sense: Literal["max", "min"]
    value: Measure
    bound: Measure
    gap: Measure
    status: str
    seconds: float


class SolverInfo(_Frozen):
    """What produced the result: engine, versions, parameters and the input hash."""

    engine: str
    ortools: str
    matcher: str
    seed: int
    threads: int
    time_limit: float | None = None
    node_limit: int | None = None
    seconds: float
    input_sha256: str
    stages: list[StageInfo] = []
    gap: Measure | None = None


WHOLE_TERMS = ("volume", "grants", "cost")


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


class Result(_Frozen):
    """The solution of one scenario, in the shape of the spec's ``--format json``."""

    scenario: str
    status: Status
    currency: str
    objective: dict[str, Measure]
    bound: dict[str, Measure]
    allocations: list[Allocation]
    requests: list[RequestOutcome]
    donors: list[DonorUse]
    solver: SolverInfo

    def to_json_data(self) -> dict[str, Any]:
        """The JSON document of the spec, keys in a stable order. Terms counted in whole units (money placed,
        grants, cost) are written as the whole numbers they are (``"volume": 9850000``, as the spec shows)."""
        doc = self.model_dump(mode="json", exclude_none=True)
        doc["objective"] = {t: _whole(v) if t in WHOLE_TERMS else v for t, v in doc["objective"].items()}
        doc["bound"] = {t: 0.0 if v == 0 else v for t, v in doc["bound"].items()}  # no -0.0 from a solver's bound
        return doc

    def has_solution(self) -> bool:
        """True when allocations are a valid solution (optimal or feasible)."""
        return self.status in ("optimal", "feasible")

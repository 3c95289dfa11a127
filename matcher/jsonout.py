"""JSON documents for people and other programs: strict JSON, which has no Infinity or NaN.

A bound or gap that is not finite (no bound proven: a solve stopped before its first bound, a stage
without a solve) is written as null; Python's ``json`` would write ``Infinity``, which JSON readers
other than Python's (JavaScript's ``JSON.parse``, jq, most databases) reject.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """A copy of a JSON-like document with every infinite or NaN float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(doc: Any, indent: int | None = 2) -> str:
    """Strict, readable JSON of ``doc`` (non-finite numbers as null), ending with a newline."""
    return json.dumps(finite(doc), indent=indent, ensure_ascii=False, allow_nan=False) + "\n"

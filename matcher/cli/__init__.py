"""The ``matcher`` command: a Click group. The only package that prints or sets exit codes.

Exit codes: 0 solved (optimal or feasible), 1 error, 2 usage, 3 proven infeasible,
4 no solution within the limits.
"""

from __future__ import annotations

import sys

from matcher.cli import (
    analysis,  # noqa: F401,E402  (registers compare, explain, value, graph, report)
    sheets,  # noqa: F401,E402  (registers template, import, export)
    solving,  # noqa: F401,E402  (registers validate, solve, generate)
    store,  # noqa: F401,E402  (registers run, runs, show, replay, audit, db)
    sweep,  # noqa: F401,E402  (registers sweep)
)
from matcher.cli.common import cli, main  # noqa: F401  (re-exported entry points)

__all__ = ["cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

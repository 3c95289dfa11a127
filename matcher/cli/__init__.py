"""The ``matcher`` command: a Click group. The only package that prints or sets exit codes.

Exit codes: 0 solved (optimal or feasible), 1 error, 2 usage, 3 proven infeasible,
4 no solution within the limits.
"""

from __future__ import annotations

import sys

from matcher.cli.common import cli, main  # noqa: F401  (re-exported entry points)
from matcher.cli import solving  # noqa: F401,E402  (registers validate, solve, generate)
from matcher.cli import sweep  # noqa: F401,E402  (registers sweep)

__all__ = ["cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

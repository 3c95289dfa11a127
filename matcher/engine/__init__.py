"""The OR-Tools core: compile a Scenario to a model, solve it, read out a validated Result.

The engine never touches files, the database or the terminal.
"""

from matcher.engine.params import SolveParams
from matcher.engine.solve import solve

__all__ = ["SolveParams", "solve"]

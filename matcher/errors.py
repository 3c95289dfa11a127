"""The library's own exceptions. The CLI alone turns them into ``Error: ...`` lines and exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class MatcherError(Exception):
    """Base of every error the library raises on purpose; its message is meant for a user."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (``requests[12].theme``) and what would fix it."""

    path: str
    message: str
    line: int | None = None  # where in the file, when the file is known (1-based)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def located(self) -> str:
        """The problem with its file line in front, as an editor's jump list reads it."""
        return f"line {self.line}: {self}" if self.line else str(self)


class ScenarioError(MatcherError):
    """A scenario that breaks the format; carries every problem found, first one first."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        first = str(problems[0]) if problems else "invalid scenario"
        more = f" (+{len(problems) - 1} more problems)" if len(problems) > 1 else ""
        line = problems[0].line if problems else None
        prefix = (f"{source}:{line}: " if line else f"{source}: ") if source else ""
        super().__init__(f"{prefix}{first}{more}")


class SolutionError(MatcherError):
    """A solution that breaks a hard rule: always a bug in the engine, never a user's fault."""

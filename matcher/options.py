"""An option is one thing to compare, explain or report: a scenario and, once solved, its result.

:func:`load_option` turns a scenario or variant file into an option; :func:`stored_option` a saved
run (read by the CLI from the store), which arrives with its result and is not solved again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from matcher.domain import Scenario
from matcher.engine import SolveParams, solve
from matcher.errors import ScenarioError
from matcher.result import Result
from matcher.scenario_io import parse_scenario, scenario_data, with_lines
from matcher.variants import apply_sets, resolve_file


@dataclass(frozen=True)
class Option:
    """A labelled scenario and, when solved (or loaded from the store), its result."""

    label: str
    scenario: Scenario
    result: Result | None = None
    params: SolveParams | None = None  # its own solve parameters (a what-if on a saved run: the run's)
    warning: str | None = None  # what a reader must know first (a saved run changed after it was saved)

    def solved(self, params: SolveParams | None = None) -> Option:
        """This option with a result: the one it carries, or a fresh solve (with its own parameters, if any)."""
        if self.result is not None:
            return self
        own = None if self.params is None else replace(self.params, on_log=params.on_log if params else None)
        return replace(self, result=solve(self.scenario, own or params))


def load_option(arg: str, sets: Iterable[str] = (), label: str | None = None) -> Option:
    """A scenario file or variant file, with ``--set`` assignments applied, validated as a scenario."""
    sets = list(sets)
    data = apply_sets(resolve_file(arg), sets)
    try:
        scenario = parse_scenario(data, source=arg)
    except ScenarioError as exc:
        if not sets:
            raise with_lines(exc, arg) from None
        try:  # the file alone: its own error names the file
            parse_scenario(resolve_file(arg), source=arg)
        except ScenarioError as own:
            raise with_lines(own, arg) from None
        given = " ".join(f"--set '{x}'" for x in sets)  # the file is fine: the assignment made it wrong
        raise ScenarioError(exc.problems, f"{arg} with {given}") from None
    return Option(label=label or _label(arg, sets), scenario=scenario)


def stored_option(stored: Any, sets: Iterable[str] = (), warning: str | None = None) -> Option:
    """A saved run (store.runs.StoredRun) as an option: its scenario and the result it was saved with,
    not solved again. With ``--set`` assignments: its scenario changed, to be solved anew with the run's
    own parameters, so that the change alone makes the difference."""
    label, sets = f"run {stored.run.id}", list(sets)
    if not sets:
        return Option(label=label, scenario=stored.scenario, result=stored.result, warning=warning)
    try:
        scenario = parse_scenario(apply_sets(scenario_data(stored.scenario), sets), source=label)
    except ScenarioError as exc:
        given = " ".join(f"--set '{x}'" for x in sets)
        raise ScenarioError(exc.problems, f"{label} with {given}") from None
    return Option(label=_label(label, sets), scenario=scenario, params=SolveParams(**stored.params))


def _label(arg: str, sets: list[str]) -> str:
    name = arg if arg.startswith("run ") else Path(arg).stem
    return f"{name} [{'; '.join(sets)}]" if sets else name


def unique_labels(options: list[Option]) -> list[Option]:
    """Number repeated labels (``base``, ``base#2``) so every column of a comparison is distinct."""
    seen: dict[str, int] = {}
    out = []
    for o in options:
        seen[o.label] = seen.get(o.label, 0) + 1
        out.append(o if seen[o.label] == 1 else replace(o, label=f"{o.label}#{seen[o.label]}"))
    return out

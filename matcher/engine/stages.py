"""What the stages of the lexicographic solve share: a stage's record, the tolerance that keeps the
earlier stages, a term's value on a plan or an allocation, and the progress lines."""

from __future__ import annotations

from dataclasses import dataclass

from matcher.engine.compile import Problem
from matcher.engine.model import SENSE, Model, term_expression
from matcher.engine.params import SolveParams
from matcher.engine.readout import Solution
from matcher.engine.realise import Plan

LEX_TOLERANCE = 1e-6
INTEGRAL_TERMS = ("volume", "cost")  # sums of whole currency units


@dataclass
class Stage:
    """One stage's outcome: its term's value, the bound proven on it, its status, its seconds."""

    term: str
    value: float
    bound: float
    status: str
    seconds: float


def plan_value(problem: Problem, plan: Plan | Solution, term: str) -> float:
    """The term's value on a plan or an allocation (coverage, money placed, cost of deliveries)."""
    s = problem.scenario
    if term == "coverage":
        return sum(problem.weights[j] * plan.funded[j] / r.amount for j, r in enumerate(s.requests))
    if term == "volume":
        return float(sum(plan.funded))
    return float(sum(s.offers[k].cost for k in plan.delivered))


def keep_earlier_stages(problem: Problem, model: Model, stages: list[Stage]) -> None:
    """Keep every earlier term within a relative 1e-6 of the value its stage reached (money terms
    within less than one currency unit, so a later stage never trades whole units for a tie-break)."""
    for st in stages:
        expr = term_expression(problem, model, st.term)
        slack = LEX_TOLERANCE * abs(st.value)
        if st.term in INTEGRAL_TERMS:  # whole currency units: keep them exactly (a slack below one unit)
            slack = min(slack, 0.5)
        if SENSE[st.term] == "max":
            model.mo.add_linear_constraint(expr >= st.value - slack, name=f"keep_{st.term}")
        else:
            model.mo.add_linear_constraint(expr <= st.value + slack, name=f"keep_{st.term}")


def highs_log(params: SolveParams, term: str):
    """HiGHS's log lines (incumbent, bound, gap, time) to ``on_log``, tagged with the stage."""
    if params.on_log is None:
        return None
    return lambda lines: [params.on_log(f"[{term}] {line}") for line in lines]


def say(params: SolveParams, text: str) -> None:
    if params.on_log is not None:
        params.on_log(text)


def log_stage(params: SolveParams, st: Stage) -> None:
    say(params, f"stage {st.term}: {st.status}, value {st.value:.6g}, bound {st.bound:.6g}, {st.seconds:.1f} s")


def relative_gap(value: float, bound: float) -> float:
    """|bound - value| / max(|value|, 1e-9): 0 when proven optimal."""
    if value != value or bound != bound:  # NaN: no solution
        return float("inf")
    return abs(bound - value) / max(abs(value), 1e-9)

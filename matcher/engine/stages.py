"""What the stages of the lexicographic solve share: a stage's record, the tolerance that keeps the
earlier stages, a term's value on a plan or an allocation, and the progress lines."""

from __future__ import annotations

from dataclasses import dataclass

from matcher.engine.compile import Problem
from matcher.engine.model import SENSE, Model, term_expression
from matcher.engine.params import SolveParams
from matcher.engine.readout import Solution, term_value
from matcher.engine.realise import Plan

LEX_TOLERANCE = 1e-6
# A keep row holds an earlier term within this share of LEX_TOLERANCE: HiGHS meets a row only within
# its feasibility tolerance, and a grants stage that spent the whole 1e-6 left an allocation 1.05e-6
# below the coverage it had to keep (a 2 x 4 round of 150,000-980,000 USD: an "engine bug" exit)
KEEP_SHARE = 0.9
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
    within less than one currency unit, so a later stage never trades whole units for a tie-break).
    The row is left unscaled: scaled like the coverage objective, with the margin of KEEP_SHARE, one
    volume stage of 100 sweep draws took 12 s instead of 0.1 s (either change alone: 0.1 s)."""
    for st in stages:
        expr = term_expression(problem, model, st.term)
        slack = keep_slack(st.term, st.value)
        if SENSE[st.term] == "max":
            model.mo.add_linear_constraint(expr >= st.value - slack, name=f"keep_{st.term}")
        else:
            model.mo.add_linear_constraint(expr <= st.value + slack, name=f"keep_{st.term}")


def shortfalls(problem: Problem, plan: Plan | Solution, stages: list[Stage]) -> list[tuple[Stage, float]]:
    """The earlier stages whose keep row (keep_earlier_stages) the plan breaks when its terms are
    recomputed from whole units, with by how much: HiGHS meets a row only within its feasibility
    tolerance, and a volume stage took a plan 0.95e-6 below the coverage it kept (the keep row allows
    0.9e-6), which no grants could then follow (an 'optimal' round came back 'feasible')."""
    out = []
    for st in stages:
        if st.value != st.value:
            continue
        got = plan_value(problem, plan, st.term)
        slack = keep_slack(st.term, st.value)
        short = (st.value - slack) - got if SENSE[st.term] == "max" else got - (st.value + slack)
        if short > 1e-9 * max(abs(st.value), 1.0):  # float noise in the recomputed sum is far below this
            out.append((st, short))
    return out


def keep_slack(term: str, value: float) -> float:
    """How far a later stage may move an earlier term: within the spec's relative 1e-6 with a
    margin (KEEP_SHARE), and below one unit for whole-unit terms (no whole unit traded for a tie-break)."""
    slack = KEEP_SHARE * LEX_TOLERANCE * abs(value)
    return min(slack, 0.5) if term in INTEGRAL_TERMS else slack


def keeps_earlier(problem: Problem, solution: Solution, stages: list[Stage]) -> bool:
    """Whether an allocation keeps every earlier term within the spec's tolerance (recomputed from its
    whole units, as the validator does): a later stage's solution is taken only then."""
    for st in stages:
        if st.value != st.value:
            continue
        got = term_value(problem, solution, st.term)
        worse = st.value - got if SENSE[st.term] == "max" else got - st.value
        if worse > LEX_TOLERANCE * max(abs(st.value), 1.0):
            return False
    return True


def objective_scale(problem: Problem, term: str) -> float:
    """The factor a stage's objective is multiplied by for HiGHS:
    coverage's coefficients (weight / amount, 1e-6 and below on rounds of millions) scaled so that
    the smallest is 1, costs HiGHS warns are "excessively small" and that sit at its dual tolerance
    (1e-7). On the 214 coverage MIPs of 200 draws of an S sweep: 7.4-8.6 s -> 6.9-7.1 s, the same
    values. The stage's value and bound are read back unscaled; HiGHS's own log lines show the
    scaled objective. The largest coefficient is kept at most 1e6 (on rounds whose weights per unit
    span more than that)."""
    if term != "coverage":
        return 1.0
    coefs = [w / r.amount for r, w in zip(problem.scenario.requests, problem.weights) if w > 0]
    return min(1.0 / min(coefs), 1e6 / max(coefs)) if coefs else 1.0


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

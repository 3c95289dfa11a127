"""Literature benchmark for in-kind offers: every OR-Library GAP instance in ../shared/data/gap.

Each instance goes the normal path (GAP file -> scenario data -> validated Scenario -> solve ->
independent validator) and is compared with its published minimum.

Usage: python benchmarks/gap_bench.py [--limit-a-c 30] [--limit-d 60] [--limit-gap 5] [--only PREFIX]
Prints a Markdown table: instance, optimum, our value, our bound, gap to the optimum, time, status.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from matcher.engine import SolveParams, solve
from matcher.gap import read_gap
from matcher.scenario_io import parse_scenario

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "gap"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit-gap", type=float, default=5.0)
    ap.add_argument("--limit-a-c", type=float, default=30.0)
    ap.add_argument("--limit-d", type=float, default=60.0)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    optima = {row["path"]: row for row in csv.DictReader(open(args.data / "values-min.csv"))}
    print("| instance | items x agents | optimum | ours | bound | gap to optimum | seconds | status |")
    print("|---|---|---|---|---|---|---|---|")
    for path, row in optima.items():
        if not path.startswith(args.only):
            continue
        kind = Path(path).name[0]
        limit = args.limit_gap if path.startswith("cattrysse") else (args.limit_d if kind == "d" else args.limit_a_c)
        t0 = time.perf_counter()
        result = solve(parse_scenario(read_gap(args.data / path)), SolveParams(time_limit=limit))
        seconds = time.perf_counter() - t0
        best = float(row["optimum"] or row["best_known_value"])
        ours = result.objective.get("cost", float("nan"))
        bound = result.bound.get("cost", float("nan"))
        print(
            f"| {path} | {row['items']} x {row['agents']} | {best:.0f} | {ours:.0f} | {bound:.1f} "
            f"| {(ours - best) / best:.3%} | {seconds:.2f} | {result.status} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

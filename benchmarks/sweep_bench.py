"""Benchmark: N draws of a generated round, as a plain loop, on the local pool (1 and 2 workers) and on a
local Dask cluster (1 and 2 workers). Every way must give the same summary; the script checks that.

Target (issue 7): 1,000 draws of an S round (200 requests x 15 donors) in <= 60 s on a 2-core machine.

    PYTHONPATH=. python benchmarks/sweep_bench.py                       # the S round, 1,000 draws
    PYTHONPATH=. python benchmarks/sweep_bench.py --requests 15 --donors 4 --draws 40 --time-limit 10

Uncertainty added to the generated round: every third donor has confidence 0.8, the others a
budget_range of 70-100% of the pledge, so every draw is a distinct scenario (no draw is solved twice).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict

from matcher.engine import SolveParams
from matcher.generate import generate_round
from matcher.report.sweep import sweep_data
from matcher.sweep import SweepSpec, open_executor, run_sweep
from matcher.sweep.aggregate import summarize
from matcher.sweep.run import plan
from matcher.sweep.work import solve_draw


def uncertain_round(n_requests: int, n_donors: int, seed: int) -> dict:
    """A generated round with uncertain pledges."""
    data = generate_round(n_requests, n_donors, seed)
    for k, d in enumerate(data["donors"]):
        if k % 3 == 0:
            d["confidence"] = 0.8
        else:
            d["budget_range"] = [int(d["budget"] * 0.7), d["budget"]]
    return data


def plain_loop(data: dict, spec: SweepSpec) -> tuple[float, dict]:
    """Every distinct draw solved one after the other in this process: the baseline."""
    t0 = time.perf_counter()
    (point,) = plan(data, spec)
    outcomes = {}
    for pledges in point.distinct:
        key = tuple(sorted(pledges.items()))
        outcomes[key] = solve_draw(point.data, pledges, spec.params, spec.grants_minimised())
    per_draw = [outcomes[k] for k in point.draw_keys]
    summary = summarize(point.scenario, point.values, per_draw, len(point.distinct), spec.threshold, point.arrivals)
    solve_s = sum(o.seconds for o in outcomes.values()) / len(outcomes)
    return time.perf_counter() - t0, {"points": [json.loads(json.dumps(asdict(summary)))], "solve_s": solve_s}


def on_executor(data: dict, spec: SweepSpec, name: str, workers: int) -> tuple[float, float, dict]:
    """(wall time with start-up, wall time of the solving alone, output data)."""
    t0 = time.perf_counter()
    with open_executor(name, workers) as ex:
        result = run_sweep(data, spec, ex, name)
    return time.perf_counter() - t0, result.seconds, {**sweep_data(result), "solve_s": result.solve_seconds}


def _native_stdout_dropped() -> None:
    """This script's prints keep going to standard output; what native code writes to file descriptor 1
    (HiGHS prints a stray debug line now and then, also from the workers, which inherit it) is dropped."""
    sys.stdout.flush()
    sys.stdout = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--donors", type=int, default=15)
    ap.add_argument("--round-seed", type=int, default=1)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--node-limit", type=int, default=None)
    ap.add_argument("--gap", type=float, default=SolveParams.relative_gap, help="Relative gap of each solve (--gap).")
    ap.add_argument(
        "--fewest-grants",
        action="store_true",
        help="Minimise grants in every draw (the sweep's --fewest-grants; default: money terms only).",
    )
    ap.add_argument("--only", default="", help="Comma-separated ways to run, e.g. 'local x2' (default: all).")
    ap.add_argument("--skip-loop", action="store_true", help="Skip the plain loop (it takes N x one solve).")
    args = ap.parse_args()
    _native_stdout_dropped()
    data = uncertain_round(args.requests, args.donors, args.round_seed)
    spec = SweepSpec(
        draws=args.draws,
        seed=0,
        params=SolveParams(time_limit=args.time_limit, node_limit=args.node_limit, relative_gap=args.gap),
        fewest_grants=args.fewest_grants,
    )
    print(
        f"round {args.requests}x{args.donors} (seed {args.round_seed}), {args.draws} draws, "
        f"time_limit {args.time_limit}, node_limit {args.node_limit}, gap {args.gap}, "
        f"fewest grants {args.fewest_grants}"
    )
    print(f"{'way':<22}{'wall s':>9}{'solving s':>11}{'s/solve':>9}{'draws/s':>9}")
    outputs = {}
    if not args.skip_loop:
        wall, out = plain_loop(data, spec)
        outputs["plain loop"] = out["points"][0]
        print(f"{'plain loop':<22}{wall:>9.1f}{wall:>11.1f}{out['solve_s']:>9.3f}{args.draws / wall:>9.1f}")
    only = {w.strip() for w in args.only.split(",") if w.strip()}
    for name, workers in (("local", 1), ("local", 2), ("dask", 1), ("dask", 2)):
        if only and f"{name} x{workers}" not in only:
            continue
        wall, solving, out = on_executor(data, spec, name, workers)
        outputs[f"{name} x{workers}"] = json.loads(json.dumps(out["points"][0]))
        print(
            f"{name + ' x' + str(workers):<22}{wall:>9.1f}{solving:>11.1f}{out['solve_s']:>9.3f}"
            f"{args.draws / wall:>9.1f}"
        )
    first = next(iter(outputs.values()))
    same = all(o == first for o in outputs.values())
    print("statuses:", {way: o["statuses"] for way, o in outputs.items()})
    print("same summary from every way:", "yes" if same else "NO (a solve hit the time limit? use --node-limit)")


if __name__ == "__main__":
    main()

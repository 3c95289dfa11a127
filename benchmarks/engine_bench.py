"""Engine benchmark (issue 5): the same generated rounds solved three ways, in one run.

- matcher: ``matcher solve`` end to end in a subprocess (load, build, solve, validate), default method;
- full: the plain full model on HiGHS (``--method full``: one binary per eligible pair), the baseline;
- greedy: highest weight first, each request from its eligible donors' remaining money (by hand).

Usage: python benchmarks/engine_bench.py [--sizes S,M,L] [--time-limit 60] [--gap 1e-4] [--seed 1] [--no-full]
       [--polish SECONDS]  (an extra matcher row with that grants-stage budget)
Prints a Markdown table; peak memory is the child's max RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from matcher.domain import earmark_block
from matcher.generate import dump_scenario_data, generate_round
from matcher.scenario_io import parse_scenario

SIZES = {"S": (200, 15), "M": (2000, 60), "L": (10000, 300)}


CHILD = (
    "import resource, sys\n"
    "from matcher.cli import main\n"
    "try:\n"
    "    sys.argv[0] = 'matcher'\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "else:\n"
    "    code = 0\n"
    "print(f'PEAK_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n"
    "sys.exit(code if isinstance(code, int) else 1)\n"
)


def run_cli(path: Path, time_limit: float, method: str, gap: float, polish: float | None = None) -> dict:
    """One ``matcher solve`` in a child process: wall time (interpreter start to exit), the child's
    own peak memory (max RSS) and the JSON result. A child still running at 3x the limit + 120 s
    is stopped and reported as a timeout."""
    cmd = [
        sys.executable,
        "-c",
        CHILD,
        "solve",
        str(path),
        "--format",
        "json",
        "--time-limit",
        str(time_limit),
        "--method",
        method,
        "--gap",
        str(gap),
    ]
    if polish is not None:
        cmd += ["--polish", str(polish)]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3 * time_limit + 120)
    except subprocess.TimeoutExpired:
        return {"wall": time.perf_counter() - t0, "peak_mb": float("nan"), "data": {"status": "timeout"}}
    wall = time.perf_counter() - t0
    peak = float("nan")
    for line in done.stderr.splitlines():
        if line.startswith("PEAK_KB="):
            peak = int(line.split("=")[1]) / 1024
    data = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"status": "error"}
    return {"wall": wall, "peak_mb": peak, "data": data}


def greedy(scenario) -> float:
    """Highest weight first; each request takes what its eligible donors still have (coverage)."""
    partners = {p.id: p for p in scenario.partners}
    left = {d.id: scenario.budget_in_currency(d) for d in scenario.donors if d.kind == "funds"}
    coverage = 0.0
    for r in sorted(scenario.requests, key=lambda r: -scenario.weight(r)):
        donors = [
            d
            for d in scenario.donors
            if d.kind == "funds" and earmark_block(d, r, partners.get(r.partner or "")) is None
        ]
        gets = {}
        need = r.amount
        for d in sorted(donors, key=lambda d: -left[d.id]):
            give = min(need, left[d.id], d.max_grant if d.max_grant is not None else need)
            if give >= max(d.min_grant or 1, 1):
                gets[d.id] = give
                need -= give
            if need == 0 or len(gets) == (scenario.policy.max_donors_per_request or 10**9):
                break
        funded = r.amount - need
        if funded >= r.min_amount:
            for d, v in gets.items():
                left[d] -= v
            coverage += scenario.weight(r) * funded / r.amount
    return coverage


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="S,M")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap", type=float, default=1e-4, help="relative gap at which a stage counts as proven")
    ap.add_argument("--no-full", action="store_true", help="skip the full-model baseline (it does not fit L)")
    ap.add_argument(
        "--polish",
        type=float,
        default=None,
        help="also run matcher with this --polish (seconds for the grants stage), as its own row",
    )
    args = ap.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start, "
        f"time limit {args.time_limit:g} s, --gap {args.gap:g}, seed {args.seed}"
    )
    print()
    print(
        "| round | method | wall s | peak MB | status | coverage | bound | gap | full time / this "
        "| coverage / full | coverage / greedy |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            n, m = SIZES[size]
            data = generate_round(n, m, args.seed)
            path = Path(tmp) / f"{size}.yaml"
            path.write_text(dump_scenario_data(data, str(path)))
            by_hand = greedy(parse_scenario(data))
            methods = ("auto",) if args.no_full else ("auto", "full")
            runs = {meth: run_cli(path, args.time_limit, meth, args.gap) for meth in methods}
            if args.polish is not None:
                runs["polish"] = run_cli(path, args.time_limit, "auto", args.gap, args.polish)
            full = runs.get("full")
            full_cov = full["data"].get("objective", {}).get("coverage", float("nan")) if full else float("nan")
            for meth, run in runs.items():
                d = run["data"]
                cov = d.get("objective", {}).get("coverage", float("nan"))
                bound = d.get("bound", {}).get("coverage", float("nan"))
                gap = d.get("solver", {}).get("gap", float("nan"))
                ratio = full["wall"] / run["wall"] if full else float("nan")
                vs_full = cov / full_cov if full_cov == full_cov and full_cov else float("nan")
                name = {"auto": "matcher", "full": "full model"}.get(meth) or f"matcher --polish {args.polish:g}"
                print(
                    f"| {size} {n}x{m} | {name} | {run['wall']:.2f} "
                    f"| {run['peak_mb']:.0f} | {d.get('status')} | {cov:.4f} | {bound:.4f} | {gap:.2e} "
                    f"| {ratio:.2f}x | {vs_full:.4f} | {cov / by_hand if by_hand else float('nan'):.3f} |",
                    flush=True,
                )
            print(
                f"| {size} {n}x{m} | greedy by hand | - | - | - | {by_hand:.4f} | - | - | - | - | 1.000 |", flush=True
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

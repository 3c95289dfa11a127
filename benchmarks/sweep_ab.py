"""A/B benchmark: this checkout against another revision, on the same draws of a sweep, at the same time.

This machine's speed drifts by 20-40% within an hour, so wall times from different runs cannot say
whether a change made a draw cheaper. Here both versions solve the same draws of the S round in a
plain loop, each in its own process pinned to one of two cores, started together; then again with
the cores swapped (the two cores of this machine are not equally fast at every moment). The
output is each version's process time, their ratio, and whether every draw came out the same
(status, coverage, money placed, funding per request, money per donor).

    PYTHONPATH=. python benchmarks/sweep_ab.py --base HEAD~1                 # 200 draws, 2 rounds
    PYTHONPATH=. python benchmarks/sweep_ab.py --base 82142d3 --draws 100 --start 200

The base revision is checked out in a temporary git worktree (removed afterwards); it must have the
sweep API this script calls (matcher.sweep.run.plan, matcher.sweep.work.solve_draw).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def worker(root: str, draws: int, start: int, requests: int, donors: int, cpu: int | None) -> None:
    """Solve draws start..start+draws-1 with the code under ``root``; print JSON on stdout."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    sys.path.insert(0, root)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sweep_bench import uncertain_round

    import matcher
    from matcher.engine import SolveParams
    from matcher.sweep import SweepSpec
    from matcher.sweep.run import plan
    from matcher.sweep.work import solve_draw

    if not str(Path(matcher.__file__).resolve()).startswith(str(Path(root).resolve())):
        raise SystemExit(f"imported matcher from {matcher.__file__}, not from {root}")
    spec = SweepSpec(draws=start + draws, seed=0, params=SolveParams(time_limit=60), fewest_grants=False)
    (point,) = plan(uncertain_round(requests, donors, 1), spec)
    t0 = time.process_time()
    outcomes = [solve_draw(point.data, p, spec.params, False) for p in point.distinct[start:]]
    seconds = time.process_time() - t0
    kept = [(o.status, o.coverage, o.placed, o.funded, o.used) for o in outcomes]
    digest = hashlib.sha1(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:12]
    per_draw = [hashlib.sha1(json.dumps(k, sort_keys=True).encode()).hexdigest()[:8] for k in kept]
    print(json.dumps({"seconds": seconds, "digest": digest, "per_draw": per_draw}))


def run_both(roots: dict[str, str], args, swap: bool) -> dict[str, dict]:
    """Start one worker per version at the same time, each pinned to a core (swapped when ``swap``);
    their results by version."""
    cpus = sorted(os.sched_getaffinity(0))
    procs = {}
    for n, (name, root) in enumerate(roots.items()):
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            root,
            "--draws",
            str(args.draws),
            "--start",
            str(args.start),
            "--requests",
            str(args.requests),
            "--donors",
            str(args.donors),
        ]
        if len(cpus) >= 2:
            cmd += ["--cpu", str(cpus[(n + swap) % 2])]
        env = {**os.environ, "PYTHONPATH": root}
        procs[name] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    out = {}
    for name, proc in procs.items():
        stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"the {name} worker failed (exit {proc.returncode})")
        out[name] = json.loads(stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="HEAD", help="Git revision to compare this checkout with.")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--start", type=int, default=0, help="First draw (to measure other draws than the first).")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--donors", type=int, default=15)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.draws, args.start, args.requests, args.donors, args.cpu)
        return
    with tempfile.TemporaryDirectory(prefix="sweep-ab-") as tmp:
        base = str(Path(tmp) / "base")
        subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", "-q", base, args.base], check=True)
        try:
            rev = subprocess.run(
                ["git", "-C", base, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
            print(
                f"S round {args.requests}x{args.donors}, draws {args.start}..{args.start + args.draws - 1}: "
                f"this checkout against {args.base} ({rev}), both at once, {args.rounds} rounds"
            )
            print(f"{'round':<7}{'base s':>9}{'this s':>9}{'this/base':>11}  same outcomes")
            totals = {"base": 0.0, "this": 0.0}
            for r in range(1, args.rounds + 1):
                res = run_both({"base": base, "this": str(HERE)}, args, swap=r % 2 == 0)
                for k in totals:
                    totals[k] += res[k]["seconds"]
                differ = sum(a != b for a, b in zip(res["base"]["per_draw"], res["this"]["per_draw"]))
                same = "yes" if differ == 0 else f"no ({differ} draws differ)"
                print(
                    f"{r:<7}{res['base']['seconds']:>9.2f}{res['this']['seconds']:>9.2f}"
                    f"{res['this']['seconds'] / res['base']['seconds']:>11.3f}  {same}"
                )
            print(f"{'all':<7}{totals['base']:>9.2f}{totals['this']:>9.2f}{totals['this'] / totals['base']:>11.3f}")
        finally:
            subprocess.run(["git", "-C", str(HERE), "worktree", "remove", "--force", base], check=False)


if __name__ == "__main__":
    main()

"""Literature benchmark for in-kind offers: every OR-Library GAP instance in data/gap (a copy of ../shared/data/gap).

Each instance goes the normal CLI path, run in this process: `matcher import F --from gap -o S.yaml`,
then `matcher solve S.yaml --format json -o R.json --time-limit L` (the solve's own JSON, so the
independent validator has checked it), and is compared with its published minimum. `seconds` is the
engine's wall time as the result reports it (file reading excluded); `engine` names the solver path.

Usage: python benchmarks/gap_bench.py [--limit-a-c 30] [--limit-d 60] [--limit-gap 5] [--only PREFIX]
                                      [--method auto|cpsat|decomposed|full]
Prints a Markdown table: instance, optimum, our value, our bound, gap to the optimum, time, status, engine.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "gap"  # the bundled copy of ../shared/data/gap (MIT, see its licence file)


def _cli(*args: str) -> int:
    """Run one `matcher` command in this process (the CLI code path without interpreter start-up)."""
    from matcher.cli import cli

    try:
        cli.main(list(args), prog_name="matcher", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def solve_instance(path: Path, limit: float, method: str, workdir: Path) -> dict:
    """Import the GAP file to a scenario file, solve it through the CLI and return the result JSON."""
    scenario, result = workdir / f"{path.name}.yaml", workdir / f"{path.name}.json"
    if _cli("import", str(path), "--from", "gap", "-o", str(scenario)) != 0:
        raise SystemExit(f"import {path} failed")
    code = _cli(
        "solve", str(scenario), "--format", "json", "-o", str(result), "--time-limit", str(limit), "--method", method
    )
    if code not in (0, 4):
        raise SystemExit(f"solve {path}: exit {code}")
    return json.loads(result.read_text(encoding="utf-8"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit-gap", type=float, default=5.0)
    ap.add_argument("--limit-a-c", type=float, default=30.0)
    ap.add_argument("--limit-d", type=float, default=60.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--method", default="auto", choices=["auto", "cpsat", "decomposed", "full"])
    args = ap.parse_args()
    optima = {row["path"]: row for row in csv.DictReader(open(args.data / "values-min.csv"))}
    print("| instance | items x agents | optimum | ours | bound | gap to optimum | seconds | status | engine |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for path, row in optima.items():
            if not path.startswith(args.only):
                continue
            kind = Path(path).name[0]
            limit = args.limit_a_c if kind in "abc" else args.limit_d
            limit = args.limit_gap if path.startswith("cattrysse") else limit
            result = solve_instance(args.data / path, limit, args.method, Path(tmp))
            best = float(row["optimum"] or row["best_known_value"])
            ours = result["objective"].get("cost", float("nan"))
            bound = result["bound"].get("cost", float("nan"))
            print(
                f"| {path} | {row['items']} x {row['agents']} | {best:.0f} | {ours:.0f} | {bound:.1f} "
                f"| {(ours - best) / best:.3%} | {result['solver']['seconds']:.2f} | {result['status']} "
                f"| {result['solver']['engine']} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time to save, load, replay and verify one run of a scenario file, on SQLite or PostgreSQL.

    PYTHONPATH=. python benchmarks/bench_store.py /tmp/s.yaml --time-limit 20 [--db URL]

Prints one line per step. Replay time includes its solve (the same limits as the saved run).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from matcher.engine import SolveParams, solve
from matcher.scenario_io import load_scenario
from matcher.store import audit
from matcher.store.db import open_store
from matcher.store.replay import replay_run
from matcher.store.runs import load_run, save_run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--node-limit", type=int, default=None)
    ap.add_argument("--db", default=None, help="default: a new SQLite file in a temporary folder")
    args = ap.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    scenario = load_scenario(args.file)
    params = SolveParams(time_limit=args.time_limit, node_limit=args.node_limit)
    engine = open_store(url)

    t = time.perf_counter()
    result = solve(scenario, params)
    report("solve", t, f"{result.status}, {len(result.allocations)} allocations, {len(result.requests)} requests")
    t = time.perf_counter()
    run_id = save_run(engine, scenario=scenario, result=result, params=params.public(), by="bench")
    report("save", t, f"run {run_id}")
    t = time.perf_counter()
    load_run(engine, run_id=run_id)
    report("load", t, "")
    t = time.perf_counter()
    replay = replay_run(engine, run_id=run_id, by="bench")
    report("replay", t, "identical" if replay.identical else f"differs in {len(replay.differences)} places")
    t = time.perf_counter()
    v = audit.verify(engine)
    report("verify", t, "ok" if v.ok else v.problem or "")
    engine.dispose()


def report(step: str, started: float, detail: str) -> None:
    print(f"{step:7s} {time.perf_counter() - started:8.3f} s  {detail}", flush=True)


if __name__ == "__main__":
    main()

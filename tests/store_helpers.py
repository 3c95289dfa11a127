"""Helpers for the store tests: save a tiny solved run, run the CLI in a subprocess, edit rows with SQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import text

from matcher.engine import SolveParams, solve
from matcher.scenario_io import parse_scenario
from matcher.store.db import open_store
from matcher.store.runs import save_run

ROOT = Path(__file__).resolve().parent.parent
PARAMS = SolveParams(time_limit=10, node_limit=1000)


def save_tiny(url: str, data: dict, note: str = "", by: str = "tester") -> tuple[int, object]:
    """Solve ``data`` and save it; (run id, Result)."""
    scenario = parse_scenario(data)
    result = solve(scenario, PARAMS)
    engine = open_store(url)
    run_id = save_run(engine, scenario=scenario, result=result, params=PARAMS.public(), by=by, note=note)
    engine.dispose()
    return run_id, result


def sql(url: str, *statements: str) -> None:
    """Run raw SQL on the database, as someone editing it behind matcher's back would."""
    engine = open_store(url)
    with engine.connect() as conn:
        for s in statements:
            conn.execute(text(s))
        conn.commit()
    engine.dispose()


def scalar(url: str, statement: str):
    engine = open_store(url)
    with engine.connect() as conn:
        value = conn.execute(text(statement)).scalar()
    engine.dispose()
    return value


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def matcher_process(*args: str, env: dict | None = None) -> subprocess.Popen:
    """``python cli.py ARGS`` in a child process, importing this checkout."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("MATCHER_DB", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

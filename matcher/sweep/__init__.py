"""Sweeps: seeded draws of uncertain pledges and grids over scenario values, solved on a process
pool or a Dask cluster, summarised per request, per donor and per grid point."""

from matcher.sweep.executors import EXECUTORS, open_executor
from matcher.sweep.run import SolvedDraw, SweepResult, SweepSpec, run_sweep

__all__ = ["EXECUTORS", "SolvedDraw", "SweepResult", "SweepSpec", "open_executor", "run_sweep"]

"""Where chunks run: a process pool on this machine, or Dask distributed (a cluster, or a local one).

Both take the same plain chunks and return outcomes in chunk order, so a sweep's results never
depend on the executor or the number of workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Protocol

from matcher.errors import MatcherError
from matcher.sweep.work import Chunk, Outcome, solve_chunk, tune_worker, worker_versions

EXECUTORS = ("local", "dask")
OnChunk = Callable[[int, list[Outcome]], None]


class Executor(Protocol):
    """Runs every chunk; calls ``on_chunk(index, outcomes)`` as each one finishes."""

    def run(self, chunks: list[Chunk], on_chunk: OnChunk) -> list[list[Outcome]]: ...

    @property
    def workers(self) -> int: ...


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LocalExecutor:
    """A pool of worker processes on this machine (``concurrent.futures``)."""

    def __init__(self, workers: int) -> None:
        self._workers = workers

    @property
    def workers(self) -> int:
        return self._workers

    def run(self, chunks: list[Chunk], on_chunk: OnChunk) -> list[list[Outcome]]:
        out: list[list[Outcome] | None] = [None] * len(chunks)
        # forkserver: workers start clean, not as copies of a parent that may hold solver or Dask threads
        ctx = multiprocessing.get_context("forkserver")
        # the server imports the solving code once and forks workers from it: 2 workers ready in 0.36 s, not 0.53
        ctx.set_forkserver_preload(["matcher.sweep.work"])
        with ProcessPoolExecutor(max_workers=self._workers, mp_context=ctx, initializer=tune_worker) as pool:
            pending = {pool.submit(solve_chunk, c): k for k, c in enumerate(chunks)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    k = pending.pop(fut)
                    out[k] = fut.result()
                    on_chunk(k, out[k])  # type: ignore[arg-type]
        return out  # type: ignore[return-value]


class DaskExecutor:
    """Dask distributed: ``distributed.Client`` on an existing scheduler, or on a LocalCluster of processes."""

    def __init__(self, client) -> None:
        self._client = client

    @property
    def workers(self) -> int:
        return max(1, sum(w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values()))

    def run(self, chunks: list[Chunk], on_chunk: OnChunk) -> list[list[Outcome]]:
        from distributed import as_completed

        out: list[list[Outcome] | None] = [None] * len(chunks)
        futures = {self._client.submit(solve_chunk, c, pure=False): k for k, c in enumerate(chunks)}
        for fut in as_completed(futures):
            k = futures[fut]
            out[k] = fut.result()
            on_chunk(k, out[k])  # type: ignore[arg-type]
        return out  # type: ignore[return-value]


@contextmanager
def open_executor(name: str, workers: int | None = None, scheduler: str | None = None) -> Iterator[Executor]:
    """The named executor, closed (and a local Dask cluster shut down) on the way out."""
    if name == "local":
        if scheduler:
            raise MatcherError("--scheduler is for --executor dask; add --executor dask or drop --scheduler")
        yield LocalExecutor(workers or default_workers())
        return
    if name != "dask":
        raise MatcherError(f"'{name}' is not an executor (one of: {', '.join(EXECUTORS)})")
    with _dask_client(workers, scheduler) as client:
        yield DaskExecutor(client)


# A local cluster shares the machine's cores with its own scheduler (in this process) and event
# loops: Dask's statistical profiler (a stack sample of each worker every 10 ms), the 20 ms event
# loop tick, the system monitor (every 0.5 s) and work stealing (every 0.1 s; tasks are queued on the
# scheduler and handed to idle workers anyway) cost the solves 8% on 2 cores: 200 S draws on
# dask x2 took 28.6-29.8 s with these off against 31.1-32.5 s with Dask's defaults (three runs
# each, interleaved; benchmarks/RESULTS.md). Nothing a sweep reports depends on them.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.scheduler.work-stealing": False,
}


@contextmanager
def _dask_client(workers: int | None, scheduler: str | None):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise MatcherError(
            "the dask executor needs Dask: pip install -e '.[dask]' in a checkout (pip install 'salw-matcher[dask]' "
            "otherwise)"
        ) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, ValueError, TypeError) as exc:
            raise MatcherError(
                f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc}); give its address as tcp://HOST:PORT"
            ) from None
        with client:
            _check_workers(client, scheduler)
            yield client
        return
    import dask

    # our own cluster only (one given by --scheduler keeps its configuration); its workers inherit it
    with dask.config.set(QUIET_CLUSTER):
        cluster = LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,  # one solve per process: HiGHS runs single-threaded here
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        with cluster, Client(cluster) as client:
            client.run(tune_worker)  # our own workers (a cluster given by --scheduler is left as it is)
            yield client


WORKER_WAIT_SECONDS = 30


def _check_workers(client, scheduler: str) -> None:
    """A cluster given by --scheduler must have a worker that runs this matcher and OR-Tools: with no
    worker, or workers that cannot import matcher (they shut down on the first task), a sweep waited
    for ever with nothing said; with other versions, the same seed could give another table."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except (TimeoutError, OSError):
        raise MatcherError(
            f"--scheduler {scheduler}: no Dask worker joined within {WORKER_WAIT_SECONDS} s; start "
            f"one with `dask worker {scheduler}` where salw-matcher is installed"
        ) from None
    try:
        found = client.run(worker_versions)
    except Exception as exc:  # noqa: BLE001  (whatever a worker raised: most often matcher is not installed)
        raise MatcherError(
            f"--scheduler {scheduler}: a Dask worker cannot run the sweep ({type(exc).__name__}: "
            f"{exc}); install salw-matcher where the workers run"
        ) from None
    mine = worker_versions()
    other = {addr: v for addr, v in found.items() if v != mine}
    if other:
        addr, v = next(iter(other.items()))
        raise MatcherError(
            f"--scheduler {scheduler}: worker {addr} runs matcher {v[0]} with OR-Tools {v[1]}, this "
            f"machine matcher {mine[0]} with OR-Tools {mine[1]}; the same seed could give another "
            "table: install the same versions on the workers"
        )

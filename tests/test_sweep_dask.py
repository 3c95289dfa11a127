"""The same seed gives the same output on a process pool (1 or 2 workers) and on Dask (a real LocalCluster)."""

from __future__ import annotations

import logging

import pytest
import yaml
from click.testing import CliRunner

from matcher.cli import cli

distributed = pytest.importorskip("distributed")


@pytest.fixture
def ranged(tmp_path) -> str:
    """Every draw differs (budget ranges), so each draw is its own solve on some worker."""
    data = {
        "name": "ranged",
        "currency": "USD",
        "donors": [
            {"id": "JPN", "budget": 300000, "budget_range": [50000, 300000], "confidence": 0.8},
            {"id": "DEU", "budget": 250000, "budget_range": [100000, 250000], "regions": ["africa"]},
        ],
        "requests": [
            {"id": "NER-1", "country": "NER", "theme": "stockpile", "amount": 200000, "priority": 5},
            {"id": "MLI-1", "country": "MLI", "theme": "marking", "amount": 150000, "priority": 4, "min_funding": 0.5},
            {"id": "PER-1", "country": "PER", "theme": "legislation", "amount": 100000, "min_funding": 0},
        ],
    }
    path = tmp_path / "ranged.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _out(path: str, *args: str) -> str:
    res = CliRunner().invoke(cli, ["sweep", path, "--draws", "24", "--seed", "5", "--quiet", *args])
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture(scope="module")
def cluster():
    """A real Dask cluster of worker processes (not threads), as a user would start one."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    ) as c:
        yield c


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_dask_cluster_gives_the_same_output_as_local(ranged, cluster, fmt):
    local_one = _out(ranged, "--format", fmt, "--workers", "1")
    local_two = _out(ranged, "--format", fmt, "--workers", "2")
    on_dask = _out(ranged, "--format", fmt, "--executor", "dask", "--scheduler", cluster.scheduler_address)
    assert local_one == local_two == on_dask
    assert "NER-1" in on_dask


def test_dask_without_a_scheduler_starts_a_local_cluster(ranged):
    grid = ("--vary", "donors[JPN].confidence=0.5,1", "--format", "csv")
    assert _out(ranged, *grid, "--executor", "dask", "--workers", "2") == _out(ranged, *grid, "--workers", "2")


def test_a_scheduler_without_workers_is_one_error_not_a_wait_for_ever(ranged, monkeypatch):
    """A scheduler no worker had joined (or whose workers could not import matcher) left the sweep
    waiting with nothing said; now it waits a while for a worker, then says what to start."""
    from matcher.sweep import executors

    monkeypatch.setattr(executors, "WORKER_WAIT_SECONDS", 1)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        res = CliRunner().invoke(
            cli, ["sweep", ranged, "--draws", "4", "--quiet", "--executor", "dask", "--scheduler", address]
        )
    assert res.exit_code == 1
    assert res.stderr == (
        f"Error: --scheduler {address}: no Dask worker joined within 1 s; start one with "
        f"`dask worker {address}` where salw-matcher is installed\n"
    )


def test_a_scheduler_address_that_is_not_one_is_one_error(ranged):
    res = CliRunner().invoke(
        cli, ["sweep", ranged, "--draws", "4", "--quiet", "--executor", "dask", "--scheduler", "notanaddress"]
    )
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: --scheduler notanaddress: cannot reach the Dask scheduler (")
    assert res.stderr.endswith("give its address as tcp://HOST:PORT\n")

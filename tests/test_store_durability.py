"""Nothing half-written: a killed `matcher run` leaves no partial run; concurrent writers all land."""

from __future__ import annotations

import signal
import time

from click.testing import CliRunner
from store_helpers import matcher_process, scalar, write_yaml

from matcher.cli import cli
from matcher.store.runs import PAUSE_ENV

TABLES = (
    "run",
    "run_allocation",
    "run_outcome",
    "run_reason",
    "run_term",
    "run_stage",
    "run_donor",
    "scenario_snapshot",
    "audit_entry",
)


def counts(url: str) -> dict[str, int]:
    return {t: scalar(url, f"SELECT count(*) FROM {t}") for t in TABLES}


def wait_for(path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, "the save never reached its pause"
        time.sleep(0.05)


def test_run_killed_inside_its_save_transaction_leaves_nothing(store_url, ok_small, tmp_path):
    f = write_yaml(tmp_path / "s.yaml", ok_small)
    assert CliRunner().invoke(cli, ["db", "upgrade", "--db", store_url]).exit_code == 0
    marker = tmp_path / "paused"
    proc = matcher_process("run", str(f), "--db", store_url, "--node-limit", "1000", env={PAUSE_ENV: str(marker)})
    wait_for(marker)  # every row of the run is written, the transaction is not yet committed
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert counts(store_url) == dict.fromkeys(TABLES, 0)
    # the store is still usable and intact afterwards
    after = CliRunner().invoke(cli, ["run", str(f), "--db", store_url, "--node-limit", "1000"])
    assert after.exit_code == 0  # its id may be 2: PostgreSQL sequences do not roll back
    assert counts(store_url)["run"] == 1
    assert CliRunner().invoke(cli, ["audit", "verify", "--db", store_url]).exit_code == 0


def test_run_killed_at_any_moment_leaves_all_of_the_run_or_none(store_url, ok_small, tmp_path):
    f = write_yaml(tmp_path / "s.yaml", ok_small)
    assert CliRunner().invoke(cli, ["db", "upgrade", "--db", store_url]).exit_code == 0
    for delay in (0.4, 1.0, 1.6):  # while importing, solving or saving, depending on the machine's speed
        proc = matcher_process("run", str(f), "--db", store_url, "--node-limit", "1000")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        n = counts(store_url)
        assert n["run_allocation"] == 2 * n["run"] and n["run_outcome"] == 4 * n["run"]
        assert n["audit_entry"] == n["run"] + (1 if n["run"] else 0)  # a run and its entries, or nothing
        assert CliRunner().invoke(cli, ["audit", "verify", "--db", store_url]).exit_code == 0


def test_four_concurrent_runs_on_a_fresh_database_all_land(store_url, ok_small, tmp_path):
    f = write_yaml(tmp_path / "s.yaml", ok_small)
    procs = [
        matcher_process("run", str(f), "--db", store_url, "--node-limit", "1000", "--note", f"writer {i}")
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _out, err in outputs]
    assert sorted(int(out) for out, _err in outputs) == [1, 2, 3, 4]
    assert scalar(store_url, "SELECT count(DISTINCT note) FROM run") == 4
    assert scalar(store_url, "SELECT count(*) FROM audit_entry") == 5  # one snapshot import + four runs
    # each writer stamps its entry after taking the lock, so the chain's times follow its order
    assert (
        scalar(
            store_url,
            "SELECT count(*) FROM audit_entry a JOIN audit_entry b ON a.seq < b.seq WHERE a.created_at > b.created_at",
        )
        == 0
    )
    out = CliRunner().invoke(cli, ["audit", "verify", "--db", store_url])
    assert out.exit_code == 0, out.output

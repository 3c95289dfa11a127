"""The project's own tooling (CONVENTIONS: ruff and mypy on matcher/, run by the test command): a lint
error or a type error fails the tests like a wrong answer, so CI catches it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]')")
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_is_clean():
    done = _run("ruff", "check", "matcher", "tests", "benchmarks", "cli.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_kept():
    done = _run("ruff", "format", "--check", "matcher", "tests", "benchmarks", "cli.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_no_type_errors():
    done = _run("mypy")  # its files and settings: pyproject.toml [tool.mypy]
    assert done.returncode == 0, done.stdout + done.stderr

"""Shared fixtures: tiny scenarios small enough to check by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture
def ok_small() -> dict:
    """Two donors, four requests; the optimum funds NER-1 and MLI-1 (coverage 24)."""
    return {
        "name": "ok-small",
        "currency": "USD",
        "fx": {"EUR": 1.08},
        "donors": [
            {"id": "DEU", "budget": 500000, "currency": "EUR", "regions": ["africa"]},
            {"id": "JPN", "budget": 300000, "themes": ["stockpile", "marking"], "min_grant": 50000},
        ],
        "requests": [
            {"id": "NER-1", "country": "NER", "theme": "stockpile", "amount": 400000, "priority": 5},
            {"id": "MLI-1", "country": "MLI", "theme": "marking", "amount": 250000, "priority": 4, "min_funding": 0.5},
            {"id": "PER-1", "country": "PER", "theme": "legislation", "amount": 100000},
            {"id": "BFA-1", "country": "BFA", "theme": "ddr", "amount": 300000, "priority": 2, "requires": ["NER-1"]},
        ],
    }


# --- the store: every store test runs on SQLite and on PostgreSQL -------------------------------------

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture
def ok_in_kind(ok_small) -> dict:
    """ok_small plus an in-kind donor (10 expert-days) that offers 6 days worth 100000 to PER-1."""
    data = dict(ok_small)
    data["donors"] = [*ok_small["donors"], {"id": "EXP", "kind": "in_kind", "capacity": 10, "unit": "expert-day"}]
    data["offers"] = [{"donor": "EXP", "request": "PER-1", "units": 6, "value": 100000, "cost": 5}]
    return data


@pytest.fixture(scope="session")
def pg_database():
    """A throwaway PostgreSQL database for this test session, dropped at the end.

    Skipped when no server answers on 127.0.0.1:5432, except under CI (CI=true), where it fails.
    """
    import os
    import uuid

    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    name = f"matcher_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        admin.dispose()
        message = f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield f"{PG_SERVER}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty database URL: a new SQLite file, or the session's PostgreSQL database with an empty schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'matcher.db'}"
    url = request.getfixturevalue("pg_database")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:  # DROP SCHEMA also removes the audit triggers and their function
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url

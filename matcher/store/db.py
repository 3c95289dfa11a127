"""Engine factory and schema upgrades: SQLite (a file, no setup) or any SQLAlchemy URL (PostgreSQL).

SQLite connections get foreign keys, WAL (readers never block the writer) and a busy timeout, and
every transaction starts with ``BEGIN IMMEDIATE``: a writer takes the write lock up front, so two
writers queue on the busy timeout instead of failing halfway with "database is locked".
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from matcher.errors import MatcherError
from matcher.store import ENV_VAR  # db.ENV_VAR: the name callers use, and the message of _must_exist

DEFAULT_DB = "sqlite:///matcher.db"
BUSY_TIMEOUT_MS = 60_000
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: the PostgreSQL advisory lock that serialises schema upgrades of one database.
_PG_UPGRADE_LOCK = 7_301_117


def resolve_url(url: str | None) -> str:
    """The database URL: the given one, else $MATCHER_DB, else ./matcher.db. A bare path means SQLite."""
    url = url or os.environ.get(ENV_VAR) or DEFAULT_DB
    if "://" not in url:
        url = f"sqlite:///{url}"
    return url


def make_engine(url: str | None = None, reading: bool = False) -> Engine:
    """A new engine for the URL (see ``resolve_url``), with the SQLite settings this store relies on."""
    url = resolve_url(url)
    try:
        parsed = make_url(url)
        shown = parsed.render_as_string(hide_password=True)  # never a password on the terminal
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        why = "not a database URL" if isinstance(exc, ArgumentError) else f"not a valid URL ({exc})"
        raise MatcherError(f"--db: {why}; use a file path or e.g. postgresql+psycopg://user@host:5432/db") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, reading)
    if parsed.get_backend_name() != "postgresql":
        raise MatcherError(
            f"--db {shown}: {parsed.get_backend_name()} is not supported; the store runs on SQLite "
            "(a file path) or PostgreSQL (postgresql+psycopg://user@host/db)"
        )
    try:
        return create_engine(url, pool_pre_ping=True)
    except ValueError as exc:  # a port that is not a number
        raise MatcherError(
            f"--db {shown}: not a valid URL ({exc}); e.g. postgresql+psycopg://user@host:5432/db"
        ) from None
    except ModuleNotFoundError as exc:
        raise MatcherError(
            f"--db {shown}: the driver {exc.name!r} is not installed; write the URL as postgresql+psycopg://... "
            "(psycopg 3, which matcher installs), or install that driver"
        ) from None


def _sqlite_engine(url: str, database: str | None, reading: bool = False) -> Engine:
    """``reading``: for commands that only read (runs, show, audit verify): the file's journal mode is
    left as it is (switching a copy to WAL changed its bytes, so an auditor's checksum of it) and
    transactions take no write lock (BEGIN, not BEGIN IMMEDIATE: a read-only file can be read)."""
    if database and database != ":memory:" and not Path(database).parent.exists():
        folder = Path(database).parent
        raise MatcherError(f"--db {url}: folder {folder} does not exist; create it or choose another path")
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Drive transactions ourselves (the driver's implicit BEGIN would be DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if not reading:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic config for the migrations shipped inside the package (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration this version of matcher knows."""
    head = ScriptDirectory.from_config(_script_config()).get_current_head()
    assert head is not None, "the package ships no migrations"
    return head


def _script_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision in one locked transaction; (revision before, after).

    The lock (SQLite's write lock, a PostgreSQL advisory lock) makes concurrent first uses safe: the
    first process migrates, the others wait and then find the schema current.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_UPGRADE_LOCK})
        before = MigrationContext.configure(conn).get_current_revision()
        known = {r.revision for r in ScriptDirectory.from_config(_script_config()).walk_revisions()}
        if before is not None and before not in known:
            raise MatcherError(f"the database is at schema {before}, newer than this matcher knows; upgrade matcher")
        if before != head_revision():
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    return before, head_revision()


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the database, None when it has never been migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_store(url: str | None = None, *, create: bool = True, reading: bool = False) -> Engine:
    """An engine on a ready database: a fresh one is migrated on first use; an old one must be upgraded.
    ``create`` False (commands that only read: runs, show, replay, audit verify): a SQLite file that
    does not exist is an error, not a new empty store that a mistyped path would "verify" as intact."""
    if not create:
        _must_exist(url)
    engine = make_engine(url, reading)
    try:
        rev = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error here means "cannot reach the database"
        engine.dispose()
        raise MatcherError(f"cannot open the database {engine.url.render_as_string()}: {_first_line(exc)}") from None
    head = head_revision()
    if rev is None and not create:  # a reachable database that holds no store (an empty PostgreSQL database)
        where = engine.url.render_as_string()
        engine.dispose()
        raise MatcherError(
            f"no store in {where}: the database holds no matcher tables; check --db or {ENV_VAR} "
            "(a store is created by `matcher run` or `matcher sweep --save`)"
        )
    if rev is None:
        upgrade(engine)
    elif rev != head:
        known = {s.revision for s in ScriptDirectory.from_config(_script_config()).walk_revisions()}
        engine.dispose()
        if rev not in known:
            raise MatcherError(f"the database is at schema {rev}, newer than this matcher knows; upgrade matcher")
        raise MatcherError(f"the database is at schema {rev}, this matcher needs {head}; run `matcher db upgrade`")
    return engine


def _must_exist(url: str | None) -> None:
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except (ArgumentError, ValueError):
        return  # make_engine says what is wrong with it
    database = parsed.database
    if (
        parsed.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and Path(database).parent.exists()
        and not Path(database).exists()
    ):  # no folder: make_engine says so
        raise MatcherError(
            f"no store at {database}: the file does not exist; check --db or {ENV_VAR} (a store is "
            "created by `matcher run` or `matcher sweep --save`)"
        )


def _first_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]

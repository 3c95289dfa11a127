"""Every table of the store, in one module.

A run is normalised into rows (allocations, outcomes, reasons, terms, stages, donors) so that it can be
queried with plain SQL; ``matcher.store.runs`` turns the rows back into a ``Result``. The audit chain
(``AuditEntry``) deliberately has no foreign key to ``Run``: the record of a run must outlive the run,
so that deleting it is detected rather than cascaded away.
"""

from __future__ import annotations

import math

from sqlalchemy import Column, Float, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


class NanFloat(TypeDecorator):
    """A float that keeps NaN: SQLite stores NaN as NULL, so NaN is written as NULL and read back as NaN.

    Only for columns that are never legitimately empty (a stage's value, bound and gap).
    """

    impl = Float
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None or math.isnan(value) else value

    def process_result_value(self, value, dialect):
        return math.nan if value is None else value


def _text(nullable: bool = False) -> Column:
    """Unbounded text (JSON documents, notes, reasons): VARCHAR would cap them on some databases."""
    return Column(Text, nullable=nullable)


class ScenarioSnapshot(SQLModel, table=True):
    """A scenario exactly as solved: its canonical JSON and that JSON's SHA-256 (stored once per content)."""

    __tablename__ = "scenario_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    sha256: str = Field(unique=True, max_length=64)
    canonical_json: str = Field(sa_column=_text())
    imported_at: str
    imported_by: str


class Run(SQLModel, table=True):
    """One solve that was saved: who, when, why, with which parameters and versions, and how it came out."""

    __tablename__ = "run"

    id: int | None = Field(default=None, primary_key=True)
    created_at: str = Field(index=True)  # ISO 8601 UTC text: the same bytes back on every database
    by: str
    note: str = Field(default="", sa_column=_text())
    scenario_id: int = Field(foreign_key="scenario_snapshot.id", index=True)
    scenario_name: str = Field(index=True)
    input_sha256: str = Field(max_length=64)
    params_json: str = Field(sa_column=_text())  # SolveParams.public(), canonical JSON: a replay reuses it
    status: str
    currency: str
    engine: str
    ortools_version: str
    matcher_version: str
    seed: int
    threads: int
    time_limit: float | None = None
    node_limit: int | None = None
    solve_seconds: float
    gap: float | None = None
    # "solve" (one solve: allocations, outcomes...) or "sweep" (many: RunSweep and RunDraw rows)
    kind: str = Field(default="solve", sa_column_kwargs={"server_default": "solve"})


class RunTerm(SQLModel, table=True):
    """One objective term of a run: its value (absent when there is no solution) and its proven bound."""

    __tablename__ = "run_term"
    __table_args__ = (UniqueConstraint("run_id", "term"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", ondelete="CASCADE", index=True)
    position: int
    term: str
    value: float | None = None
    bound: float | None = None


class RunStage(SQLModel, table=True):
    """One stage of the lexicographic solve, with its own bound, gap and time."""

    __tablename__ = "run_stage"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", ondelete="CASCADE", index=True)
    position: int
    term: str
    sense: str
    value: float = Field(sa_column=Column(NanFloat, nullable=True))
    bound: float = Field(sa_column=Column(NanFloat, nullable=True))
    gap: float = Field(sa_column=Column(NanFloat, nullable=True))
    status: str
    seconds: float


class RunAllocation(SQLModel, table=True):
    """One grant or in-kind delivery of a run."""

    __tablename__ = "run_allocation"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", ondelete="CASCADE", index=True)
    position: int
    donor: str
    request: str
    amount: int
    kind: str
    units: int | None = None
    committed: int = 0


class RunOutcome(SQLModel, table=True):
    """How one request came out in a run."""

    __tablename__ = "run_outcome"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", ondelete="CASCADE", index=True)
    position: int
    request: str
    amount: int
    funded: int
    status: str


class RunReason(SQLModel, table=True):
    """One reason why a request of a run is not fully funded (code and the sentence a user reads)."""

    __tablename__ = "run_reason"
    __table_args__ = (UniqueConstraint("outcome_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    outcome_id: int = Field(foreign_key="run_outcome.id", ondelete="CASCADE", index=True)
    position: int
    code: str | None = None
    text: str | None = Field(default=None, sa_column=_text(nullable=True))


class RunDonor(SQLModel, table=True):
    """A donor's envelope or in-kind capacity in a run, and what of it was used."""

    __tablename__ = "run_donor"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", ondelete="CASCADE", index=True)
    position: int
    donor: str
    kind: str
    budget: int | None = None
    allocated: int = 0
    capacity: int | None = None
    used: int | None = None
    unit: str | None = None


class RunSweep(SQLModel, table=True):
    """What a saved sweep was asked (``matcher sweep`` options) and what it printed, as canonical JSON."""

    __tablename__ = "run_sweep"

    run_id: int = Field(foreign_key="run.id", ondelete="CASCADE", primary_key=True)
    spec_json: str = Field(sa_column=_text())  # draws, seed, vary, set, threshold: a replay reuses it
    output_json: str = Field(sa_column=_text())  # the summary of `matcher sweep --format json`
    executor: str
    workers: int


class RunDraw(SQLModel, table=True):
    """One distinct solve of a saved sweep: which grid point, the pledges drawn, the draws that gave
    them, and the outcome the summary was made from."""

    __tablename__ = "run_draw"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", ondelete="CASCADE", index=True)
    position: int
    point: int
    draws_json: str = Field(sa_column=_text())  # the draw numbers with these pledges ([] = as pledged)
    pledges_json: str = Field(sa_column=_text())  # donor id -> drawn budget or capacity
    status: str
    coverage: float | None = None
    placed: int
    grants: int
    outcome_json: str = Field(sa_column=_text())  # per request funded and status, per donor used and budget
    seconds: float


class AuditEntry(SQLModel, table=True):
    """One link of the append-only audit chain.

    ``entry_sha256`` hashes this entry's fields including ``prev_sha256`` (the previous entry's hash), so
    editing, removing or reordering any entry breaks every later link. ``parts_json`` holds one hash per
    part of the recorded content (a run's allocations, outcomes, params, snapshot...), so that a failed
    check can say which part changed; ``content_sha256`` is the hash of ``parts_json``. Updates and
    deletes are refused by database triggers (see the first migration).
    """

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)
    kind: str  # run_saved | run_replayed | scenario_imported
    run_id: int | None = Field(default=None, index=True)
    scenario_id: int | None = Field(default=None, index=True)
    created_at: str
    by: str
    parts_json: str = Field(sa_column=_text())
    content_sha256: str = Field(max_length=64)
    prev_sha256: str = Field(unique=True, max_length=64)  # unique: the chain can never fork
    entry_sha256: str = Field(unique=True, max_length=64)

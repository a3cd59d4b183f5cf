"""The SQL storage's tables, how a database made by an older shoal gains what it lacks, and how a
SQLite engine is set up (WAL, busy timeout, explicit ``BEGIN IMMEDIATE``) so several processes can
write one file.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

SCHEMA_VERSION = 1
_metadata = sa.MetaData()

studies = sa.Table(
    "shoal_studies",
    _metadata,
    sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(512), nullable=False, unique=True),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("space", sa.Text, nullable=False),
    sa.Column("sampler", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    # the objectives and constraints as JSON (Objectives.to_dict); NULL for a one-number study
    sa.Column("objectives", sa.Text, nullable=True),
    # the scheduler's description (Scheduler.describe); NULL: none given (or stored before this column)
    sa.Column("scheduler", sa.Text, nullable=True),
)

drivers = sa.Table(
    "shoal_drivers",
    _metadata,
    sa.Column("driver_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
)

trials = sa.Table(
    "shoal_trials",
    _metadata,
    sa.Column("trial_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "study_id",
        sa.Integer,
        sa.ForeignKey("shoal_studies.study_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("round", sa.Integer, nullable=True),
    sa.Column("claim", sa.String(255), nullable=True),
    sa.Column("requeued_from", sa.Integer, nullable=True),
    sa.Column("driver_id", sa.Integer, nullable=True),
    sa.Column("n_reports", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("proposed_by", sa.Text, nullable=True),
    sa.Column("failure", sa.String(32), nullable=True),
    # whether the trial's values meet the study's constraints; NULL: not judged (a one-number study,
    # an unfinished trial), and then the trial has no rows in shoal_metrics
    sa.Column("feasible", sa.Boolean, nullable=True),
    # how many rows the trial has in shoal_changes, and whether some wait to be delivered (so the
    # hot path reads them only when there are any)
    sa.Column("n_changes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("changes_pending", sa.Boolean, nullable=False, server_default=sa.false()),
    # the device its worker was given (optimize(devices=...)), e.g. "cuda:1"; NULL: none
    sa.Column("device", sa.String(255), nullable=True),
    # whether the trial has a person's note in shoal_notes (read only for those that have one)
    sa.Column("has_note", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("study_id", "number", name="uq_shoal_trial_number"),
    sa.UniqueConstraint("study_id", "claim", name="uq_shoal_trial_claim"),
)
sa.Index("ix_shoal_trials_state", trials.c.study_id, trials.c.state)


def _trial_key() -> sa.Column:
    """The ``trial_id`` primary-key column of a table whose rows belong to one trial."""
    return sa.Column(
        "trial_id",
        sa.Integer,
        sa.ForeignKey("shoal_trials.trial_id", ondelete="CASCADE"),
        primary_key=True,
    )


reports = sa.Table(
    "shoal_reports",
    _metadata,
    _trial_key(),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)

# The named numbers a trial's objective returned (objectives and extra metrics), a typed row each,
# written with the trial's finishing state change.
metrics = sa.Table(
    "shoal_metrics",
    _metadata,
    _trial_key(),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)

rungs = sa.Table(
    "shoal_rungs",
    _metadata,
    _trial_key(),
    sa.Column("bracket", sa.Integer, primary_key=True),
    sa.Column("rung", sa.Integer, primary_key=True),
    sa.Column("study_id", sa.Integer, nullable=False, index=True),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
)

checkpoints = sa.Table(
    "shoal_checkpoints",
    _metadata,
    _trial_key(),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("study_id", sa.Integer, nullable=False, index=True),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

lineage = sa.Table(
    "shoal_lineage",
    _metadata,
    _trial_key(),
    sa.Column("study_id", sa.Integer, nullable=False, index=True),
    sa.Column("member", sa.Integer, nullable=False),
    sa.Column("segment", sa.Integer, nullable=False),
    sa.Column("parent", sa.Integer, nullable=True),
    sa.Column("checkpoint", sa.Text, nullable=True),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("donor", sa.Integer, nullable=True),
    sa.Column("old_config", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

# A trial's hyperparameter changes (shoal.records.ConfigChange): tweaks while it ran (step: the
# first step trained with the new value; NULL while pending) and a fork's changes against its
# parent. Old and new values are JSON scalars (a dimension's values are str, int, float, bool, None).
changes = sa.Table(
    "shoal_changes",
    _metadata,
    sa.Column("change_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("trial_id", sa.Integer, sa.ForeignKey("shoal_trials.trial_id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("study_id", sa.Integer, nullable=False, index=True),
    sa.Column("step", sa.Integer, nullable=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("old_value", sa.Text, nullable=False),
    sa.Column("new_value", sa.Text, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# A person's Markdown notes (shoal.records.NoteRecord): one per study (trial_id and trial_number
# NULL) and one per trial; setting a note replaces the row.
notes = sa.Table(
    "shoal_notes",
    _metadata,
    sa.Column("note_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("shoal_studies.study_id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("trial_id", sa.Integer, sa.ForeignKey("shoal_trials.trial_id", ondelete="CASCADE"),
              nullable=True, index=True),
    sa.Column("trial_number", sa.Integer, nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# The box each round of a coarse-to-fine search covers, a row per dimension; the primary key
# (study, round, dimension) is the unique constraint racing writers meet.
round_boxes = sa.Table(
    "shoal_round_boxes",
    _metadata,
    sa.Column(
        "study_id",
        sa.Integer,
        sa.ForeignKey("shoal_studies.study_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("round", sa.Integer, primary_key=True),
    sa.Column("dimension", sa.String(255), primary_key=True),
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
)

meta = sa.Table(
    "shoal_meta",
    _metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)


def _add_missing_columns(conn: Connection) -> None:
    """Add the columns a database made by an older shoal lacks (each has a server default)."""
    inspector = sa.inspect(conn)
    for table in _metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                ddl = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
                guard = "IF NOT EXISTS " if conn.dialect.name == "postgresql" else ""
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {guard}{ddl}")


def _is_sqlite(url: sa.engine.URL) -> bool:
    return url.get_backend_name() == "sqlite"


_SYNCHRONOUS = ("normal", "full")


def _configure_sqlite(engine: Engine, synchronous: str, *, read_only: bool = False) -> None:
    """WAL, a busy timeout and explicit BEGIN [IMMEDIATE] so concurrent writers wait, not fail.

    ``synchronous=normal`` survives a killed process; ``full`` also survives a power cut (slower).
    A ``read_only`` engine leaves the journal mode and the sync level alone (they are writes).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - driver glue
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 60000")
        if not read_only:
            _switch_to_wal(cursor)
            cursor.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:  # pragma: no cover - driver glue
        mode = connection.get_execution_options().get("shoal_mode", "read")
        if mode != "autocommit":  # a lone SELECT needs no transaction in SQLite
            connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "write" else "BEGIN")


def _read_only_connector(database: str) -> Callable[[], sqlite3.Connection]:
    """A function opening ``database`` read-only: a ``mode=ro`` URI, never creating the file.

    Where the file's directory cannot be written and no ``-wal`` file is there, SQLite could not
    create the shared-memory file a WAL reader needs, and no writer can exist (it would need the
    ``-wal`` file): the file is opened ``immutable=1``.
    """
    path = Path(database).resolve()
    query = "mode=ro"
    if not os.access(path.parent, os.W_OK) and not Path(f"{path}-wal").exists():
        query += "&immutable=1"
    uri = f"file:{quote(str(path))}?{query}"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=60)

    return connect


def _switch_to_wal(cursor: Any, deadline_s: float = 60.0) -> None:
    """Put the file in WAL mode, retrying while another process holds it.

    SQLite answers a journal-mode change on a file that another connection is switching or
    creating with an immediate "database is locked" (the busy timeout does not cover it), so
    processes opening one new file at once retry here with a short random back-off.
    """
    give_up = time.monotonic() + deadline_s
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > give_up:
                raise
            time.sleep(random.uniform(0.005, 0.05))



#: The PostgreSQL advisory lock that serializes schema creation (CREATE TABLE IF NOT EXISTS races
#: on the catalog when several drivers open one new database at the same moment).
_SCHEMA_LOCK = 0x5EA1_5C4E


def create_schema(conn: Connection, *, sqlite: bool, url: str) -> None:
    """Create missing tables and columns and record the schema version (refuse a newer one)."""
    if not sqlite:  # several processes opening a new database at once take turns
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
    _metadata.create_all(conn)
    _add_missing_columns(conn)
    version = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    if version is None:
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    elif int(version) > SCHEMA_VERSION:
        raise RuntimeError(f"storage {url}: written by a newer shoal (schema {version}); upgrade shoal")


def check_schema(conn: Connection, *, url: str) -> None:
    """A database opened read-only cannot be upgraded: it must hold every table and column already,
    and not come from a newer shoal."""
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    lacking = [t.name for t in _metadata.sorted_tables if t.name not in present]
    for table in _metadata.sorted_tables:
        if table.name in present:
            columns = {column["name"] for column in inspector.get_columns(table.name)}
            lacking += [f"{table.name}.{c.name}" for c in table.columns if c.name not in columns]
    if lacking:
        raise ValueError(
            f"storage {url}: the database cannot be written and lacks {lacking[0]} (it was made by an "
            "older shoal, or is not a shoal database); open it once where it can be written (e.g. with "
            "'shoal studies' as its owner) to upgrade it"
        )
    version = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    if version is not None and int(version) > SCHEMA_VERSION:
        raise RuntimeError(f"storage {url}: written by a newer shoal (schema {version}); upgrade shoal")

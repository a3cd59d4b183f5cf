"""SQL storage through SQLAlchemy Core: SQLite (the embedded default) and PostgreSQL, one code path.

SQLite runs in WAL mode with a busy timeout, and every write is a short ``BEGIN IMMEDIATE``
transaction, so several processes can write one file without "database is locked" errors. A trial's
result is committed before ``tell`` returns: a driver killed with SIGKILL loses no finished trial.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..records import ConfigChange, Steering
from ..trial import FailureKind, Trial, TrialState
from .base import ClaimTaken, DriverRecord, StateConflict, Storage
from .sql_imports import SQLImports
from .sql_notes import SQLNotes
from .sql_records import SQLRecords
from .sql_rows import (
    _FINISH_SQL,
    _INSERT_SQL,
    _METRIC_SQL,
    _MOVE_SQL,
    _NEW_TRIALS_SQL,
    _PAUSED_SQL,
    _RESTART_SQL,
    _STATEMENTS,
    _TRIAL_COLUMNS,
    _build_trials,
    _stamp,
    _TrialRow,
    change_row,
    needs_details,
)
from .sql_schema import (
    _SYNCHRONOUS,
    _configure_sqlite,
    _is_sqlite,
    _read_only_connector,
    changes,
    check_schema,
    create_schema,
    drivers,
    reports,
    studies,
    trials,
)
from .sql_studies import SQLStudies
from .summary import check_device, check_failure, check_values, refuse_finished, to_json


class SQLStorage(SQLStudies, SQLRecords, SQLImports, SQLNotes, Storage):
    """Storage on any SQLAlchemy URL, e.g. ``sqlite:///shoal.db`` or ``postgresql+psycopg://...``.

    Connections, trials and drivers here; study rows in ``SQLStudies``, the records kept beside
    trials (rungs, checkpoints, lineage, round boxes) in ``SQLRecords``, trials taken in whole and
    configs completed as they start in ``SQLImports``."""

    def __init__(self, url: str, *, read_only: bool = False, **engine_kwargs: Any) -> None:
        """``read_only=True`` (SQLite only) opens an existing file for reading and never writes it:
        no WAL switch, no schema upgrade, ``mode=ro`` (``immutable=1`` where its directory cannot be
        written and no WAL file is there, so no writer can exist). For files shoal may not write."""
        self.url = url
        self.read_only = read_only
        parsed = sa.engine.make_url(url)
        self._sqlite = _is_sqlite(parsed)
        if read_only and not self._sqlite:
            raise ValueError(f"storage {url!r}: read_only applies to SQLite files only")
        if self._sqlite:
            database = parsed.database or ""
            if database in ("", ":memory:"):
                raise ValueError(
                    "storage: an in-memory SQLite URL would vanish with its connection; use "
                    "storage=None for memory or 'sqlite:///path.db' for a file"
                )
            if read_only:
                engine_kwargs.setdefault("creator", _read_only_connector(database))
            engine_kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 60})
            synchronous = str(parsed.query.get("synchronous", "normal")).lower()
            if synchronous not in _SYNCHRONOUS:
                raise ValueError(
                    f"storage: synchronous must be 'normal' or 'full' in {url!r}, got {synchronous!r}"
                )
            parsed = parsed.difference_update_query(["synchronous"])
        else:
            engine_kwargs.setdefault("pool_pre_ping", True)
        self._engine = sa.create_engine(parsed, **engine_kwargs)
        self._local = threading.local()
        if self._sqlite:
            _configure_sqlite(self._engine, synchronous, read_only=read_only)
        if read_only:
            self._check_schema()
        else:
            self._create_schema()

    def _check_schema(self) -> None:
        """A read-only file cannot be upgraded: it must hold every table and column already."""
        with self._read() as conn:
            check_schema(conn, url=self.url)

    def _create_schema(self) -> None:
        with self._write() as conn:
            create_schema(conn, sqlite=self._sqlite, url=self.url)

    @contextmanager
    def _connect(self, mode: str) -> Iterator[Connection]:
        """A connection in a transaction of the given mode (write, read or autocommit).

        SQLite keeps one connection per thread and process (opening one per call costs more than
        the statement); other databases use the pool.
        """
        if not self._sqlite:
            with self._engine.connect().execution_options(shoal_mode=mode) as conn, conn.begin():
                yield conn
            return
        conn = self._thread_connection().execution_options(shoal_mode=mode)
        with conn.begin():
            yield conn

    def _thread_connection(self) -> Connection:
        """This thread's SQLite connection (a new one after a fork)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.conn, local.pid = self._engine.connect(), os.getpid()
            local.db = local.conn.connection.driver_connection
        return local.conn

    def _write(self):
        return self._connect("write")

    def _hot(
        self, sql: str, params: dict[str, Any], *, write: bool,
        then: tuple[str, list[dict[str, Any]]] | None = None,
    ) -> list[tuple]:
        """Run one hot-path statement (its own transaction when ``write``); rows as tuples. ``then``:
        a statement and its parameter sets run in the same transaction when the first returned rows."""
        if not self._sqlite:
            with self._connect("write" if write else "autocommit") as conn:
                rows = [tuple(row) for row in conn.execute(_STATEMENTS[sql], params)]
                if then is not None and rows:
                    conn.execute(_STATEMENTS[then[0]], then[1])
                return rows
        self._thread_connection()
        db = self._local.db  # idle between calls: SQLAlchemy holds no transaction on it
        if not write:
            return db.execute(sql, params).fetchall()
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute(sql, params).fetchall()
            if then is not None and rows:
                db.executemany(*then)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return rows

    def _read(self, snapshot: bool = True):
        return self._connect("read" if snapshot else "autocommit")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local = threading.local()
        self._engine.dispose()

    # -- trials --------------------------------------------------------------------------------
    def create_trial(
        self,
        study_id: int,
        state: TrialState,
        config: dict[str, Any],
        unit: dict[str, float],
        *,
        claim: str | None = None,
        round: int | None = None,
        requeued_from: int | None = None,
        driver_id: int | None = None,
        proposed_by: str | None = None,
    ) -> Trial:
        if state not in (TrialState.QUEUED, TrialState.RUNNING):
            raise ValueError(f"a new trial is QUEUED or RUNNING, not {state}")
        params = {
            "study_id": study_id,
            "state": state.value,
            "config": to_json("config", config),
            "unit": to_json("unit", unit),
            "round": round,
            "claim": claim,
            "requeued_from": requeued_from,
            "driver_id": driver_id,
            "proposed_by": proposed_by,
        }
        for _attempt in range(50):
            now = time.time()
            params["created_at"] = now
            params["started_at"] = now if state == TrialState.RUNNING else None
            try:
                [(trial_id, number)] = self._hot(_INSERT_SQL, params, write=True)
            except (IntegrityError, sqlite3.IntegrityError):
                # Another driver took the claim, or the number (PostgreSQL): look again.
                if claim is not None:
                    with self._read() as conn:
                        if self._claim_exists(conn, study_id, claim):
                            raise ClaimTaken(claim) from None
                continue
            return Trial(
                number=number,
                state=state,
                config=dict(config),
                unit=dict(unit),
                round=round,
                claim=claim,
                requeued_from=requeued_from,
                proposed_by=proposed_by,
                created_at=_stamp(now),
                started_at=_stamp(now) if state == TrialState.RUNNING else None,
                trial_id=trial_id,
            )
        raise RuntimeError(f"could not number a new trial of study {study_id}: too much contention")

    @staticmethod
    def _claim_exists(conn: Connection, study_id: int, claim: str) -> bool:
        found = conn.execute(
            sa.select(trials.c.trial_id).where(
                (trials.c.study_id == study_id) & (trials.c.claim == claim)
            )
        ).first()
        return found is not None

    def claim_queued(self, study_id: int, driver_id: int | None) -> Trial | None:
        for _attempt in range(50):
            with self._write() as conn:
                row = conn.execute(
                    sa.select(trials.c.trial_id)
                    .where((trials.c.study_id == study_id) & (trials.c.state == "QUEUED"))
                    .order_by(trials.c.number)
                    .limit(1)
                    # PostgreSQL: lock the row, skipping rows other claimers hold (SQLite ignores this;
                    # BEGIN IMMEDIATE already serializes writers there)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                moved = conn.execute(
                    trials.update()
                    .where((trials.c.trial_id == row.trial_id) & (trials.c.state == "QUEUED"))
                    .values(state="RUNNING", started_at=time.time(), driver_id=driver_id)
                ).rowcount
                if moved == 1:
                    return self._read_one(conn, row.trial_id)
            # someone else claimed it between our select and update (PostgreSQL): try the next
        return None

    def set_state(
        self,
        trial_id: int,
        expected: TrialState,
        state: TrialState,
        *,
        value: float | None = None,
        error: str | None = None,
        failure: FailureKind | None = None,
        values: Mapping[str, float] | None = None,
        feasible: bool | None = None,
    ) -> Trial:
        refuse_finished(expected, state)
        kind = check_failure(state, failure)
        checked = None if values is None and feasible is None else check_values(state, values, feasible)
        params = {"state": state.value, "trial_id": trial_id, "expected": expected.value}
        then = None
        if state.finished:
            sql = _FINISH_SQL
            failure_value = None if kind is None else kind.value
            params.update(value=value, error=error, failure=failure_value, feasible=feasible, now=time.time())
            if checked:  # the values' rows, in the transaction of the state change
                named = [{"trial_id": trial_id, "name": k, "value": v} for k, v in checked.items()]
                then = (_METRIC_SQL, named)
        elif state == TrialState.RUNNING:
            sql = _RESTART_SQL
            params["now"] = time.time()
        else:
            sql = _MOVE_SQL
        rows = self._hot(sql, params, write=True, then=then)
        if not rows:
            with self._read() as conn:
                current = conn.execute(
                    sa.select(trials.c.number, trials.c.state).where(trials.c.trial_id == trial_id)
                ).first()
            where = f"trial {current.number} is {current.state}" if current else "no such trial"
            raise StateConflict(f"{where}, not {expected}; not moved to {state}")
        return self._to_trials([_TrialRow(*rows[0])])[0]

    def add_report(self, trial_id: int, step: int, value: float) -> Steering:
        with self._write() as conn:
            updated = conn.execute(
                reports.update()
                .where((reports.c.trial_id == trial_id) & (reports.c.step == step))
                .values(value=value)
            ).rowcount
            if not updated:
                conn.execute(reports.insert().values(trial_id=trial_id, step=step, value=value))
                conn.execute(
                    trials.update()
                    .where(trials.c.trial_id == trial_id)
                    .values(n_reports=trials.c.n_reports + 1)
                )
            return self._steer(conn, trial_id, step + 1)

    def poll_trial(self, trial_id: int, from_step: int) -> Steering:
        with self._write() as conn:
            return self._steer(conn, trial_id, from_step)

    @staticmethod
    def _steer(conn: Connection, trial_id: int, from_step: int) -> Steering:
        """The stop flag, and the pending changes delivered now (stamped with ``from_step``)."""
        stop, pending = conn.execute(
            sa.select(trials.c.stop_requested, trials.c.changes_pending).where(trials.c.trial_id == trial_id)
        ).one()
        if not pending:
            return Steering(stop=bool(stop))
        mine = (changes.c.trial_id == trial_id) & changes.c.step.is_(None)
        delivered = {
            name: json.loads(new)
            for name, new in conn.execute(
                sa.select(changes.c.name, changes.c.new_value).where(mine).order_by(changes.c.change_id)
            )
        }
        conn.execute(changes.update().where(mine).values(step=from_step))
        conn.execute(trials.update().where(trials.c.trial_id == trial_id).values(changes_pending=False))
        return Steering(stop=bool(stop), changes=delivered or None)

    def request_changes(self, trial_id: int, changes_: Sequence[ConfigChange]) -> bool:
        live = (TrialState.RUNNING.value, TrialState.PAUSED.value)
        with self._write() as conn:
            marked = conn.execute(
                trials.update()
                .where((trials.c.trial_id == trial_id) & trials.c.state.in_(live))
                .values(changes_pending=True, n_changes=trials.c.n_changes + len(changes_))
            ).rowcount
            if marked != 1:
                return False
            self._insert_changes(conn, trial_id, [
                ConfigChange(c.trial_number, c.name, c.old, c.new, c.source, None, "tweak") for c in changes_
            ])
            return True

    def add_changes(self, trial_id: int, changes_: Sequence[ConfigChange]) -> None:
        with self._write() as conn:
            conn.execute(
                trials.update()
                .where(trials.c.trial_id == trial_id)
                .values(n_changes=trials.c.n_changes + len(changes_))
            )
            self._insert_changes(conn, trial_id, changes_)

    @staticmethod
    def _insert_changes(conn: Connection, trial_id: int, changes_: Sequence[ConfigChange]) -> None:
        study_id = conn.execute(
            sa.select(trials.c.study_id).where(trials.c.trial_id == trial_id)
        ).scalar_one()
        now = time.time()
        for change in changes_:  # one at a time: change_id keeps their order
            conn.execute(changes.insert().values(**change_row(trial_id, study_id, change, now)))

    # -- steering ------------------------------------------------------------------------------
    def set_paused(self, study_id: int, paused: bool) -> None:
        with self._write() as conn:
            conn.execute(
                studies.update().where(studies.c.study_id == study_id).values(paused=bool(paused))
            )

    def is_paused(self, study_id: int) -> bool:
        rows = self._hot(_PAUSED_SQL, {"study_id": study_id}, write=False)
        return bool(rows and rows[0][0])

    def request_stop(self, trial_id: int) -> bool:
        with self._write() as conn:
            return conn.execute(
                trials.update()
                .where((trials.c.trial_id == trial_id) & (trials.c.state == TrialState.RUNNING.value))
                .values(stop_requested=True)
            ).rowcount == 1

    def set_device(self, trial_id: int, device: str) -> None:
        check_device(device)
        with self._write() as conn:
            conn.execute(trials.update().where(trials.c.trial_id == trial_id).values(device=device))

    def _read_one(self, conn: Connection, trial_id: int) -> Trial:
        row = conn.execute(sa.select(*_TRIAL_COLUMNS).where(trials.c.trial_id == trial_id)).one()
        return self._with_reports(conn, [row])[0]

    def read_trials(
        self, study_id: int, *, after: int = -1, numbers: Collection[int] = ()
    ) -> list[Trial]:
        # No snapshot transaction: trials are read first and their reports only ever grow.
        if not numbers:
            rows = self._hot(_NEW_TRIALS_SQL, {"study_id": study_id, "after": after}, write=False)
            return self._to_trials([_TrialRow(*row) for row in rows]) if rows else []
        with self._read(snapshot=False) as conn:
            clause = (trials.c.number > after) | trials.c.number.in_(sorted(numbers))
            found = conn.execute(
                sa.select(*_TRIAL_COLUMNS)
                .where((trials.c.study_id == study_id) & clause)
                .order_by(trials.c.number)
            ).all()
            return self._with_reports(conn, found) if found else []

    def _to_trials(self, rows: list[Any]) -> list[Trial]:
        """Trials from rows, their reports and values fetched when they have any."""
        if not any(needs_details(row) for row in rows):
            return _build_trials(rows)
        with self._read(snapshot=False) as conn:
            return self._with_reports(conn, rows)

    @staticmethod
    def _with_reports(conn: Connection, rows: list[Any]) -> list[Trial]:
        """Trials from rows, with their reports and values read on ``conn``."""
        def rows_of(query: Any, ids: list[int]) -> Iterable[tuple[int, Any, float]]:
            return conn.execute(query, {"ids": ids})

        return _build_trials(rows, rows_of)

    def promote_trial(self, trial_id: int, driver_id: int | None) -> Trial:
        with self._write() as conn:
            moved = conn.execute(
                trials.update()
                .where((trials.c.trial_id == trial_id) & (trials.c.state == TrialState.PAUSED.value))
                .values(state=TrialState.RUNNING.value, driver_id=driver_id)
            ).rowcount
            if moved != 1:
                current = conn.execute(
                    sa.select(trials.c.number, trials.c.state).where(trials.c.trial_id == trial_id)
                ).first()
                where = f"trial {current.number} is {current.state}" if current else "no such trial"
                raise StateConflict(f"{where}, not PAUSED; not resumed")
            return self._read_one(conn, trial_id)

    # -- drivers -------------------------------------------------------------------------------
    def register_driver(self, host: str, pid: int) -> int:
        with self._write() as conn:
            return conn.execute(
                drivers.insert().values(host=host, pid=pid, heartbeat_at=time.time())
            ).inserted_primary_key[0]

    def heartbeat(self, driver_id: int) -> None:
        with self._write() as conn:
            conn.execute(
                drivers.update()
                .where(drivers.c.driver_id == driver_id)
                .values(heartbeat_at=time.time())
            )

    def running_with_drivers(self, study_id: int) -> list[tuple[Trial, DriverRecord | None]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(*_TRIAL_COLUMNS, trials.c.driver_id)
                .where((trials.c.study_id == study_id) & (trials.c.state == "RUNNING"))
                .order_by(trials.c.number)
            ).all()
            if not rows:
                return []
            found = self._with_reports(conn, rows)
            driver_ids = {row.driver_id for row in rows if row.driver_id is not None}
            known = {
                d.driver_id: DriverRecord(d.driver_id, d.host, d.pid, _stamp(d.heartbeat_at))
                for d in conn.execute(sa.select(drivers).where(drivers.c.driver_id.in_(driver_ids)))
            }
        return [(trial, known.get(row.driver_id)) for trial, row in zip(found, rows, strict=True)]

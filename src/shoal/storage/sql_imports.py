"""Trials a SQL storage takes in whole (``import_trial``: a copied study, a result obtained elsewhere,
a warm start) and the config of a trial queued with part of one, completed as it starts
(``fill_config``)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..records import CheckpointRef, LineageRecord, RungRecord
from ..trial import Trial, TrialState
from .base import ClaimTaken, StateConflict
from .sql_rows import _dumps, _stamp, change_row
from .sql_schema import changes, checkpoints, lineage, metrics, notes, reports, rungs, trials
from .summary import check_fill, check_imported, to_json


def _seconds(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # a naive time is read as UTC, as shoal stores it
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _utc(moment: datetime | None, default: float | None = None) -> datetime | None:
    """A time as a read returns it (aware, UTC, whole microseconds); None: ``default`` (seconds)."""
    seconds = _seconds(moment)
    return _stamp(default if seconds is None else seconds)


_NEXT_NUMBER = sa.select(sa.func.coalesce(sa.func.max(trials.c.number), -1) + 1).where(
    trials.c.study_id == sa.bindparam("study_id")
)


class SQLImports:
    """The import methods of ``SQLStorage`` (a mixin: it runs on the class's connections)."""

    # provided by SQLStorage: a connection in a write transaction, a trial read back on it
    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[..., AbstractContextManager[Connection]]
    _read_one: Callable[[Connection, int], Trial]
    _claim_exists: Callable[[Connection, int, str], bool]

    def import_trial(
        self,
        study_id: int,
        trial: Trial,
        *,
        lineage: LineageRecord | None = None,
        rungs: Sequence[RungRecord] = (),
        checkpoints: Sequence[CheckpointRef] = (),
    ) -> Trial:
        checked = check_imported(trial)
        old_config = None
        if lineage is not None and lineage.old_config is not None:
            old_config = to_json("old_config", lineage.old_config)
        for _attempt in range(50):
            try:
                with self._write() as conn:
                    return self._insert_whole(
                        conn, study_id, checked, lineage, old_config, rungs, checkpoints
                    )
            except (IntegrityError, sqlite3.IntegrityError):
                # another driver took the claim, or the number (PostgreSQL): look again
                if checked.claim is not None:
                    with self._read() as conn:
                        if self._claim_exists(conn, study_id, checked.claim):
                            raise ClaimTaken(checked.claim) from None
        raise RuntimeError(f"could not number an imported trial of study {study_id}: too much contention")

    def _insert_whole(
        self,
        conn: Connection,
        study_id: int,
        trial: Trial,
        record: LineageRecord | None,
        old_config: str | None,
        rung_records: Sequence[RungRecord],
        refs: Sequence[CheckpointRef],
    ) -> Trial:
        """One transaction: the trial row, then every row kept beside it."""
        now = time.time()
        number = conn.execute(_NEXT_NUMBER, {"study_id": study_id}).scalar_one()
        pending = any(c.kind == "tweak" and c.step is None for c in trial.changes)
        # constant statements with parameters: building .values() per call costs more than the insert
        trial_id = conn.execute(trials.insert(), dict(
            study_id=study_id, number=number, state=trial.state.value, config=_dumps(trial.config),
            unit=_dumps(trial.unit), value=trial.value, error=trial.error, round=trial.round,
            claim=trial.claim, requeued_from=trial.requeued_from, driver_id=None,
            n_reports=len(trial.reports), created_at=_seconds(trial.created_at) or now,
            started_at=_seconds(trial.started_at), finished_at=_seconds(trial.finished_at),
            stop_requested=bool(trial.stop_requested), proposed_by=trial.proposed_by,
            failure=None if trial.failure is None else trial.failure.value, feasible=trial.feasible,
            n_changes=len(trial.changes), changes_pending=pending, has_note=trial.note is not None,
        )).inserted_primary_key[0]
        if trial.note is not None:
            conn.execute(notes.insert(), dict(study_id=study_id, trial_id=trial_id, trial_number=number,
                                              text=trial.note, updated_at=now))
        if trial.reports:
            conn.execute(reports.insert(), [{"trial_id": trial_id, "step": s, "value": v}
                                            for s, v in trial.reports])
        if trial.values:
            conn.execute(metrics.insert(), [{"trial_id": trial_id, "name": k, "value": v}
                                            for k, v in trial.values.items()])
        for change in trial.changes:  # one at a time: change_id keeps their order
            row = change_row(trial_id, study_id, change, now)
            row["created_at"] = _seconds(change.created_at) or now
            conn.execute(changes.insert(), row)
        if record is not None:
            conn.execute(lineage.insert(), dict(
                trial_id=trial_id, study_id=study_id, member=int(record.member), segment=int(record.segment),
                parent=record.parent, checkpoint=record.checkpoint, step=int(record.step), donor=record.donor,
                old_config=old_config, created_at=_seconds(record.created_at) or now,
            ))
        kept = {(int(r.bracket), int(r.rung)): r for r in reversed(rung_records)}  # the first one wins
        if kept:
            conn.execute(rungs.insert(), [
                {"trial_id": trial_id, "bracket": b, "rung": k, "study_id": study_id, "step": int(r.step),
                 "value": float(r.value)} for (b, k), r in sorted(kept.items())])
        saved = {int(ref.step): ref for ref in refs}  # a later one at the same step replaces the first
        if saved:
            conn.execute(checkpoints.insert(), [
                {"trial_id": trial_id, "step": step, "study_id": study_id, "uri": str(ref.uri),
                 "created_at": _seconds(ref.created_at) or now} for step, ref in sorted(saved.items())])
        # the trial as stored, as a read would return it (times in UTC), without reading it back
        return dataclasses.replace(
            trial, number=number, trial_id=trial_id, created_at=_utc(trial.created_at, now),
            started_at=_utc(trial.started_at), finished_at=_utc(trial.finished_at),
            changes=[dataclasses.replace(c, trial_number=number, created_at=_utc(c.created_at, now))
                     for c in trial.changes],
        )

    def fill_config(
        self,
        trial_id: int,
        config: Mapping[str, Any],
        unit: Mapping[str, float],
        *,
        proposed_by: str | None = None,
    ) -> Trial:
        new_unit = to_json("unit", unit)
        with self._write() as conn:
            row = conn.execute(
                sa.select(trials.c.number, trials.c.state, trials.c.config)
                .where(trials.c.trial_id == trial_id)
                .with_for_update()
            ).first()
            if row is None or row.state != TrialState.RUNNING.value:
                where = "no such trial" if row is None else f"trial {row.number} is {row.state}"
                raise StateConflict(f"{where}, not RUNNING; its config is not filled")
            check_fill(json.loads(row.config), config)
            values: dict[str, Any] = {"config": _dumps(dict(config)), "unit": new_unit}
            if proposed_by is not None:
                values["proposed_by"] = proposed_by
            conn.execute(trials.update().where(trials.c.trial_id == trial_id).values(**values))
            return self._read_one(conn, trial_id)

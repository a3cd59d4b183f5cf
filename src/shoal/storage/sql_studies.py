"""The study rows of a SQL storage: create, find and list studies (with their trial counts and best
values), update a stored space or sampler, delete a study with everything stored beside its trials."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..trial import TrialState
from .base import StudyExists, StudyNotFound, StudyRecord, StudySummary
from .sql_rows import _dumps, _stamp
from .sql_schema import (
    changes,
    checkpoints,
    lineage,
    metrics,
    notes,
    reports,
    round_boxes,
    rungs,
    studies,
    trials,
)
from .summary import not_found_message, summarize, to_json


class SQLStudies:
    """The study methods of ``SQLStorage`` (a mixin: it runs on the class's connections)."""

    url: str
    # provided by SQLStorage: a connection in a write transaction, and one for reading
    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[..., AbstractContextManager[Connection]]

    @staticmethod
    def _study(row: Any) -> StudyRecord:
        return StudyRecord(
            row.study_id,
            row.name,
            row.direction,
            json.loads(row.space),
            row.sampler,
            _stamp(row.created_at),
            bool(row.paused),
            None if row.objectives is None else json.loads(row.objectives),
            row.scheduler,
        )

    def create_study(
        self,
        name: str,
        direction: str,
        space: dict[str, Any],
        sampler: str,
        *,
        objectives: dict[str, Any] | None = None,
        scheduler: str | None = None,
    ) -> StudyRecord:
        stored = None if objectives is None else to_json("objectives", objectives)
        try:
            with self._write() as conn:
                study_id = conn.execute(
                    studies.insert().values(
                        name=name,
                        direction=direction,
                        space=_dumps(space),
                        sampler=sampler,
                        created_at=time.time(),
                        objectives=stored,
                        scheduler=scheduler,
                    )
                ).inserted_primary_key[0]
        except IntegrityError:
            raise StudyExists(f"study {name!r} already exists in {self.url}") from None
        return self._get_study_by(studies.c.study_id == study_id, name)

    def _get_study_by(self, clause: Any, name: str) -> StudyRecord:
        with self._read() as conn:
            row = conn.execute(sa.select(studies).where(clause)).first()
            if row is None:
                names = conn.execute(sa.select(studies.c.name)).scalars().all()
                raise StudyNotFound(not_found_message(name, names))
        return self._study(row)

    def get_study(self, name: str) -> StudyRecord:
        return self._get_study_by(studies.c.name == name, name)

    def list_studies(self) -> list[StudySummary]:
        with self._read() as conn:
            records = [self._study(r) for r in conn.execute(sa.select(studies).order_by("study_id"))]
            rows = conn.execute(
                sa.select(trials.c.study_id, trials.c.state, trials.c.value, trials.c.feasible)
            ).all()
        per_study: dict[int, list[tuple[TrialState, float | None, bool | None]]] = {}
        for row in rows:
            feasible = None if row.feasible is None else bool(row.feasible)
            per_study.setdefault(row.study_id, []).append((TrialState(row.state), row.value, feasible))
        return [summarize(r, per_study.get(r.study_id, [])) for r in records]

    def update_study(
        self,
        study_id: int,
        *,
        space: dict[str, Any] | None = None,
        sampler: str | None = None,
        units: Mapping[int, Mapping[str, float]] | None = None,
        scheduler: str | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if space is not None:
            values["space"] = _dumps(space)
        if sampler is not None:
            values["sampler"] = sampler
        if scheduler is not None:
            values["scheduler"] = scheduler
        if not values and not units:
            return
        with self._write() as conn:
            if values:
                conn.execute(studies.update().where(studies.c.study_id == study_id).values(**values))
            if units:
                conn.execute(
                    trials.update()
                    .where((trials.c.trial_id == sa.bindparam("id")) & (trials.c.study_id == study_id))
                    .values(unit=sa.bindparam("new_unit")),
                    [{"id": tid, "new_unit": to_json("unit", dict(u))} for tid, u in units.items()],
                )

    def delete_study(self, name: str) -> None:
        record = self.get_study(name)
        with self._write() as conn:
            ids = sa.select(trials.c.trial_id).where(trials.c.study_id == record.study_id)
            conn.execute(reports.delete().where(reports.c.trial_id.in_(ids)))
            conn.execute(metrics.delete().where(metrics.c.trial_id.in_(ids)))
            conn.execute(changes.delete().where(changes.c.study_id == record.study_id))
            conn.execute(rungs.delete().where(rungs.c.study_id == record.study_id))
            conn.execute(checkpoints.delete().where(checkpoints.c.study_id == record.study_id))
            conn.execute(lineage.delete().where(lineage.c.study_id == record.study_id))
            conn.execute(round_boxes.delete().where(round_boxes.c.study_id == record.study_id))
            conn.execute(notes.delete().where(notes.c.study_id == record.study_id))
            conn.execute(trials.delete().where(trials.c.study_id == record.study_id))
            conn.execute(studies.delete().where(studies.c.study_id == record.study_id))

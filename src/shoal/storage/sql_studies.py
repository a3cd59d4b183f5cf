"""The study rows of a SQL storage: create, find and list studies (with their trial counts and best
values), update a stored space or sampler, delete a study with everything stored beside its trials."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..trial import TrialState
from .base import StudyCounts, StudyExists, StudyNotFound, StudyRecord, StudySummary
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
from .summary import not_found_message, to_json


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
        return self._summaries(None)

    def summarize_studies(self, study_ids: Collection[int]) -> list[StudySummary]:
        ids = sorted(set(study_ids))
        return [s for at in range(0, len(ids), _CHUNK) for s in self._summaries(ids[at:at + _CHUNK])]

    def study_counts(self) -> list[StudyCounts]:
        """Counted from the (study_id, state) index alone: no trial row is read."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(studies.c.study_id, studies.c.name, studies.c.paused, studies.c.sampler,
                          studies.c.scheduler).order_by(studies.c.study_id)
            ).all()
            counted = conn.execute(
                sa.select(trials.c.study_id, trials.c.state, sa.func.count())
                .group_by(trials.c.study_id, trials.c.state)
            ).all()
        per_study: dict[int, dict[TrialState, int]] = {}
        for study_id, state, n in counted:
            per_study.setdefault(study_id, {})[TrialState(state)] = n
        return [StudyCounts(r.study_id, r.name, bool(r.paused), r.sampler, r.scheduler,
                            per_study.get(r.study_id, {})) for r in rows]

    def _summaries(self, ids: list[int] | None) -> list[StudySummary]:
        """Counts, best values and last activity aggregated by the database (``ids``: only those)."""
        query = sa.select(studies).order_by(studies.c.study_id)
        per_state = sa.select(
            trials.c.study_id, trials.c.state, sa.func.count(), sa.func.max(trials.c.created_at),
            sa.func.max(trials.c.started_at), sa.func.max(trials.c.finished_at),
        ).group_by(trials.c.study_id, trials.c.state)
        best = sa.select(trials.c.study_id, sa.func.min(trials.c.value), sa.func.max(trials.c.value)).where(
            (trials.c.state == TrialState.COMPLETE.value) & trials.c.value.is_not(None)
            & trials.c.feasible.is_not(sa.false())
        ).group_by(trials.c.study_id)
        if ids is not None:
            query = query.where(studies.c.study_id.in_(ids))
            per_state = per_state.where(trials.c.study_id.in_(ids))
            best = best.where(trials.c.study_id.in_(ids))
        with self._read() as conn:
            records = [self._study(r) for r in conn.execute(query)]
            states = conn.execute(per_state).all()
            bests = {row[0]: (row[1], row[2]) for row in conn.execute(best)}
        counts: dict[int, dict[TrialState, int]] = {}
        latest: dict[int, float] = {}
        for study_id, state, n, *times in states:
            counts.setdefault(study_id, {})[TrialState(state)] = n
            latest[study_id] = max([latest.get(study_id, -math.inf), *(t for t in times if t is not None)])
        return [StudySummary(r, counts.get(r.study_id, {}), _best(r, bests.get(r.study_id)),
                             _stamp(latest.get(r.study_id, r.created_at.timestamp())))
                for r in records]

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


#: Study ids per ``IN (...)`` list (well under SQLite's limit on bound parameters).
_CHUNK = 500


def _best(record: StudyRecord, low_high: tuple[float | None, float | None] | None) -> float | None:
    """The best completed feasible value from the smallest and largest (none with several objectives)."""
    several = record.objectives is not None and len(record.objectives.get("objectives", ())) > 1
    if low_high is None or several:
        return None
    return low_high[1] if record.direction == "maximize" else low_high[0]

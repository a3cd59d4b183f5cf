"""Typed records stored beside a SQL storage's trials: rungs (successive-halving schedulers),
checkpoint references and lineage (population-based training), round boxes (coarse-to-fine search)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..records import CheckpointRef, LineageRecord, RungRecord
from .base import StudyNotFound
from .sql_rows import _stamp
from .sql_schema import checkpoints, lineage, round_boxes, rungs, studies, trials
from .summary import check_box, to_json


class SQLRecords:
    """The record methods of ``SQLStorage`` (a mixin: it runs on the class's connections)."""

    url: str
    # provided by SQLStorage: a connection in a write transaction, and one for reading
    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[..., AbstractContextManager[Connection]]

    # -- rungs ---------------------------------------------------------------------------------
    def add_rung(self, trial_id: int, record: RungRecord) -> bool:
        key = (rungs.c.trial_id == trial_id) & (rungs.c.bracket == record.bracket) & (
            rungs.c.rung == record.rung
        )
        try:
            with self._write() as conn:
                if conn.execute(sa.select(rungs.c.step).where(key)).first() is not None:
                    return False
                study_id = conn.execute(
                    sa.select(trials.c.study_id).where(trials.c.trial_id == trial_id)
                ).scalar_one()
                conn.execute(
                    rungs.insert().values(
                        trial_id=trial_id, bracket=int(record.bracket), rung=int(record.rung),
                        study_id=study_id, step=int(record.step), value=float(record.value),
                    )
                )
        except IntegrityError:  # another driver wrote it between our select and insert (PostgreSQL)
            return False
        return True

    def read_rungs(self, study_id: int) -> list[RungRecord]:
        with self._read(snapshot=False) as conn:
            rows = conn.execute(
                sa.select(trials.c.number, rungs.c.bracket, rungs.c.rung, rungs.c.step, rungs.c.value)
                .join(trials, trials.c.trial_id == rungs.c.trial_id)
                .where(rungs.c.study_id == study_id)
                .order_by(trials.c.number, rungs.c.bracket, rungs.c.rung)
            ).all()
        return [RungRecord(int(n), int(b), int(k), int(st), float(v)) for n, b, k, st, v in rows]

    # -- checkpoints and lineage ---------------------------------------------------------------
    def _study_of(self, conn: Connection, trial_id: int) -> int:
        return conn.execute(sa.select(trials.c.study_id).where(trials.c.trial_id == trial_id)).scalar_one()

    def add_checkpoint(self, trial_id: int, step: int, uri: str) -> None:
        key = (checkpoints.c.trial_id == trial_id) & (checkpoints.c.step == int(step))
        with self._write() as conn:
            values = {"uri": str(uri), "created_at": time.time()}
            if not conn.execute(checkpoints.update().where(key).values(**values)).rowcount:
                conn.execute(
                    checkpoints.insert().values(
                        trial_id=trial_id, step=int(step), study_id=self._study_of(conn, trial_id), **values
                    )
                )

    def read_checkpoints(self, study_id: int, *, numbers: Collection[int] = ()) -> list[CheckpointRef]:
        clause = checkpoints.c.study_id == study_id
        if numbers:
            clause = clause & trials.c.number.in_(sorted(set(numbers)))
        with self._read(snapshot=False) as conn:
            rows = conn.execute(
                sa.select(trials.c.number, checkpoints.c.step, checkpoints.c.uri, checkpoints.c.created_at)
                .join(trials, trials.c.trial_id == checkpoints.c.trial_id)
                .where(clause)
                .order_by(trials.c.number, checkpoints.c.step)
            ).all()
        return [CheckpointRef(int(n), int(st), uri, _stamp(at)) for n, st, uri, at in rows]

    def delete_checkpoints(self, study_id: int, uris: Collection[str]) -> None:
        if not uris:
            return
        with self._write() as conn:
            conn.execute(
                checkpoints.delete().where(
                    (checkpoints.c.study_id == study_id) & checkpoints.c.uri.in_(sorted(set(uris)))
                )
            )

    def add_lineage(self, trial_id: int, record: LineageRecord) -> None:
        old = None if record.old_config is None else to_json("old_config", record.old_config)
        with self._write() as conn:
            conn.execute(
                lineage.insert().values(
                    trial_id=trial_id, study_id=self._study_of(conn, trial_id), member=int(record.member),
                    segment=int(record.segment), parent=record.parent, checkpoint=record.checkpoint,
                    step=int(record.step), donor=record.donor, old_config=old, created_at=time.time(),
                )
            )

    def read_lineage(self, study_id: int) -> list[LineageRecord]:
        with self._read(snapshot=False) as conn:
            rows = conn.execute(
                sa.select(trials.c.number, lineage)
                .join(trials, trials.c.trial_id == lineage.c.trial_id)
                .where(lineage.c.study_id == study_id)
                .order_by(trials.c.number)
            ).all()
        return [
            LineageRecord(
                trial_number=int(r.number), member=r.member, segment=r.segment, parent=r.parent,
                checkpoint=r.checkpoint, step=r.step, donor=r.donor,
                old_config=None if r.old_config is None else json.loads(r.old_config),
                created_at=_stamp(r.created_at),
            )
            for r in rows
        ]

    # -- coarse-to-fine round boxes -------------------------------------------------------------
    def add_round_box(self, study_id: int, round: int, box: Mapping[str, tuple[float, float]]) -> None:
        round, checked = check_box(round, box)
        with self._write() as conn:
            # PostgreSQL: racing writers of a study's boxes take turns on its row, so the second one sees
            # the first one's rows (FOR NO KEY UPDATE leaves trials free to reference the study).
            # SQLite: BEGIN IMMEDIATE already serializes writers.
            found = conn.execute(
                sa.select(studies.c.study_id)
                .where(studies.c.study_id == study_id)
                .with_for_update(key_share=True)
            ).first()
            if found is None:
                raise StudyNotFound(f"no study with id {study_id} in {self.url}")
            taken = conn.execute(
                sa.select(round_boxes.c.round)
                .where((round_boxes.c.study_id == study_id) & (round_boxes.c.round == round))
                .limit(1)
            ).first()
            if taken is not None:  # the first box of a round wins
                return
            conn.execute(
                round_boxes.insert(),
                [
                    {"study_id": study_id, "round": round, "dimension": name, "low": low, "high": high}
                    for name, (low, high) in checked.items()
                ],
            )

    def read_round_boxes(self, study_id: int) -> dict[int, dict[str, tuple[float, float]]]:
        with self._read(snapshot=False) as conn:
            rows = conn.execute(
                sa.select(round_boxes.c.round, round_boxes.c.dimension, round_boxes.c.low, round_boxes.c.high)
                .where(round_boxes.c.study_id == study_id)
            ).all()
        boxes: dict[int, dict[str, tuple[float, float]]] = {}
        for r, name, low, high in sorted(tuple(row) for row in rows):  # not ORDER BY: collations differ
            boxes.setdefault(int(r), {})[name] = (float(low), float(high))
        return boxes

"""A person's Markdown notes in a SQL storage: one row per study note and per trial note
(``shoal_notes``), with ``shoal_trials.has_note`` so reading trials fetches notes only for those
that have one."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..records import NoteRecord, check_note
from .base import StudyNotFound
from .sql_rows import _stamp
from .sql_schema import notes, studies, trials

__all__ = ["SQLNotes"]


class SQLNotes:
    """The note methods of ``SQLStorage`` (a mixin: it runs on the class's connections)."""

    url: str
    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[..., AbstractContextManager[Connection]]

    def set_note(self, study_id: int, text: str, *, trial_number: int | None = None) -> NoteRecord | None:
        text = check_note(text)
        with self._write() as conn:
            # PostgreSQL: writers of one study's notes take turns on its row (SQLite: BEGIN IMMEDIATE)
            found = conn.execute(
                sa.select(studies.c.study_id).where(studies.c.study_id == study_id)
                .with_for_update(key_share=True)
            ).first()
            if found is None:
                raise StudyNotFound(f"no study with id {study_id} in {self.url}")
            trial_id = None
            if trial_number is not None:
                trial_id = conn.execute(sa.select(trials.c.trial_id).where(
                    (trials.c.study_id == study_id) & (trials.c.number == trial_number))).scalar()
                if trial_id is None:
                    raise ValueError(f"note: the study has no trial number {trial_number!r}")
            number = notes.c.trial_number
            where = (notes.c.study_id == study_id) & (
                number.is_(None) if trial_number is None else number == trial_number)
            conn.execute(notes.delete().where(where))
            kept = bool(text.strip())
            now = time.time()
            if kept:
                conn.execute(notes.insert().values(
                    study_id=study_id, trial_id=trial_id, trial_number=trial_number, text=text,
                    updated_at=now))
            if trial_id is not None:
                conn.execute(trials.update().where(trials.c.trial_id == trial_id).values(has_note=kept))
        return NoteRecord(trial_number, text, _stamp(now)) if kept else None

    def read_notes(self, study_id: int) -> list[NoteRecord]:
        with self._read(snapshot=False) as conn:
            rows = conn.execute(
                sa.select(notes.c.trial_number, notes.c.text, notes.c.updated_at)
                .where(notes.c.study_id == study_id).order_by(notes.c.note_id)
            ).all()
        latest = {number: NoteRecord(number, text, _stamp(at)) for number, text, at in rows}
        return sorted(latest.values(), key=lambda n: -1 if n.trial_number is None else n.trial_number)

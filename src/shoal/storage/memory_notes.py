"""A person's Markdown notes in ``InMemoryStorage``: the study notes by study, the trial notes on
the stored trials."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from ..records import NoteRecord, check_note
from ..trial import Trial
from .base import StudyNotFound

__all__ = ["MemoryNotes"]


class MemoryNotes:
    """The note methods of ``InMemoryStorage`` (a mixin on its dictionaries and lock)."""

    _lock: threading.Lock
    _trials: dict[int, list[Trial]]
    _notes: dict[tuple[int, int | None], NoteRecord]

    def set_note(self, study_id: int, text: str, *, trial_number: int | None = None) -> NoteRecord | None:
        text = check_note(text)
        with self._lock:
            if study_id not in self._trials:
                raise StudyNotFound(f"no study with id {study_id} in memory")
            trials = self._trials[study_id]
            known = isinstance(trial_number, int) and 0 <= trial_number < len(trials)
            if trial_number is not None and not known:
                raise ValueError(f"note: the study has no trial number {trial_number!r}")
            kept = bool(text.strip())
            record = NoteRecord(trial_number, text, datetime.now(timezone.utc))
            if kept:
                self._notes[study_id, trial_number] = record
            else:
                self._notes.pop((study_id, trial_number), None)
            if trial_number is not None:
                trials[trial_number].note = text if kept else None
            return record if kept else None

    def read_notes(self, study_id: int) -> list[NoteRecord]:
        with self._lock:
            mine = [n for (s, _), n in self._notes.items() if s == study_id]
        return sorted(mine, key=lambda n: -1 if n.trial_number is None else n.trial_number)

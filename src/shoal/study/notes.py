"""A person's Markdown notes on a study and its trials, from Python: ``study.note("...")`` and
``study.note("...", trial=3)``; an objective writes its own with ``trial.note("...")``. A mixin of
``Study`` (through ``PersonControls``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..records import NoteRecord

if TYPE_CHECKING:  # pragma: no cover
    from ..storage import Storage, StudyRecord
    from ..trial import Trial
    from .trial_log import TrialLog

__all__ = ["StudyNotes"]

_UNSET: Any = object()


class StudyNotes:
    """``Study.note`` and ``Study.notes``."""

    storage: Storage
    _record: StudyRecord
    _log: TrialLog
    _own: Callable[[Any], Trial]

    def note(self, text: str | None = _UNSET, *, trial: Any = None) -> str | None:
        """The study's Markdown note (``study.note()``), or set it (``study.note("# plan ...")``; an
        empty text removes it). ``trial=`` (a number or a handle from ``ask``) reads or sets that
        trial's note instead, which reads back as ``Trial.note``. The dashboard shows both, safely
        rendered, and ``shoal show`` prints them. ``ValueError`` for text that is not a str, is over
        ``shoal.records.MAX_NOTE`` characters, or an unknown trial, before anything is stored."""
        number = None if trial is None else self._own(trial).number
        if text is _UNSET or text is None:
            notes = self.storage.read_notes(self._record.study_id)
            found = [n.text for n in notes if n.trial_number == number]
            return found[0] if found else None
        stored = self.storage.set_note(self._record.study_id, text, trial_number=number)
        if number is not None:
            self._noted(number, None if stored is None else stored.text)
        return None

    def _trial_note(self, number: int, text: str) -> None:
        """Store a note an objective set with ``trial.note(text)`` on its running trial."""
        stored = self.storage.set_note(self._record.study_id, text, trial_number=number)
        self._noted(number, None if stored is None else stored.text)

    def _noted(self, number: int, text: str | None) -> None:
        """Keep this driver's copy of the trial in step (finished trials are not read again)."""
        record = self._log.by_number.get(number)
        if record is not None:
            self._log.put(dataclasses.replace(record, note=text))

    @property
    def notes(self) -> list[NoteRecord]:
        """Every note of the study, read now: the study's own first (``trial_number`` None), then
        its trials' by number."""
        return self.storage.read_notes(self._record.study_id)

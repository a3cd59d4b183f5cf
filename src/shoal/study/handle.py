"""The handle an objective gets when its trial runs in this process (``ask``, or ``optimize`` with
one worker): reports and checkpoints go straight to the study."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..records import CheckpointSlot, Steering
from ..trial import NOTE_STEP, Trial, TrialHandle

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

__all__ = ["RunningTrial"]


class RunningTrial(TrialHandle):
    """The handle for a trial this process runs (``optimize`` in process, or ``ask``)."""

    def __init__(self, study: Study, record: Trial) -> None:
        super().__init__(record.number, record.current_config)
        self._study = study
        self._record = record

    @property
    def unit(self) -> dict[str, float]:
        return self._record.unit

    @property
    def record(self) -> Trial:
        return self._record

    def _deliver(self, step: int, value: float) -> Steering:
        return self._study._report(self._record, step, value)

    def _poll(self, from_step: int) -> Steering:
        return self._study._poll(self._record, from_step)

    def _checkpoint_slot(self) -> CheckpointSlot | None:
        if self._slot is None:
            self._slot = self._study._checkpoints.slot_for(self._record)
        return self._slot

    def _announce(self, step: int, uri: str) -> None:
        if step == NOTE_STEP:  # trial.note(text): uri is the text
            self._study._trial_note(self._record.number, uri)
        else:
            self._study._checkpoints.record(self._record, step, uri)

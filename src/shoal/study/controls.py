"""What a person does to a running study (from Python, the CLI or the dashboard): queue a
configuration, pause and resume, stop a trial, tweak a running trial's hyperparameters, fork a trial
from a checkpoint. A mixin of ``Study``; the tweak and fork rules live in ``steering``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..records import ConfigChange
from ..trial import Trial, TrialState
from .steering import fork, tweak

if TYPE_CHECKING:  # pragma: no cover
    from ..space import Space
    from ..storage import Storage, StudyRecord
    from .trial_log import TrialLog

__all__ = ["PersonControls"]


class PersonControls:
    """``Study``'s panda-mode methods."""

    storage: Storage
    space: Space
    _record: StudyRecord
    _log: TrialLog

    def _own(self, trial: Any) -> Trial:  # pragma: no cover - Study defines it
        raise NotImplementedError

    def enqueue(self, config: Mapping[str, Any]) -> Trial:
        """Queue a configuration a person chose; the next ``ask`` runs it before sampling."""
        checked = self.space.validate(config, fill_defaults=True)
        unit = {
            name: float(u)
            for name, u in zip(self.space.names, self.space.encode(checked), strict=True)
            if not math.isnan(u)
        }
        record = self.storage.create_trial(
            self._record.study_id, TrialState.QUEUED, checked, unit
        )
        self._log.put(record)
        return record

    @property
    def paused(self) -> bool:
        """True while the study is paused: a running ``optimize`` starts no new trial."""
        return self.storage.is_paused(self._record.study_id)

    def pause(self) -> None:
        """Pause the study: every driver's ``optimize`` starts no new trial until ``unpause``."""
        self.storage.set_paused(self._record.study_id, True)

    def unpause(self) -> None:
        """Undo ``pause``: every driver's ``optimize`` starts trials again."""
        self.storage.set_paused(self._record.study_id, False)

    def tweak(self, number: int, changes: Mapping[str, Any], *, source: str = "person") -> list[ConfigChange]:
        """Change running (or paused) trial ``number``'s hyperparameters, e.g. ``{"lr": 3e-4}``.

        Checked against the space first (legal values, conditional rules, ``Fixed`` dimensions stay),
        stored, and delivered at the trial's next ``report`` or ``should_stop`` wherever it runs: its
        ``trial.config`` then holds the new values and ``trial.changes()`` says what changed. Returns
        the stored changes. ``ValueError`` for a finished trial."""
        return tweak(self, number, changes, source)

    def fork(
        self, number: int, step: int, changes: Mapping[str, Any] | None = None, *, source: str = "person"
    ) -> Trial:
        """A new trial that starts from trial ``number``'s checkpoint at or before ``step`` (saved with
        ``trial.save``) with ``changes`` applied to the config it had there; it runs in the next free
        slot, as an enqueued trial does. ``ValueError`` when there is no such checkpoint."""
        return fork(self, number, step, changes, source)

    def stop_trial(self, number: int) -> bool:
        """Ask running trial ``number`` to stop: its next ``report`` answers stop. False if not running."""
        record = self._own(number)
        return record.state == TrialState.RUNNING and self.storage.request_stop(record.trial_id or 0)

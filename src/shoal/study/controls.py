"""What a person does to a running study (from Python, the CLI or the dashboard): queue a
configuration (or part of one), add a result obtained elsewhere, pause and resume, stop a trial, tweak
a running trial's hyperparameters, fork a trial from a checkpoint. A mixin of ``Study``; the rules
live in ``partial`` (part of a configuration), ``warm`` (results from elsewhere) and ``steering``
(tweaks and forks)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..records import ConfigChange
from ..trial import Trial, TrialState
from .notes import StudyNotes
from .partial import PartialConfig
from .steering import fork, tweak
from .warm import add_result

if TYPE_CHECKING:  # pragma: no cover
    from ..space import Space
    from ..storage import Storage, StudyRecord
    from .trial_log import TrialLog

__all__ = ["PersonControls"]


class PersonControls(StudyNotes):
    """``Study``'s panda-mode methods."""

    storage: Storage
    space: Space
    _record: StudyRecord
    _log: TrialLog
    _own: Callable[[Any], Trial]  # Study's: the stored record of a trial number or handle

    def enqueue(self, config: Mapping[str, Any]) -> Trial:
        """Queue a configuration a person chose; the next ``ask`` runs it before sampling.

        It may give only some values, e.g. ``{"lr": 1e-3}``: they are checked now, and when the
        trial starts the study's sampler proposes the missing ones (a dimension with a default
        takes it, as before; a given parent decides which children are active, a given child makes
        its missing parent take a value that keeps it active). ``ValueError`` naming the dimension
        for an unknown name or a bad value, before anything is stored."""
        try:
            checked = self.space.validate(config, fill_defaults=True)
        except ValueError:  # some values missing (or a bad one: PartialConfig names it)
            partial = PartialConfig(self.space, config)
            checked, unit = partial.fill(None) or (partial.given, partial.given_unit)
        else:
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

    def add_trial(
        self,
        config: Mapping[str, Any],
        value: Any = None,
        *,
        values: Mapping[str, Any] | None = None,
        reports: Sequence[tuple[int, float]] = (),
        state: TrialState | str = "COMPLETE",
        error: str | None = None,
    ) -> Trial:
        """Record a result obtained elsewhere (an earlier experiment, a colleague's run) as a finished
        trial, which samplers then learn from like any other.

        ``config`` is a full configuration, checked against the space (a dimension with a default may
        be left out); ``value`` its result, or in a study with several objectives or constraints
        ``values={"accuracy": 0.9, "latency_ms": 12}``, judged against the constraints as ``tell``
        does. ``state``: "COMPLETE" (default), "PRUNED" or "FAILED"; ``reports``: its intermediate
        values as (step, value) pairs. It never ran here, so it does not count against
        ``total_trials``. ``ValueError`` before anything is stored. Returns the stored trial."""
        return add_result(self, config, value, values, reports, state, error,  # type: ignore[arg-type]
                          proposed_by="add_trial")

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

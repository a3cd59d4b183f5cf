"""What a Study does with its scheduler: store rung records, ask for decisions, pause and resume.

Kept out of ``study.py`` so the study stays a thin coordinator; the scheduler itself stays pure.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import StateConflict
from ..schedulers.base import Decision, Scheduler, SchedulerContext
from ..trial import Trial, TrialState
from .handle import RunningTrial

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

logger = logging.getLogger("shoal")

__all__ = ["SchedulerGlue", "check_scheduler"]


def check_scheduler(scheduler: object) -> Scheduler | None:
    if scheduler is not None and not isinstance(scheduler, Scheduler):
        raise ValueError(
            "scheduler must be a shoal scheduler such as shoal.schedulers.ASHA(min_resource=1), "
            f"got {scheduler!r}"
        )
    return scheduler


class SchedulerGlue:
    """One study's use of one scheduler. Remembers which of this driver's trials were told to stop
    or pause, so their outcome is recorded as PRUNED or PAUSED whatever the objective then does."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self._verdicts: dict[int, Decision] = {}

    def context(self, study: Study) -> SchedulerContext:
        study.refresh()
        return SchedulerContext(
            study_name=study.name,
            direction=study.direction,
            trials=study._log.ordered(),
            rungs=study.storage.read_rungs(study._record.study_id),
            **(self._lineage(study) if self.scheduler.creates_trials else {}),
        )

    @staticmethod
    def _lineage(study: Study) -> dict:
        study_id = study._record.study_id
        return {"lineage": study.storage.read_lineage(study_id), "space": study.space,
                "checkpoints": study.storage.read_checkpoints(study_id)}

    @property
    def creates_trials(self) -> bool:
        return self.scheduler.creates_trials

    def spawn(self, study: Study, driver_id: int) -> RunningTrial | None:
        """The next trial a scheduler that ``creates_trials`` plans, started in this driver (None:
        nothing to start until a running trial reports back; ``SearchExhausted`` when done)."""
        from ..schedulers.pbt import start_planned

        return start_planned(self, study, driver_id)

    def on_report(self, study: Study, record: Trial, step: int, value: float) -> bool:
        """Store the report's rung records, then decide; True when the trial should stop now."""
        verdict = self._verdicts.get(record.number)
        if verdict is not None:  # already told to stop or pause: the answer stands
            return True
        assert record.trial_id is not None
        for rung in self.scheduler.records(record, step, value):
            study.storage.add_rung(record.trial_id, rung)
        decision = Decision(self.scheduler.decide(self.context(study), record, step, value))
        if decision == Decision.CONTINUE:
            return False
        self._verdicts[record.number] = decision
        return True

    def final_state(
        self, record: Trial, state: TrialState, value: float | None
    ) -> tuple[TrialState, float | None]:
        """The state an outcome is recorded in: a trial told to pause ends PAUSED (unless it failed);
        one told to stop ends PRUNED with its value (even if the objective returned normally)."""
        verdict = self._verdicts.pop(record.number, None)
        if verdict is None or state == TrialState.FAILED:
            return state, value
        if verdict == Decision.PAUSE and self.scheduler.creates_trials:  # a segment ran its course
            if state == TrialState.PRUNED and value is None and record.reports:
                value = record.reports[-1][1]
            return (TrialState.COMPLETE, value) if value is not None else (state, value)
        if verdict == Decision.PAUSE:
            return TrialState.PAUSED, None
        if state == TrialState.COMPLETE:
            return TrialState.PRUNED, value
        if value is None and record.reports:
            value = record.reports[-1][1]
        return state, value

    def resume(self, study: Study, driver_id: int) -> RunningTrial | None:
        """A PAUSED trial the scheduler promotes, now RUNNING in this driver (None when none)."""
        if not self.scheduler.pauses:
            return None
        for _attempt in range(20):
            context = self.context(study)
            if not context.paused():
                return None
            number = self.scheduler.resume(context)
            if number is None:
                return None
            trial = context.trial(number)
            if trial is None or trial.state != TrialState.PAUSED or trial.trial_id is None:
                raise RuntimeError(
                    f"{self.scheduler.describe()}: resume() named trial {number}, which is not PAUSED"
                )
            try:
                resumed = study.storage.resume_trial(trial.trial_id, driver_id)
            except StateConflict:  # another driver resumed it first: ask again
                continue
            logger.info("study %r: trial %d resumed by %s", study.name, number, self.scheduler.describe())
            return study._start(resumed)
        return None

"""What a study does with its scheduler's decisions: store rung records, answer reports, record how
told trials end, promote paused trials and start planned ones.

The scheduler decides (pure, over a ``SchedulerContext``); this module acts on storage. Kept out of
``core`` so the Study stays a thin coordinator.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from ..errors import StateConflict
from ..objectives import Objectives
from ..samplers.auto import Auto
from ..samplers.base import Sampler
from ..samplers.random import Random
from ..schedulers.base import Decision, Scheduler, SchedulerContext, TrialPlan
from ..trial import Trial, TrialState

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

logger = logging.getLogger("shoal")

__all__ = ["SchedulerGlue", "check_scheduler", "report_metric_of", "NO_SCHEDULER_PLAN", "store_planned"]

#: The plan of a study without a scheduler: a configuration from the sampler.
NO_SCHEDULER_PLAN = TrialPlan()


def check_scheduler(scheduler: object, objectives: Objectives) -> Scheduler | None:
    """The scheduler itself, or a ``ValueError`` when it is none, or cannot serve these objectives."""
    if scheduler is not None and not isinstance(scheduler, Scheduler):
        raise ValueError(
            "scheduler must be a shoal scheduler such as shoal.schedulers.ASHA(min_resource=1), "
            f"got {scheduler!r}"
        )
    if scheduler is not None and objectives.multi and not scheduler.multi_objective:
        raise ValueError(
            f"scheduler {scheduler.describe()} ranks trials by one value, so it cannot run a study with "
            f"several objectives ({', '.join(objectives.names)}); use one objective (direction= or "
            "objectives with one entry, constraints allowed) or another scheduler such as ASHA"
        )
    return scheduler


def report_metric_of(objectives: Objectives, report_metric: str | None) -> str:
    """The objective whose values ``trial.report`` sends (schedulers use its direction): the one named,
    by default the first; a ``ValueError`` naming the objectives for another name."""
    if report_metric is None:
        return objectives.first.name
    if report_metric not in objectives.names:
        raise ValueError(
            f"report_metric must name one of the objectives ({', '.join(map(repr, objectives.names))}), "
            f"whose direction the scheduler uses; got {report_metric!r}"
        )
    return report_metric


class SchedulerGlue:
    """One study's use of one scheduler. Remembers which of this driver's trials were told to stop,
    pause or complete, so their outcome is recorded that way whatever the objective then does."""

    def __init__(self, study: Study, scheduler: Scheduler) -> None:
        self.study = study
        self.scheduler = scheduler
        self._verdicts: dict[int, Decision] = {}

    def context(self) -> SchedulerContext:
        study = self.study
        study.refresh()
        lineage = {}
        if self.scheduler.uses_lineage:
            lineage = {"lineage": study.storage.read_lineage(study.id), "space": study.space,
                       "checkpoints": study.storage.read_checkpoints(study.id)}
        reported = study.objectives.objectives[study.objectives.names.index(study.report_metric)]
        return SchedulerContext(
            study_name=study.name,
            direction=reported.direction,  # the direction of the reported objective
            trials=study._log.ordered(),
            rungs=study.storage.read_rungs(study.id),
            **lineage,
        )

    # -- while a trial runs --------------------------------------------------------------------
    def on_report(self, record: Trial, step: int, value: float) -> bool:
        """Store the report's rung records, then decide; True when the trial should stop now."""
        if record.number in self._verdicts:  # already told to stop, pause or complete: it stands
            return True
        assert record.trial_id is not None
        for rung in self.scheduler.records(record, step, value):
            self.study.storage.add_rung(record.trial_id, rung)
        decision = Decision(self.scheduler.decide(self.context(), record, step, value))
        if decision == Decision.CONTINUE:
            return False
        self._verdicts[record.number] = decision
        return True

    def final_state(
        self, record: Trial, state: TrialState, value: float | None
    ) -> tuple[TrialState, float | None]:
        """The state an outcome is recorded in. A failure stays FAILED. Told to PAUSE: PAUSED. Told
        to STOP: PRUNED with its value (even if the objective returned normally). Told to COMPLETE:
        COMPLETE with its value or last report."""
        verdict = self._verdicts.pop(record.number, None)
        if verdict is None or state == TrialState.FAILED:
            return state, value
        if verdict == Decision.PAUSE:
            return TrialState.PAUSED, None
        if value is None and record.reports:
            value = record.reports[-1][1]
        if verdict == Decision.COMPLETE and value is not None:
            return TrialState.COMPLETE, value
        return (TrialState.PRUNED if state == TrialState.COMPLETE else state), value

    # -- when a slot frees ---------------------------------------------------------------------
    def promote(self, driver_id: int) -> Trial | None:
        """A PAUSED trial the scheduler promotes, now RUNNING in this driver (None when none)."""
        if not self.scheduler.pauses:
            return None
        for _attempt in range(20):
            context = self.context()
            if not context.paused():
                return None
            number = self.scheduler.promote(context)
            if number is None:
                return None
            trial = context.trial(number)
            if trial is None or trial.state != TrialState.PAUSED or trial.trial_id is None:
                raise RuntimeError(
                    f"{self.scheduler.describe()}: promote() named trial {number}, which is not PAUSED"
                )
            try:
                promoted = self.study.storage.promote_trial(trial.trial_id, driver_id)
            except StateConflict:  # another driver promoted it first: ask again
                continue
            logger.info("study %r: trial %d promoted by %s", self.study.name, number,
                        self.scheduler.describe())
            return promoted
        return None

    def trials_left(self) -> int | None:
        """How many more trials the scheduler plans (None: it cannot tell)."""
        return self.scheduler.trials_left(self.context())

    def next_plan(self) -> TrialPlan | None:
        """The scheduler's plan of the next new trial (None: wait for a running trial to report)."""
        return self.scheduler.next_trial(self.context())


def lineage_for(plan: TrialPlan, number: int):
    """The plan's lineage record for trial ``number`` (None when the plan has none)."""
    return None if plan.lineage is None else dataclasses.replace(plan.lineage, trial_number=number)


def store_planned(study: Study, plan: TrialPlan, record: Trial) -> None:
    """Store what a plan puts beside its new trial ``record``: its lineage record, then its change
    rows (a PBT exploit's explore step), which ``record`` keeps too."""
    assert record.trial_id is not None
    lineage = lineage_for(plan, record.number)
    if lineage is not None:
        study.storage.add_lineage(record.trial_id, lineage)
        if lineage.donor is not None:
            logger.info("study %r: member %d copies member %d at step %d (trial %d)", study.name,
                        lineage.member, lineage.donor, lineage.step, record.number)
    rows = [dataclasses.replace(change, trial_number=record.number) for change in plan.changes]
    if rows:
        study.storage.add_changes(record.trial_id, rows)
        record.changes = [*record.changes, *rows]


def default_sampler(scheduler: Scheduler | None) -> Sampler:
    """``Auto``, or random search where trial values are not comparable (PBT segments)."""
    return Auto() if scheduler is None or scheduler.comparable_values else Random()

"""Population-based training: members train in segments; the worst copy the best and perturb.

A member's life is a chain of trials, one per segment of ``interval`` steps. Every trial records its
lineage in storage (``LineageRecord``: member, segment, the trial and checkpoint it starts from, the
member it copied and its config before), so configs stay per trial, finished trials never change,
and any driver can read who copied whom. At a segment's end (the first report at or past the next
multiple of ``interval``) PBT answers ``COMPLETE``: the trial ends COMPLETE and the member goes on as a
new trial. If the member is in the bottom ``quantile`` of the population it exploits, starting from a
top member's checkpoint with the config in force there perturbed (``shoal.schedulers.explore``); the
new trial carries that explore step as "fork" change rows (source "pbt", one per changed dimension),
the rows ``study.fork`` writes. Otherwise it continues from its own checkpoint with the config in
force at its end: a person's tweak (``study.tweak``) of a running member carries into its next
segments. ``shoal.schedules`` reads a member's schedule back from these records.

Asynchronous by default: a member moves on as soon as its segment ends, ranked against the latest
values of the others. ``synch=True`` waits until every live member reached the same boundary and ranks
them at it. A member whose worker died is restarted from its last checkpoint (up to ``max_restarts``
times in a row); a member whose checkpoint is missing or corrupt fails alone. A member whose objective
returns before its segment ends has finished training; the run ends when every member has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..checkpoints.points import resume_point
from ..errors import SearchExhausted
from ..records import CheckpointRef, ConfigChange, LineageRecord
from ..schedules import (
    Schedule,
    best_schedule,
    lineage_events,
    lineage_record,
    same_value,
    schedule_from,
    schedule_of,
    unit_for,
)
from ..space import Space
from ..trial import FailureKind, Trial, TrialState
from .base import Decision, Scheduler, SchedulerContext, TrialPlan
from .explore import explore, split_population

__all__ = ["PBT", "Schedule", "schedule_of", "schedule_from", "best_schedule", "lineage_events"]


_BUSY, _READY, _DONE, _RESTART, _FAILED = "busy", "ready", "done", "restart", "failed"


@dataclass
class _Member:
    member: int
    records: list[LineageRecord]
    trials: list[Trial]
    head: Trial
    status: str = _BUSY

    @property
    def last(self) -> LineageRecord:
        return self.records[-1]


class PBT(Scheduler):
    """Population-based training (Jaderberg et al., 2017) over segments of ``interval`` steps.

    ``population`` members start from the study's sampler. The objective resumes with
    ``trial.load()`` (None at the start), saves with ``trial.save(state, step)`` before it reports
    ``step``, and stops when ``trial.should_stop()`` turns True (return or raise ``shoal.TrialPruned``)::

        def objective(config, trial):
            state = trial.load() or fresh_state()
            for epoch in range(state.epoch + 1, max_epochs + 1):
                ...train one epoch with config["lr"]...
                trial.save(state, epoch)
                trial.report(accuracy, epoch)
                if trial.should_stop():
                    break
            return accuracy

    ``max_steps`` (the objective's training length, optional) ends a member once it reports that step;
    without it a member whose last segment ended exactly at the end of training runs one more, empty,
    segment to find out. ``max_restarts``: how often in a row a member whose worker died is restarted.

    Exploit: a member in the bottom ``quantile`` copies the checkpoint and config of one in the top
    ``quantile``; explore: each dimension is resampled with ``resample_probability``, else moved by a
    factor from ``factors`` on its own scale (see ``shoal.schedulers.explore``).
    """

    uses_lineage = True
    comparable_values = False  # segment values of different lengths: fresh members come at random
    multi_objective = False  # exploit ranks members by one value

    def __init__(
        self,
        population: int = 8,
        interval: int = 1,
        *,
        quantile: float = 0.25,
        resample_probability: float = 0.25,
        factors: tuple[float, ...] = (0.8, 1.2),
        synch: bool = False,
        max_steps: int | None = None,
        max_restarts: int = 3,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int)
                                      or max_steps < 1):
            raise ValueError(f"PBT: max_steps must be an int >= 1 or None, got {max_steps!r}")
        for name, value, low in (("population", population, 2), ("interval", interval, 1),
                                 ("max_restarts", max_restarts, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"PBT: {name} must be an int >= {low}, got {value!r}")
        if not (isinstance(quantile, (int, float)) and 0.0 < quantile <= 0.5):
            raise ValueError(f"PBT: quantile must be in (0, 0.5] (the share that exploits), got {quantile!r}")
        if not (isinstance(resample_probability, (int, float)) and 0.0 <= resample_probability <= 1.0):
            raise ValueError(f"PBT: resample_probability must be in [0, 1], got {resample_probability!r}")
        factors = tuple(factors) if isinstance(factors, (list, tuple)) else factors
        numbers = isinstance(factors, tuple) and all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in factors
        )
        if not factors or not numbers:
            raise ValueError(
                f"PBT: factors must be a non-empty tuple of numbers > 0, e.g. (0.8, 1.2); got {factors!r}"
            )
        self.population = population
        self.interval = interval
        self.quantile = float(quantile)
        self.resample_probability = float(resample_probability)
        self.factors = tuple(float(f) for f in factors)
        self.synch = bool(synch)
        self.max_restarts = max_restarts
        self.max_steps = max_steps

    def describe(self) -> str:
        return (
            f"PBT(population={self.population}, interval={self.interval}, quantile={self.quantile:g}, "
            f"resample_probability={self.resample_probability:g}, factors={self.factors}, "
            f"synch={self.synch}, max_steps={self.max_steps})"
        )

    # -- during a segment ------------------------------------------------------------------------
    def boundary(self, start: int) -> int:
        """The step a segment that starts after ``start`` ends at: the next multiple of ``interval``."""
        return (start // self.interval + 1) * self.interval

    def decide(self, context: SchedulerContext, trial: Trial, step: int, value: float) -> Decision:
        record = _record_of(trial.number, context)
        start = record.step if record is not None else 0
        return Decision.COMPLETE if step >= self.boundary(start) else Decision.CONTINUE

    # -- between segments ------------------------------------------------------------------------
    def next_trial(self, context: SchedulerContext) -> TrialPlan | None:
        """The next segment to start, None to wait for running ones; ``SearchExhausted`` when every
        member has finished."""
        members = self.members(context)
        if len(members) < self.population:
            return _plan(len(members), 0)
        waiting = sorted(
            (m for m in members.values() if m.status in (_READY, _RESTART)), key=lambda m: m.head.number
        )
        for member in waiting:
            if member.status == _RESTART:
                start = resume_point(member.head.number, context.by_number, list(context.checkpoints),
                                     list(context.lineage))
                return _plan(member.member, member.last.segment + 1, *_in_force(member.head, context.space),
                             start)
            if self.synch and not self._generation_done(members, member):
                continue
            return self._exploit_or_continue(context, members, member)
        if all(m.status in (_DONE, _FAILED) for m in members.values()):
            raise SearchExhausted(f"PBT: every one of the {len(members)} members has finished training")
        return None

    @property
    def ends_by_itself(self) -> bool:
        """With ``max_steps`` every member ends, and with them the run."""
        return self.max_steps is not None

    def trials_left(self, context: SchedulerContext) -> int | None:
        """The segments the members have left (with ``max_steps``; None without): each member that
        has not finished trains up to ``max_steps``, one segment per ``interval`` steps. Restarts add
        segments; an asynchronous exploit that jumps ahead skips some."""
        if self.max_steps is None:
            return None
        members = self.members(context)
        left = (self.population - len(members)) * self._segments_from(0)
        for member in members.values():
            if member.status == _BUSY:
                left += self._segments_from(member.last.step) - 1  # the running one has started
            elif member.status == _READY:
                head = member.head
                left += self._segments_from(head.reports[-1][0] if head.reports else member.last.step)
            elif member.status == _RESTART:
                left += self._segments_from(member.last.step)
        return left

    def _segments_from(self, step: int) -> int:
        """Segments a member starting at ``step`` trains until it reports ``max_steps``."""
        assert self.max_steps is not None
        end = self.boundary(step)
        return 1 + max(0, -(-(self.max_steps - end) // self.interval))

    def members(self, context: SchedulerContext) -> dict[int, _Member]:
        """The population as storage has it: each member's segments, trials, latest trial, status."""
        repeats: dict[int, list[int]] = {}
        for trial in context.trials:
            if trial.requeued_from is not None:
                repeats.setdefault(trial.requeued_from, []).append(trial.number)
        out: dict[int, _Member] = {}
        for record in sorted(context.lineage, key=lambda r: (r.member, r.segment)):
            chain = [record.trial_number]
            while repeats.get(chain[-1]):
                chain.append(max(repeats[chain[-1]]))
            trials = [context.by_number[n] for n in chain if n in context.by_number]
            if not trials:
                continue
            if record.member in out:
                member = out[record.member]
                member.records.append(record)
                member.trials += trials
                member.head = trials[-1]
            else:
                out[record.member] = _Member(record.member, [record], trials, trials[-1])
        for member in out.values():
            member.status = self._status(member)
        return out

    def _status(self, member: _Member) -> str:
        head = member.head
        if not head.state.finished:
            return _BUSY
        if head.state == TrialState.COMPLETE:
            last = head.reports[-1][0] if head.reports else -1
            if self.max_steps is not None and last >= self.max_steps:
                return _DONE
            return _READY if last >= self.boundary(member.last.step) else _DONE
        if head.state in (TrialState.FAILED, TrialState.STALE) and _lost(head):
            lost = 0
            for trial in reversed(_segment_heads(member)):
                if not _lost(trial):
                    break
                lost += 1
            return _RESTART if lost <= self.max_restarts else _FAILED
        return _DONE if head.state == TrialState.PRUNED else _FAILED

    def _generation_done(self, members: dict[int, _Member], member: _Member) -> bool:
        end = self.boundary(member.last.step)
        for other in members.values():
            if other.status in (_DONE, _FAILED) or other is member:
                continue
            if other.status == _READY and self.boundary(other.last.step) >= end:
                continue
            if other.status == _BUSY and other.last.step >= end:
                continue
            return False
        return True

    def _exploit_or_continue(
        self, context: SchedulerContext, members: dict[int, _Member], member: _Member
    ) -> TrialPlan:
        refs, lineage = list(context.checkpoints), list(context.lineage)
        at = self.boundary(member.last.step) if self.synch else None
        scores = {
            m.member: score
            for m in members.values()
            if m.status not in (_DONE, _FAILED) and (score := _latest_value(m, at)) is not None
        }
        own = resume_point(member.head.number, context.by_number, refs, lineage)
        config, unit = _in_force(member.head, context.space)
        plan = _plan(member.member, member.last.segment + 1, config, unit, own)
        bottom, top = split_population(scores, self.quantile, context.direction)
        top = [m for m in top if m != member.member]
        if member.member not in bottom or not top or context.space is None:
            return plan
        rng = self.rng_for(context, member.member, stream=member.last.segment + 1)
        donor = members[int(top[int(rng.integers(len(top)))])]
        start = _point_at(donor, refs, lineage, context, at)
        if start is None:
            return plan
        source = context.by_number[start.trial_number]
        copied = source.schedule_at(start.step)  # the donor's config in force in that checkpoint
        explored, explored_unit = explore(
            context.space, copied, unit_for(context.space, copied, source.config, source.unit), rng,
            factors=self.factors, resample_probability=self.resample_probability,
        )
        changes = _explore_rows(context.space, copied, explored, start.step + 1)
        return _plan(member.member, member.last.segment + 1, explored, explored_unit, start, donor.member,
                     config, changes)


def _plan(
    member: int, segment: int, config: dict[str, Any] | None = None, unit: dict[str, float] | None = None,
    start: CheckpointRef | None = None, donor: int | None = None, old_config: dict[str, Any] | None = None,
    changes: tuple[ConfigChange, ...] = (),
) -> TrialPlan:
    """The plan of member ``member``'s segment ``segment`` (``config`` None: a fresh member)."""
    lineage = LineageRecord(
        -1, member, segment,
        parent=None if start is None else start.trial_number,
        checkpoint=None if start is None else start.uri,
        step=0 if start is None else start.step,
        donor=donor, old_config=old_config,
    )
    return TrialPlan(config, unit, start, lineage, claim=f"pbt:{member}:{segment}", changes=changes)


def _in_force(head: Trial, space: Space | None) -> tuple[dict[str, Any], dict[str, float]]:
    """The config a member goes on with, and its unit coordinates: the one in force at its latest
    trial's end, tweaks included (pending ones too: they were meant for the member's next steps)."""
    config = {**head.current_config, **head.pending_changes}
    if space is None or config == head.config:
        return config, dict(head.unit)
    return config, unit_for(space, config, head.config, head.unit)


def _explore_rows(
    space: Space, copied: dict[str, Any], explored: dict[str, Any], first_step: int
) -> tuple[ConfigChange, ...]:
    """PBT's explore step as "fork" rows (trial number filled in by the study), in space order."""
    names = [name for name in space.names if name in copied or name in explored]
    return tuple(
        ConfigChange(-1, name, copied.get(name), explored.get(name), "pbt", first_step, "fork")
        for name in names
        if name not in copied or name not in explored or not same_value(copied[name], explored[name])
    )


def _lost(trial: Trial) -> bool:
    """Its worker or driver vanished: the member restarts from its last checkpoint."""
    return trial.state == TrialState.STALE or trial.failure == FailureKind.WORKER_DIED


def _segment_heads(member: _Member) -> list[Trial]:
    """The latest trial of each of the member's segments (a segment and its re-runs)."""
    by_segment_root = {r.trial_number for r in member.records}
    heads: list[Trial] = []
    for trial in member.trials:
        if trial.number in by_segment_root:
            heads.append(trial)
        else:
            heads[-1] = trial
    return heads


def _record_of(number: int, context: SchedulerContext) -> LineageRecord | None:
    """The lineage of a trial, or of the segment it re-runs."""
    return lineage_record(number, context.by_number, {r.trial_number: r for r in context.lineage})


def _latest_value(member: _Member, at: int | None) -> float | None:
    """The member's latest reported value (at or before step ``at`` when given)."""
    best: tuple[int, int, float] | None = None
    for trial in member.trials:
        for step, value in trial.reports:
            if at is not None and step > at:
                continue
            if best is None or (step, trial.number) >= best[:2]:
                best = (step, trial.number, value)
    return None if best is None else best[2]


def _point_at(
    member: _Member, refs: list[CheckpointRef], lineage: list[LineageRecord],
    context: SchedulerContext, at: int | None,
) -> CheckpointRef | None:
    """The donor's checkpoint to copy: its latest one (at or before ``at`` in synchronous mode)."""
    numbers = {t.number for t in member.trials}
    mine = [r for r in refs if r.trial_number in numbers and (at is None or r.step <= at)]
    if mine:
        return max(mine, key=lambda r: (r.step, r.trial_number))
    return resume_point(member.head.number, context.by_number, refs, lineage)

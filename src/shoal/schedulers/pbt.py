"""Population-based training: members train in segments; the worst copy the best and perturb.

A member's life is a chain of trials, one per segment of ``interval`` steps. Every trial records its
lineage in storage (``LineageRecord``: member, segment, the trial and checkpoint it starts from, the
member it copied and its config before), so configs stay per trial, finished trials never change,
and any driver can read who copied whom. At a segment's end (the first report at or past the next
multiple of ``interval``) PBT answers ``COMPLETE``: the trial ends COMPLETE and the member goes on as a
new trial. If the member is in the bottom ``quantile`` of the population it exploits, starting from a
top member's checkpoint with that member's config perturbed (``shoal.schedulers.explore``); otherwise it
continues from its own checkpoint with its own config.

Asynchronous by default: a member moves on as soon as its segment ends, ranked against the latest
values of the others. ``synch=True`` waits until every live member reached the same boundary and ranks
them at it. A member whose worker died is restarted from its last checkpoint (up to ``max_restarts``
times in a row); a member whose checkpoint is missing or corrupt fails alone. A member whose objective
returns before its segment ends has finished training; the run ends when every member has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..checkpoints.points import resume_point
from ..errors import SearchExhausted
from ..records import CheckpointRef, LineageRecord
from ..storage import Storage
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
                return _plan(member.member, member.last.segment + 1, dict(member.head.config),
                             dict(member.head.unit), start)
            if self.synch and not self._generation_done(members, member):
                continue
            return self._exploit_or_continue(context, members, member)
        if all(m.status in (_DONE, _FAILED) for m in members.values()):
            raise SearchExhausted(f"PBT: every one of the {len(members)} members has finished training")
        return None

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
        plan = _plan(member.member, member.last.segment + 1, dict(member.head.config),
                     dict(member.head.unit), own)
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
        config, unit = explore(context.space, source.config, source.unit, rng, factors=self.factors,
                               resample_probability=self.resample_probability)
        return _plan(member.member, member.last.segment + 1, config, unit, start, donor.member,
                     dict(member.head.config))


def _plan(
    member: int, segment: int, config: dict[str, Any] | None = None, unit: dict[str, float] | None = None,
    start: CheckpointRef | None = None, donor: int | None = None, old_config: dict[str, Any] | None = None,
) -> TrialPlan:
    """The plan of member ``member``'s segment ``segment`` (``config`` None: a fresh member)."""
    lineage = LineageRecord(
        -1, member, segment,
        parent=None if start is None else start.trial_number,
        checkpoint=None if start is None else start.uri,
        step=0 if start is None else start.step,
        donor=donor, old_config=old_config,
    )
    return TrialPlan(config, unit, start, lineage, claim=f"pbt:{member}:{segment}")


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
    records = {r.trial_number: r for r in context.lineage}
    seen = 0
    while number not in records and seen < 1000:
        trial = context.by_number.get(number)
        if trial is None or trial.requeued_from is None:
            return None
        number, seen = trial.requeued_from, seen + 1
    return records.get(number)


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


# -- replaying a schedule -------------------------------------------------------------------------
class StudyRecords(Protocol):
    """What replaying a schedule reads of a study (a ``shoal.Study`` has all of it)."""

    @property
    def id(self) -> int: ...
    @property
    def storage(self) -> Storage: ...
    @property
    def trials(self) -> list[Trial]: ...
    @property
    def best(self) -> Trial: ...


@dataclass(frozen=True)
class Schedule:
    """The hyperparameter schedule that produced one trial's model: ``(first step, config)`` pairs.

    ``config_at(step)`` is the config in force at ``step`` (steps count from 1), so a run from scratch
    can replay the schedule: ``for epoch ...: lr = schedule.config_at(epoch)["lr"]``.
    """

    trial: int
    value: float | None
    steps: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def config_at(self, step: int) -> dict[str, Any]:
        current = self.steps[0][1]
        for first, config in self.steps:
            if first <= step:
                current = config
        return dict(current)

    def changes(self) -> list[tuple[int, dict[str, Any]]]:
        """The steps where the config changed, with the new config (the first entry always)."""
        out: list[tuple[int, dict[str, Any]]] = []
        for first, config in self.steps:
            if not out or out[-1][1] != config:
                out.append((first, config))
        return out


def schedule_of(study: StudyRecords, number: int) -> Schedule:
    """The schedule of trial ``number``: its config, and before its start step those of the trials
    whose checkpoints it descends from (through exploits and continuations alike)."""
    return schedule_from(study.trials, study.storage.read_lineage(study.id), number)


def schedule_from(trial_list: list[Trial], lineage: list[LineageRecord], number: int) -> Schedule:
    """``schedule_of`` on stored data (what the CLI reads)."""
    trials = {t.number: t for t in trial_list}
    context = SchedulerContext("", "minimize", trial_list, lineage=lineage)
    if number not in trials:
        raise ValueError(f"no trial number {number}")
    steps: list[tuple[int, dict[str, Any]]] = []
    current: int | None = number
    while current is not None and len(steps) < 100_000:
        record = _record_of(current, context)
        first = 1 if record is None else record.step + 1
        steps.append((first, dict(trials[current].config)))
        current = None if record is None else record.parent
    steps.reverse()
    return Schedule(number, trials[number].value, steps)


def best_schedule(study: StudyRecords) -> Schedule:
    """The schedule of the study's best segment (the best member's model)."""
    return schedule_of(study, study.best.number)


def lineage_events(trial_list: list[Trial], lineage: list[LineageRecord]) -> list[dict[str, Any]]:
    """One row per segment, by trial number: who it continues or copied, from which step, what changed."""
    trials = {t.number: t for t in trial_list}
    rows = []
    for record in sorted(lineage, key=lambda r: r.trial_number):
        trial = trials.get(record.trial_number)
        if trial is None:
            continue
        parent = trials.get(record.parent) if record.parent is not None else None
        if record.parent is None:
            event = "start"
        elif record.donor is not None:
            event = f"exploit: copied member {record.donor} (trial {record.parent} at step {record.step})"
        elif parent is not None and parent.state in (TrialState.FAILED, TrialState.STALE):
            event = f"restart from step {record.step} (trial {record.parent})"
        else:
            event = f"continue from step {record.step}"
        before = record.old_config or {}
        changed = {k: [before.get(k), v] for k, v in trial.config.items() if record.donor is not None
                   and before.get(k) != v}
        last = trial.reports[-1][0] if trial.reports else None
        rows.append({
            "trial": trial.number, "member": record.member, "segment": record.segment,
            "state": trial.state.value, "value": trial.value, "first_step": record.step + 1,
            "last_step": last, "event": event, "parent": record.parent, "donor": record.donor,
            "old_config": record.old_config, "config": dict(trial.config), "changed": changed,
            "created_at": None if record.created_at is None else record.created_at.isoformat(),
        })
    return rows

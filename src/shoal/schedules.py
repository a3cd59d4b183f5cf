"""The hyperparameter schedule behind a trial's model, read from stored records (one reader for all).

A model's training can span several trials: a PBT member's segments, a fork of a fork
(``study.fork``), a re-run of a trial that died (``requeued_from``). ``schedule_from`` walks that
chain back from a trial and replays each trial's own schedule (``Trial.schedule``: its config, then
the tweaks that took effect while it ran), each cut where the next trial in the chain took over. PBT,
``shoal lineage``, ``shoal schedule`` and the dashboard all read schedules through it.

A leaf module: it reads trials and records only (``schedule_of`` takes anything with a study's
``id``, ``storage`` and ``trials``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .records import LineageRecord
from .space import Space
from .trial import Trial, TrialState

__all__ = [
    "Schedule", "schedule_of", "schedule_from", "best_schedule", "lineage_events", "lineage_record",
    "unit_for", "same_value",
]

_MAX_CHAIN = 100_000


@dataclass(frozen=True)
class Schedule:
    """The hyperparameter schedule that produced one trial's model: ``(first step, full config)`` pairs.

    Steps are counted as ``Trial.schedule`` counts them: a run from scratch starts at step 0, a trial
    that started from a checkpoint saved at step ``s`` takes over at ``s + 1``, and a tweak's entry
    starts at the first step trained with it. ``config_at(step)`` is the config in force at ``step``,
    so a run from scratch can replay the schedule:
    ``for epoch ...: lr = schedule.config_at(epoch)["lr"]``.
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


class _LineageStore(Protocol):
    def read_lineage(self, study_id: int) -> list[LineageRecord]: ...


class StudyRecords(Protocol):
    """What reading a schedule needs of a study (a ``shoal.Study`` has all of it)."""

    @property
    def id(self) -> int: ...
    @property
    def storage(self) -> _LineageStore: ...
    @property
    def trials(self) -> list[Trial]: ...
    @property
    def best(self) -> Trial: ...


def schedule_of(study: StudyRecords, number: int) -> Schedule:
    """The schedule of trial ``number``'s model (see ``schedule_from``)."""
    return schedule_from(study.trials, study.storage.read_lineage(study.id), number)


def best_schedule(study: StudyRecords) -> Schedule:
    """The schedule of the study's best trial (for PBT: the best member's model)."""
    return schedule_of(study, study.best.number)


def schedule_from(trial_list: Sequence[Trial], lineage: Sequence[LineageRecord], number: int) -> Schedule:
    """The schedule of trial ``number``'s model on stored data: the trials its model descends from
    (lineage parents: PBT segments and forks; re-runs: ``requeued_from``), each trial's own schedule
    (tweaks included) up to the step where the next one took over. A trial with neither is its own
    schedule, from step 0."""
    trials = {t.number: t for t in trial_list}
    if number not in trials:
        raise ValueError(f"no trial number {number}")
    records = {r.trial_number: r for r in lineage}
    chain: list[tuple[Trial, int]] = []  # (trial, the first step it trained), newest first
    current: int | None = number
    while current is not None and current in trials and len(chain) < _MAX_CHAIN:
        trial = trials[current]
        current, takeover = _predecessor(trial, trials, records)
        chain.append((trial, takeover))
    pieces: list[list[tuple[int, dict[str, Any]]]] = []
    until: int | None = None  # where the trials after this one took over
    for trial, takeover in chain:
        if until is None or takeover < until:  # else a later trial took over before it trained
            pieces.append(_piece(trial, takeover, until))
            until = takeover
    steps = [entry for piece in reversed(pieces) for entry in piece]
    return Schedule(number, trials[number].value, steps)


def _piece(trial: Trial, takeover: int, until: int | None) -> list[tuple[int, dict[str, Any]]]:
    """``trial``'s own schedule as full configs, from ``takeover`` up to (not including) ``until``."""
    config = dict(trial.config)
    out = [(takeover, dict(config))]
    for first, changed in trial.schedule[1:]:
        if until is not None and first >= until:
            break
        config.update(changed)
        out.append((max(first, takeover), dict(config)))
    return out


def _predecessor(
    trial: Trial, trials: Mapping[int, Trial], records: Mapping[int, LineageRecord]
) -> tuple[int | None, int]:
    """(the trial whose model ``trial`` went on from, or None; the first step ``trial`` trained)."""
    record = records.get(trial.number)
    if record is not None:
        return record.parent, (0 if record.parent is None else record.step + 1)
    if trial.requeued_from is not None:
        # a re-run went on from what the run it repeats saved: it took over at its first report
        # (one that reported nothing yet, after the last step that run reported)
        if trial.reports:
            return trial.requeued_from, trial.reports[0][0]
        before = trials.get(trial.requeued_from)
        return trial.requeued_from, (before.reports[-1][0] + 1 if before is not None and before.reports
                                     else 0)
    return None, trial.schedule[0][0]


def lineage_record(
    number: int, trials: Mapping[int, Trial], records: Mapping[int, LineageRecord]
) -> LineageRecord | None:
    """The lineage record of a trial, or of the segment it re-runs (``requeued_from``)."""
    seen = 0
    while number not in records and seen < 1000:
        trial = trials.get(number)
        if trial is None or trial.requeued_from is None:
            return None
        number, seen = trial.requeued_from, seen + 1
    return records.get(number)


def lineage_events(trial_list: Sequence[Trial], lineage: Sequence[LineageRecord]) -> list[dict[str, Any]]:
    """One row per lineage record, by trial number: who it continues, copied or forked, from which
    step, and what changed against the config in force where it started (``changed``: name ->
    [old, new], from the trial's "fork" change rows where it has them)."""
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
        last = trial.reports[-1][0] if trial.reports else None
        rows.append({
            "trial": trial.number, "member": record.member, "segment": record.segment,
            "state": trial.state.value, "value": trial.value, "first_step": record.step + 1,
            "last_step": last, "event": event, "parent": record.parent, "donor": record.donor,
            "old_config": record.old_config, "config": dict(trial.config),
            "changed": _changed(trial, record, parent),
            "created_at": None if record.created_at is None else record.created_at.isoformat(),
        })
    return rows


def _changed(trial: Trial, record: LineageRecord, parent: Trial | None) -> dict[str, list[Any]]:
    """What a trial changed against the config in force in the checkpoint it started from: its "fork"
    rows; without any (a continuing segment, or records from before change rows), the difference
    to its parent's config in force at that step (a tweak carried into the next segment shows)."""
    rows = [c for c in trial.changes if c.kind == "fork"]
    if rows:
        return {c.name: [c.old, c.new] for c in rows}
    if parent is None:
        return {}
    before = parent.schedule_at(record.step)
    names = [*before, *(k for k in trial.config if k not in before)]
    return {k: [before.get(k), trial.config.get(k)] for k in names
            if k not in before or k not in trial.config or not same_value(before[k], trial.config[k])}


def unit_for(
    space: Space, config: Mapping[str, Any], old_config: Mapping[str, Any], old_unit: Mapping[str, float]
) -> dict[str, float]:
    """Unit coordinates of ``config``: an unchanged value keeps its old coordinate, a changed one is
    placed by its value."""
    if dict(config) == dict(old_config):
        return dict(old_unit)
    placed = space.units_by_value(config)
    kept = {name for name in placed if name in old_unit and same_value(config[name], old_config.get(name))}
    return {name: old_unit[name] if name in kept else u for name, u in placed.items()}


def same_value(a: Any, b: Any) -> bool:
    """Equal as hyperparameter values (``True`` is not ``1``)."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b

"""In-memory storage for tests and notebooks: fast, gone when the process ends."""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ..records import CheckpointRef, ConfigChange, LineageRecord, NoteRecord, RungRecord, Steering
from ..trial import FailureKind, Trial, TrialState
from .base import (
    ClaimTaken,
    DriverRecord,
    StateConflict,
    Storage,
    StudyExists,
    StudyNotFound,
    StudyRecord,
    StudySummary,
)
from .memory_notes import MemoryNotes
from .summary import (
    check_box,
    check_device,
    check_failure,
    check_fill,
    check_imported,
    check_values,
    refuse_finished,
    summarize,
    to_json,
)
from .summary import not_found_message as _not_found


def _now() -> datetime:
    return datetime.now(timezone.utc)


class InMemoryStorage(MemoryNotes, Storage):
    """Keeps everything in dictionaries guarded by one lock."""

    url = "memory"
    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._studies: dict[str, StudyRecord] = {}
        self._trials: dict[int, list[Trial]] = {}
        self._claims: dict[int, set[str]] = {}
        self._by_id: dict[int, Trial] = {}
        self._drivers: dict[int, DriverRecord] = {}
        self._owner: dict[int, int | None] = {}
        self._rungs: dict[int, dict[tuple[int, int], RungRecord]] = {}  # trial_id -> records
        self._checkpoints: dict[int, dict[int, CheckpointRef]] = {}  # trial_id -> step -> ref
        self._lineage: dict[int, LineageRecord] = {}  # trial_id -> record
        self._boxes: dict[int, dict[int, dict[str, tuple[float, float]]]] = {}  # study_id -> round -> box
        self._notes: dict[tuple[int, int | None], NoteRecord] = {}  # (study_id, trial number) -> note
        self._next_study = 1
        self._next_trial = 1

    # -- studies -------------------------------------------------------------------------------
    def create_study(
        self,
        name: str,
        direction: str,
        space: dict[str, Any],
        sampler: str,
        *,
        objectives: dict[str, Any] | None = None,
        scheduler: str | None = None,
    ) -> StudyRecord:
        if objectives is not None:
            to_json("objectives", objectives)  # refuse what a SQL storage could not keep
        with self._lock:
            if name in self._studies:
                raise StudyExists(f"study {name!r} already exists")
            record = StudyRecord(
                self._next_study, name, direction, copy.deepcopy(space), sampler, _now(),
                objectives=copy.deepcopy(objectives), scheduler=scheduler,
            )
            self._next_study += 1
            self._studies[name] = record
            self._trials[record.study_id] = []
            self._claims[record.study_id] = set()
            return record

    def get_study(self, name: str) -> StudyRecord:
        with self._lock:
            try:
                return self._studies[name]
            except KeyError:
                raise StudyNotFound(_not_found(name, list(self._studies))) from None

    def list_studies(self) -> list[StudySummary]:
        with self._lock:
            return [
                summarize(record, [(t.state, t.value, t.feasible) for t in self._trials[record.study_id]],
                          _last_activity(self._trials[record.study_id]))
                for record in self._studies.values()
            ]

    def update_study(
        self,
        study_id: int,
        *,
        space: dict[str, Any] | None = None,
        sampler: str | None = None,
        units: Mapping[int, Mapping[str, float]] | None = None,
        scheduler: str | None = None,
    ) -> None:
        with self._lock:
            for trial_id, unit in (units or {}).items():
                trial = self._by_id.get(trial_id)
                if trial is not None:
                    trial.unit = dict(unit)
            for name, record in self._studies.items():
                if record.study_id == study_id:
                    self._studies[name] = dataclasses.replace(
                        record,
                        space=copy.deepcopy(space) if space is not None else record.space,
                        sampler=sampler if sampler is not None else record.sampler,
                        scheduler=scheduler if scheduler is not None else record.scheduler,
                    )

    def delete_study(self, name: str) -> None:
        with self._lock:
            record = self._studies.pop(name, None)
            if record is None:
                raise StudyNotFound(_not_found(name, list(self._studies)))
            for trial in self._trials.pop(record.study_id):
                self._by_id.pop(trial.trial_id or 0, None)
                self._rungs.pop(trial.trial_id or 0, None)
                self._checkpoints.pop(trial.trial_id or 0, None)
                self._lineage.pop(trial.trial_id or 0, None)
            self._claims.pop(record.study_id, None)
            self._boxes.pop(record.study_id, None)
            self._notes = {k: v for k, v in self._notes.items() if k[0] != record.study_id}

    # -- trials --------------------------------------------------------------------------------
    def create_trial(
        self,
        study_id: int,
        state: TrialState,
        config: dict[str, Any],
        unit: dict[str, float],
        *,
        claim: str | None = None,
        round: int | None = None,
        requeued_from: int | None = None,
        driver_id: int | None = None,
        proposed_by: str | None = None,
    ) -> Trial:
        if state not in (TrialState.QUEUED, TrialState.RUNNING):
            raise ValueError(f"a new trial is QUEUED or RUNNING, not {state}")
        to_json("config", config)  # refuse what a SQL storage could not keep
        to_json("unit", unit)
        with self._lock:
            trials = self._trials[study_id]
            if claim is not None:
                if claim in self._claims[study_id]:
                    raise ClaimTaken(claim)
                self._claims[study_id].add(claim)
            now = _now()
            trial = Trial(
                number=len(trials),
                state=state,
                config=dict(config),
                unit=dict(unit),
                round=round,
                claim=claim,
                requeued_from=requeued_from,
                proposed_by=proposed_by,
                created_at=now,
                started_at=now if state == TrialState.RUNNING else None,
                trial_id=self._next_trial,
            )
            self._next_trial += 1
            trials.append(trial)
            self._by_id[trial.trial_id] = trial
            self._owner[trial.trial_id] = driver_id
            return _copy(trial)

    def claim_queued(self, study_id: int, driver_id: int | None) -> Trial | None:
        with self._lock:
            for trial in self._trials[study_id]:
                if trial.state == TrialState.QUEUED:
                    trial.state = TrialState.RUNNING
                    trial.started_at = _now()
                    self._owner[trial.trial_id or 0] = driver_id
                    return _copy(trial)
            return None

    def set_state(
        self,
        trial_id: int,
        expected: TrialState,
        state: TrialState,
        *,
        value: float | None = None,
        error: str | None = None,
        failure: FailureKind | None = None,
        values: Mapping[str, float] | None = None,
        feasible: bool | None = None,
    ) -> Trial:
        refuse_finished(expected, state)
        failure = check_failure(state, failure)
        checked = None if values is None and feasible is None else check_values(state, values, feasible)
        with self._lock:
            trial = self._by_id.get(trial_id)
            if trial is None:
                raise StateConflict(f"no such trial, not {expected}; not moved to {state}")
            if trial.state != expected:
                raise StateConflict(
                    f"trial {trial.number} is {trial.state}, not {expected}; not moved to {state}"
                )
            trial.state = state
            if state.finished:
                trial.value = None if value is None else float(value)
                trial.error = error
                trial.failure = failure
                trial.values = checked or {}
                trial.feasible = feasible
                trial.finished_at = _now()
            elif state == TrialState.RUNNING and trial.started_at is None:
                trial.started_at = _now()
            return _copy(trial)

    def add_report(self, trial_id: int, step: int, value: float) -> Steering:
        with self._lock:
            trial = self._by_id[trial_id]
            trial.reports = [r for r in trial.reports if r[0] != step] + [(int(step), float(value))]
            trial.reports.sort()
            return self._steer(trial, int(step) + 1)

    def poll_trial(self, trial_id: int, from_step: int) -> Steering:
        with self._lock:
            return self._steer(self._by_id[trial_id], int(from_step))

    def _steer(self, trial: Trial, from_step: int) -> Steering:
        delivered: dict[str, Any] = {}
        for k, change in enumerate(trial.changes):
            if change.step is None:
                trial.changes[k] = dataclasses.replace(change, step=from_step)
                delivered[change.name] = change.new
        return Steering(stop=trial.stop_requested, changes=delivered or None)

    def request_changes(self, trial_id: int, changes: Sequence[ConfigChange]) -> bool:
        with self._lock:
            trial = self._by_id.get(trial_id)
            if trial is None or trial.state not in (TrialState.RUNNING, TrialState.PAUSED):
                return False
            now = _now()
            trial.changes += [dataclasses.replace(c, trial_number=trial.number, step=None, kind="tweak",
                                                  created_at=now) for c in changes]
            return True

    def add_changes(self, trial_id: int, changes: Sequence[ConfigChange]) -> None:
        with self._lock:
            trial = self._by_id[trial_id]
            now = _now()
            trial.changes += [dataclasses.replace(c, trial_number=trial.number, created_at=now)
                              for c in changes]

    # -- trials brought in whole ------------------------------------------------------------------
    def import_trial(
        self,
        study_id: int,
        trial: Trial,
        *,
        lineage: LineageRecord | None = None,
        rungs: Sequence[RungRecord] = (),
        checkpoints: Sequence[CheckpointRef] = (),
    ) -> Trial:
        checked = check_imported(trial)
        if lineage is not None and lineage.old_config is not None:
            to_json("old_config", lineage.old_config)
        with self._lock:
            trials = self._trials[study_id]
            claim = checked.claim
            if claim is not None and claim in self._claims[study_id]:
                raise ClaimTaken(claim)
            now, number, trial_id = _now(), len(trials), self._next_trial
            stored = dataclasses.replace(
                copy.deepcopy(checked), number=number, trial_id=trial_id,
                created_at=checked.created_at or now,
                changes=[dataclasses.replace(c, trial_number=number, created_at=c.created_at or now)
                         for c in checked.changes],
            )
            if claim is not None:
                self._claims[study_id].add(claim)
            self._next_trial += 1
            trials.append(stored)
            self._by_id[trial_id] = stored
            self._owner[trial_id] = None
            if stored.note is not None:
                self._notes[study_id, number] = NoteRecord(number, stored.note, now)
            if lineage is not None:
                self._lineage[trial_id] = dataclasses.replace(
                    lineage, trial_number=number, old_config=copy.deepcopy(lineage.old_config),
                    created_at=lineage.created_at or now)
            for rung in rungs:
                key = (int(rung.bracket), int(rung.rung))
                self._rungs.setdefault(trial_id, {}).setdefault(
                    key, RungRecord(number, key[0], key[1], int(rung.step), float(rung.value)))
            for ref in checkpoints:
                self._checkpoints.setdefault(trial_id, {})[int(ref.step)] = CheckpointRef(
                    number, int(ref.step), str(ref.uri), ref.created_at or now)
            return _copy(stored)

    def fill_config(
        self,
        trial_id: int,
        config: Mapping[str, Any],
        unit: Mapping[str, float],
        *,
        proposed_by: str | None = None,
    ) -> Trial:
        to_json("unit", unit)
        with self._lock:
            trial = self._by_id.get(trial_id)
            if trial is None or trial.state != TrialState.RUNNING:
                where = "no such trial" if trial is None else f"trial {trial.number} is {trial.state}"
                raise StateConflict(f"{where}, not RUNNING; its config is not filled")
            check_fill(trial.config, config)
            trial.config = dict(config)
            trial.unit = dict(unit)
            if proposed_by is not None:
                trial.proposed_by = proposed_by
            return _copy(trial)

    # -- steering ------------------------------------------------------------------------------
    def set_paused(self, study_id: int, paused: bool) -> None:
        with self._lock:
            for name, record in self._studies.items():
                if record.study_id == study_id:
                    self._studies[name] = dataclasses.replace(record, paused=bool(paused))

    def is_paused(self, study_id: int) -> bool:
        with self._lock:
            return any(r.paused for r in self._studies.values() if r.study_id == study_id)

    def request_stop(self, trial_id: int) -> bool:
        with self._lock:
            trial = self._by_id.get(trial_id)
            if trial is None or trial.state != TrialState.RUNNING:
                return False
            trial.stop_requested = True
            return True

    def set_device(self, trial_id: int, device: str) -> None:
        check_device(device)
        with self._lock:
            trial = self._by_id.get(trial_id)
            if trial is not None:
                trial.device = device

    def read_trials(
        self, study_id: int, *, after: int = -1, numbers: Collection[int] = ()
    ) -> list[Trial]:
        with self._lock:
            trials = self._trials[study_id]
            wanted = sorted({n for n in numbers if 0 <= n < len(trials) and n <= after})
            return [_copy(trials[n]) for n in wanted] + [_copy(t) for t in trials[after + 1 :]]

    def promote_trial(self, trial_id: int, driver_id: int | None) -> Trial:
        with self._lock:
            trial = self._by_id.get(trial_id)
            if trial is None or trial.state != TrialState.PAUSED:
                where = "no such trial" if trial is None else f"trial {trial.number} is {trial.state}"
                raise StateConflict(f"{where}, not PAUSED; not resumed")
            trial.state = TrialState.RUNNING
            self._owner[trial_id] = driver_id
            return _copy(trial)

    # -- rungs ---------------------------------------------------------------------------------
    def add_rung(self, trial_id: int, record: RungRecord) -> bool:
        with self._lock:
            trial = self._by_id[trial_id]
            held = self._rungs.setdefault(trial_id, {})
            key = (int(record.bracket), int(record.rung))
            if key in held:
                return False
            held[key] = RungRecord(trial.number, key[0], key[1], int(record.step), float(record.value))
            return True

    def read_rungs(self, study_id: int) -> list[RungRecord]:
        with self._lock:
            out = [r for t in self._trials[study_id] for r in self._rungs.get(t.trial_id or 0, {}).values()]
        return sorted(out, key=lambda r: (r.trial_number, r.bracket, r.rung))

    # -- checkpoints and lineage ---------------------------------------------------------------
    def add_checkpoint(self, trial_id: int, step: int, uri: str) -> None:
        with self._lock:
            trial = self._by_id[trial_id]
            held = self._checkpoints.setdefault(trial_id, {})
            held[int(step)] = CheckpointRef(trial.number, int(step), str(uri), _now())

    def read_checkpoints(self, study_id: int, *, numbers: Collection[int] = ()) -> list[CheckpointRef]:
        wanted = set(numbers)
        with self._lock:
            out = [
                ref
                for t in self._trials[study_id]
                if not wanted or t.number in wanted
                for ref in self._checkpoints.get(t.trial_id or 0, {}).values()
            ]
        return sorted(out, key=lambda r: (r.trial_number, r.step))

    def delete_checkpoints(self, study_id: int, uris: Collection[str]) -> None:
        gone = set(uris)
        with self._lock:
            for t in self._trials[study_id]:
                held = self._checkpoints.get(t.trial_id or 0, {})
                for step in [s for s, ref in held.items() if ref.uri in gone]:
                    del held[step]

    def add_lineage(self, trial_id: int, record: LineageRecord) -> None:
        to_json("old_config", record.old_config)
        with self._lock:
            trial = self._by_id[trial_id]
            self._lineage[trial_id] = dataclasses.replace(
                record, trial_number=trial.number, old_config=copy.deepcopy(record.old_config),
                created_at=_now(),
            )

    def read_lineage(self, study_id: int) -> list[LineageRecord]:
        with self._lock:
            return [
                dataclasses.replace(self._lineage[t.trial_id], old_config=copy.deepcopy(
                    self._lineage[t.trial_id].old_config))
                for t in self._trials[study_id]
                if t.trial_id in self._lineage
            ]

    # -- coarse-to-fine round boxes -------------------------------------------------------------
    def add_round_box(self, study_id: int, round: int, box: Mapping[str, tuple[float, float]]) -> None:
        round, checked = check_box(round, box)
        with self._lock:
            if study_id not in self._trials:
                raise StudyNotFound(f"no study with id {study_id} in this storage")
            self._boxes.setdefault(study_id, {}).setdefault(round, checked)

    def read_round_boxes(self, study_id: int) -> dict[int, dict[str, tuple[float, float]]]:
        with self._lock:
            held = self._boxes.get(study_id, {})
            return {r: dict(held[r]) for r in sorted(held)}

    # -- drivers -------------------------------------------------------------------------------
    def register_driver(self, host: str, pid: int) -> int:
        with self._lock:
            driver_id = len(self._drivers) + 1
            self._drivers[driver_id] = DriverRecord(driver_id, host, pid, _now())
            return driver_id

    def heartbeat(self, driver_id: int) -> None:
        with self._lock:
            record = self._drivers[driver_id]
            self._drivers[driver_id] = DriverRecord(driver_id, record.host, record.pid, _now())

    def running_with_drivers(self, study_id: int) -> list[tuple[Trial, DriverRecord | None]]:
        with self._lock:
            out = []
            for trial in self._trials[study_id]:
                if trial.state == TrialState.RUNNING:
                    owner = self._owner.get(trial.trial_id or 0)
                    out.append((_copy(trial), self._drivers.get(owner) if owner else None))
            return out


def _copy(trial: Trial) -> Trial:
    clone = copy.copy(trial)
    clone.config = dict(trial.config)
    clone.unit = dict(trial.unit)
    clone.reports = list(trial.reports)
    clone.values = dict(trial.values)
    clone.changes = list(trial.changes)
    return clone


def _last_activity(trials: list[Trial]) -> datetime | None:
    """When one of the trials was last created, started or finished (None without trials)."""
    times = [t for trial in trials for t in (trial.created_at, trial.started_at, trial.finished_at) if t]
    return max(times, default=None)

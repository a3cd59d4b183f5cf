"""In-memory storage for tests and notebooks: fast, gone when the process ends."""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection
from datetime import datetime, timezone
from typing import Any

from ..trial import Trial, TrialState
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
from .summary import not_found_message as _not_found
from .summary import refuse_finished, summarize, to_json


def _now() -> datetime:
    return datetime.now(timezone.utc)


class InMemoryStorage(Storage):
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
        self._next_study = 1
        self._next_trial = 1

    # -- studies -------------------------------------------------------------------------------
    def create_study(
        self, name: str, direction: str, space: dict[str, Any], sampler: str
    ) -> StudyRecord:
        with self._lock:
            if name in self._studies:
                raise StudyExists(f"study {name!r} already exists")
            record = StudyRecord(self._next_study, name, direction, copy.deepcopy(space), sampler, _now())
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
                summarize(record, [(t.state, t.value) for t in self._trials[record.study_id]])
                for record in self._studies.values()
            ]

    def update_study(
        self, study_id: int, *, space: dict[str, Any] | None = None, sampler: str | None = None
    ) -> None:
        with self._lock:
            for name, record in self._studies.items():
                if record.study_id == study_id:
                    self._studies[name] = StudyRecord(
                        record.study_id,
                        record.name,
                        record.direction,
                        copy.deepcopy(space) if space is not None else record.space,
                        sampler if sampler is not None else record.sampler,
                        record.created_at,
                    )

    def delete_study(self, name: str) -> None:
        with self._lock:
            record = self._studies.pop(name, None)
            if record is None:
                raise StudyNotFound(_not_found(name, list(self._studies)))
            for trial in self._trials.pop(record.study_id):
                self._by_id.pop(trial.trial_id or 0, None)
            self._claims.pop(record.study_id, None)

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
    ) -> Trial:
        refuse_finished(expected, state)
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
                trial.finished_at = _now()
            elif state == TrialState.RUNNING and trial.started_at is None:
                trial.started_at = _now()
            return _copy(trial)

    def add_report(self, trial_id: int, step: int, value: float) -> None:
        with self._lock:
            trial = self._by_id[trial_id]
            trial.reports = [r for r in trial.reports if r[0] != step] + [(int(step), float(value))]
            trial.reports.sort()

    def read_trials(
        self, study_id: int, *, after: int = -1, numbers: Collection[int] = ()
    ) -> list[Trial]:
        with self._lock:
            trials = self._trials[study_id]
            wanted = sorted({n for n in numbers if 0 <= n < len(trials) and n <= after})
            return [_copy(trials[n]) for n in wanted] + [_copy(t) for t in trials[after + 1 :]]

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
    return clone


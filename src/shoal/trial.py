"""Trials: one configuration under test, its state and what it reported."""

from __future__ import annotations

import enum
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .study import Study

__all__ = ["TrialState", "Trial", "TrialHandle", "RunningTrial", "TrialPruned"]


class TrialState(str, enum.Enum):
    """Where a trial is in its life.

    QUEUED -> RUNNING -> COMPLETE | FAILED | PRUNED. A running trial whose driver vanished becomes
    STALE (nothing is known about its configuration; it may be re-queued). Finished states never change.
    """

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    PRUNED = "PRUNED"
    STALE = "STALE"

    @property
    def finished(self) -> bool:
        return self in _FINISHED

    def __str__(self) -> str:
        return self.value


_FINISHED = frozenset({TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED, TrialState.STALE})
FINISHED_STATES = _FINISHED


class TrialPruned(Exception):
    """Raise inside an objective to end the trial as PRUNED (stopped early on purpose)."""


@dataclass
class Trial:
    """A record of one trial as storage holds it.

    ``config`` holds the values (inactive dimensions absent), ``unit`` the unit-cube coordinates the
    sampler chose, ``reports`` the intermediate values as ``(step, value)`` pairs.
    """

    number: int
    state: TrialState
    config: dict[str, Any]
    unit: dict[str, float] = field(default_factory=dict)
    value: float | None = None
    error: str | None = None
    reports: list[tuple[int, float]] = field(default_factory=list)
    round: int | None = None
    claim: str | None = None
    requeued_from: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    trial_id: int | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def last_report(self) -> tuple[int, float] | None:
        return self.reports[-1] if self.reports else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (values keep their types)."""
        return {
            "number": self.number,
            "state": self.state.value,
            "value": self.value,
            "config": dict(self.config),
            "unit": dict(self.unit),
            "error": self.error,
            "reports": [list(r) for r in self.reports],
            "round": self.round,
            "requeued_from": self.requeued_from,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration": self.duration,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class TrialHandle(ABC):
    """What an objective gets as its ``trial`` argument, wherever it runs.

    ``config`` is the configuration to test; ``report(value, step)`` records an intermediate value
    (stored at once, visible to other drivers and the CLI); ``should_stop()`` says whether the study
    wants the trial to stop early (then raise ``shoal.TrialPruned``).
    """

    def __init__(self, number: int, config: dict[str, Any]) -> None:
        self._number = number
        self._config = config
        self._stop_requested = False
        self._last_value: float | None = None

    @property
    def number(self) -> int:
        return self._number

    @property
    def config(self) -> dict[str, Any]:
        return self._config

    @property
    def last_value(self) -> float | None:
        """The most recently reported value (what a PRUNED trial keeps as its value)."""
        return self._last_value

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value (e.g. validation accuracy after epoch ``step``)."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"report: step must be an int >= 0, got {step!r}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"report: value must be a number, got {value!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"report: value must be finite, got {value!r}")
        self._last_value = value
        if self._deliver(step, value):
            self._stop_requested = True

    def should_stop(self) -> bool:
        """True when the study asks this trial to stop early (then raise ``shoal.TrialPruned``)."""
        return self._stop_requested

    @abstractmethod
    def _deliver(self, step: int, value: float) -> bool:
        """Send a report where it is stored; return whether the trial should stop."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(number={self.number}, config={self.config!r})"


class RunningTrial(TrialHandle):
    """The handle for a trial this process runs (``optimize`` in process, or ``ask``)."""

    def __init__(self, study: Study, record: Trial) -> None:
        super().__init__(record.number, record.config)
        self._study = study
        self._record = record

    @property
    def unit(self) -> dict[str, float]:
        return self._record.unit

    @property
    def record(self) -> Trial:
        return self._record

    def _deliver(self, step: int, value: float) -> bool:
        return self._study._report(self._record, step, value)

"""Trials: one configuration under test, its state and what it reported."""

from __future__ import annotations

import enum
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import TrialPruned  # noqa: F401 - defined in shoal.errors
from .records import ConfigChange, Steering, check_note

if TYPE_CHECKING:  # pragma: no cover
    from .records import CheckpointSlot

__all__ = [
    "TrialState", "Trial", "TrialHandle", "TrialPruned", "FailureKind"
]


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


class FailureKind(str, enum.Enum):
    """Why a FAILED trial failed, as a typed column (schedulers read it; the error text is for people).

    ``OBJECTIVE``: the objective raised or returned something that is not a number; ``WORKER_DIED``: the
    process or Dask worker running it vanished; ``TIMEOUT``: it ran past ``timeout_per_trial``;
    ``CHECKPOINT``: the checkpoint it had to start from was missing or corrupt.
    """

    OBJECTIVE = "objective"
    WORKER_DIED = "worker_died"
    TIMEOUT = "timeout"
    CHECKPOINT = "checkpoint"

    def __str__(self) -> str:
        return self.value


#: The step a note travels with on the checkpoint channel from wherever the objective runs (a
#: worker process, a Dask worker) to the driver, which stores it: ``_announce(NOTE_STEP, text)``.
NOTE_STEP = -1

_FINISHED = frozenset({TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED, TrialState.STALE})
FINISHED_STATES = _FINISHED



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
    #: A person asked this trial to stop (its next report answers "stop").
    stop_requested: bool = False
    #: Which model proposed this trial and why, when the sampler says (e.g. ``Auto``'s choice).
    proposed_by: str | None = None
    #: Why a FAILED trial failed (None for other states, and for trials stored before this column).
    failure: FailureKind | None = None
    #: The named numbers the objective returned (objectives and extra metrics), for a study with
    #: several objectives or constraints; empty when it returned one number. ``value`` is then the
    #: first objective's value.
    values: dict[str, float] = field(default_factory=dict)
    #: Whether the trial's values meet every constraint of its study (True when it has none). None:
    #: no values to judge (not finished, failed, pruned before returning, or a one-number study).
    feasible: bool | None = None
    #: Hyperparameter changes: tweaks while it ran (``study.tweak``, a rule, PBT) and, for a fork,
    #: what it changed against its parent; in the order they were made.
    changes: list[ConfigChange] = field(default_factory=list)
    #: The device the trial ran on, when ``optimize(devices=...)`` gave its worker one (e.g.
    #: ``"cuda:1"``; on Dask the worker's GPU and address); None otherwise.
    device: str | None = None
    #: A person's Markdown note on the trial (``trial.note(...)`` in the objective,
    #: ``study.note(text, trial=n)``, the dashboard); None when it has none.
    note: str | None = None

    @property
    def schedule(self) -> list[tuple[int, dict[str, Any]]]:
        """The hyperparameters over the trial's steps: ``(first step, full config)``, then one
        ``(step, {name: new value})`` per step at which tweaks took effect. A fork's first step is
        its checkpoint's step + 1. Pending tweaks (not yet delivered) are left out."""
        first = next((c.step for c in self.changes if c.kind == "fork" and c.step is not None), 0)
        by_step: dict[int, dict[str, Any]] = {}
        for change in self.changes:
            if change.kind == "tweak" and change.step is not None:
                by_step.setdefault(change.step, {})[change.name] = change.new
        return [(first, dict(self.config)), *sorted(by_step.items())]

    def schedule_at(self, step: int) -> dict[str, Any]:
        """The config in force at ``step`` (the initial config before the first tweak)."""
        config = dict(self.config)
        for first, changed in self.schedule[1:]:
            if first <= step:
                config.update(changed)
        return config

    @property
    def current_config(self) -> dict[str, Any]:
        """The config with every delivered tweak applied: what the trial trains with now."""
        return self.schedule_at(2**62)

    @property
    def pending_changes(self) -> dict[str, Any]:
        """Tweaks stored but not yet delivered (they arrive at the next report): name -> new value."""
        return {c.name: c.new for c in self.changes if c.kind == "tweak" and c.step is None}

    @property
    def excluded_from_models(self) -> str | None:
        """Why samplers' surrogate models and importance leave this trial out (None: they use it):
        its value does not belong to one configuration when its hyperparameters changed while it
        trained, or it started from another trial's checkpoint."""
        tweaked = sorted({c.name for c in self.changes if c.kind == "tweak" and c.step is not None})
        if tweaked:
            return f"its hyperparameters changed while it trained ({', '.join(tweaked)})"
        if any(c.kind == "fork" for c in self.changes):
            return "it was forked from another trial's checkpoint"
        return None

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
            "stop_requested": self.stop_requested,
            "proposed_by": self.proposed_by,
            "failure": None if self.failure is None else self.failure.value,
            "values": dict(self.values),
            "feasible": self.feasible,
            "schedule": [[step, dict(config)] for step, config in self.schedule],
            "changes": [_change_dict(c) for c in self.changes],
            "device": self.device,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _change_dict(change: ConfigChange) -> dict[str, Any]:
    return {"name": change.name, "old": change.old, "new": change.new, "source": change.source,
            "step": change.step, "kind": change.kind, "created_at": _iso(change.created_at)}


class TrialHandle(ABC):
    """What an objective gets as its ``trial`` argument, wherever it runs.

    ``config`` is the configuration to test, always current: a tweak (``study.tweak``, a rule, the
    dashboard) updates it at the trial's next ``report`` or ``should_stop``, and ``changes()`` says
    what changed. ``report(value, step)`` records an intermediate value (stored at once, visible to
    other drivers and the CLI); ``should_stop()`` says whether the study wants the trial to stop
    early (then raise ``shoal.TrialPruned``).
    """

    def __init__(self, number: int, config: dict[str, Any], checkpoint: CheckpointSlot | None = None) -> None:
        self._number = number
        self._config = dict(config)  # its own copy: tweaks update it in place
        self._stop_requested = False
        self._last_value: float | None = None
        self._last_step: int | None = None
        self._slot = checkpoint
        self._heard_since_report = False  # should_stop after a report reuses the report's answer
        self._unseen: dict[str, tuple[Any, Any]] = {}

    @property
    def number(self) -> int:
        return self._number

    @property
    def config(self) -> dict[str, Any]:
        """The hyperparameters in force now (updated in place when a tweak arrives)."""
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
        self._last_value, self._last_step = value, step
        self._hear(self._deliver(step, value))
        self._heard_since_report = True

    def should_stop(self) -> bool:
        """True when the study asks this trial to stop early (then raise ``shoal.TrialPruned``).

        Right after ``report`` it answers from that report; otherwise it asks the study, so stop
        requests and tweaks also arrive in a loop that checks between reports."""
        if not self._heard_since_report and not self._stop_requested:
            self._hear(self._poll(self._next_step()))
        self._heard_since_report = False
        return self._stop_requested

    def changes(self) -> dict[str, tuple[Any, Any]]:
        """The hyperparameters changed since the last call: ``{name: (old, new)}`` (empty if none)."""
        unseen, self._unseen = self._unseen, {}
        return unseen

    def _hear(self, answer: Steering | bool) -> None:
        if isinstance(answer, bool):  # a handle written before tweaks: stop or not
            answer = Steering(stop=answer)
        for name, new in (answer.changes or {}).items():
            old = self._unseen[name][0] if name in self._unseen else self._config.get(name)
            self._config[name] = new
            self._unseen[name] = (old, new)
        if answer.stop:
            self._stop_requested = True

    def _next_step(self) -> int:
        """The first step not yet reported: where a change heard now takes effect."""
        if self._last_step is not None:
            return self._last_step + 1
        start = self.start_step
        return 0 if start is None else start + 1

    @abstractmethod
    def _deliver(self, step: int, value: float) -> Steering:
        """Send a report where it is stored; return whether to stop and what changed."""

    def _poll(self, from_step: int) -> Steering:
        """Ask, without a report, whether to stop and what changed (taking effect at ``from_step``).
        Handles with no line to a study hear nothing."""
        return Steering()

    def note(self, text: str) -> None:
        """Set this trial's Markdown note (replacing the one it had; "" removes it), stored at once
        wherever the objective runs (this process, a worker process, a Dask worker): it reads back as
        ``Trial.note`` and the dashboard and ``shoal show`` show it. ``ValueError`` for text that is
        not a str or is over ``shoal.records.MAX_NOTE`` characters."""
        check_note(text)
        if type(self)._announce is TrialHandle._announce:
            raise RuntimeError(f"{type(self).__name__} has no study to keep a note: run the objective "
                               "through Study.optimize or Study.ask")
        self._announce(NOTE_STEP, text)

    # -- checkpoints (see shoal.checkpoints) -----------------------------------------------------
    @property
    def start_step(self) -> int | None:
        """The step of the checkpoint ``load()`` returns (None when the trial starts from scratch)."""
        slot = self._checkpoint_slot()
        return None if slot is None or slot.start is None else slot.start_step

    def save(self, obj: Any, step: int | None = None) -> str:
        """Store ``obj`` (cloudpickled) as this trial's checkpoint at ``step`` (default: the last
        reported step); returns its uri. Save before reporting the step a scheduler may pause at."""
        from .checkpoints import write_checkpoint

        slot, step = self._saving(step)
        uri = write_checkpoint(slot, obj, step)
        self._announce(step, uri)
        return uri

    def load(self) -> Any:
        """The checkpoint this trial resumes from (another member's after a PBT exploit, its own last
        one after a restart); None when it starts from scratch. ``shoal.checkpoints.CheckpointError``
        (the trial fails, the study goes on) when it is missing or corrupt."""
        from .checkpoints import CheckpointError, read_checkpoint

        slot = self._checkpoint_slot()
        if slot is None or slot.start is None:
            return None
        if not slot.start.endswith(".pkl"):
            raise CheckpointError(f"checkpoint {slot.start} is a folder: read it with trial.load_dir()")
        return read_checkpoint(slot.root, slot.start, trial=slot.start_trial)

    @contextmanager
    def checkpoint_dir(self, step: int | None = None) -> Iterator[Path]:
        """``with trial.checkpoint_dir(step) as path:`` write files (a big model) into ``path``; on a
        clean exit they become this trial's checkpoint at ``step``, read back with ``load_dir()``."""
        from .checkpoints import writing_dir

        slot, step = self._saving(step)
        with writing_dir(slot, step) as (path, uri):
            yield path
        self._announce(step, uri)

    def load_dir(self) -> Path | None:
        """The folder of the directory checkpoint this trial resumes from (None: from scratch)."""
        from .checkpoints import CheckpointError, reading_dir

        slot = self._checkpoint_slot()
        if slot is None or slot.start is None:
            return None
        if slot.start.endswith(".pkl"):
            raise CheckpointError(f"checkpoint {slot.start} is a pickled object: read it with trial.load()")
        return reading_dir(slot.root, slot.start, trial=slot.start_trial)

    def _saving(self, step: int | None) -> tuple[CheckpointSlot, int]:
        slot = self._checkpoint_slot()
        if slot is None:
            raise RuntimeError(
                f"{type(self).__name__} has no checkpoint store: run the objective through "
                "Study.optimize or Study.ask"
            )
        if step is None:
            step = self._last_step if self._last_step is not None else (slot.start_step or 0)
        return slot, step

    def _checkpoint_slot(self) -> CheckpointSlot | None:
        return self._slot

    def _announce(self, step: int, uri: str) -> None:
        """Tell the driver a checkpoint was saved (it records the reference in storage)."""
        raise RuntimeError(f"{type(self).__name__} cannot record checkpoints")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(number={self.number}, config={self.config!r})"


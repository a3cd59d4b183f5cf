"""The scheduler contract: decide what happens to running trials (continue, stop, pause, resume).

A scheduler is a pure decision over the data it is handed (``SchedulerContext``), like a sampler: no
storage calls, no threads, no global random state (``rng_for`` derives a generator from the seed, the
study and the trial). The study calls it at two points, whatever executor runs the trials:

1. every intermediate report (``Study._report``, where the reports of in-process, local-worker and
   Dask trials all arrive):

   - ``records(trial, step, value)`` names the rung records this report creates; the study stores
     them (typed rows, first record per (trial, bracket, rung) wins) so every driver of a shared
     study sees the same rungs;
   - ``decide(context, trial, step, value)`` then returns a ``Decision``. ``STOP``: the worker is told
     to stop (``trial.should_stop()`` turns True; the objective raises ``shoal.TrialPruned`` or
     returns) and the trial ends PRUNED keeping its last value. ``PAUSE``: the same signal, but the
     trial ends PAUSED (resumable; the objective should have saved a checkpoint by then).

2. whenever an ``optimize`` slot frees, before a new configuration is sampled:
   ``resume(context)`` may name a PAUSED trial to continue (promotion); the study moves it back to
   RUNNING with a compare-and-set (two drivers never resume one trial) and runs the objective again
   with the same trial number, which then loads its checkpoint and carries on reporting.

Subclasses implement ``decide`` and usually ``describe``; ``records`` and ``resume`` default to none.
"""

from __future__ import annotations

import enum
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..records import CheckpointRef, LineageRecord, RungRecord
from ..space import Space
from ..trial import Trial, TrialState

__all__ = ["Decision", "Scheduler", "SchedulerContext", "RungRecord"]


class Decision(str, enum.Enum):
    """What a running trial should do after a report."""

    CONTINUE = "CONTINUE"
    STOP = "STOP"
    PAUSE = "PAUSE"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SchedulerContext:
    """What a scheduler may look at: the study's trials (any state, with their sorted ``reports``)
    and every rung record of the study (those of the current report included)."""

    study_name: str
    direction: str
    trials: Sequence[Trial] = ()
    rungs: Sequence[RungRecord] = field(default=())
    #: PBT's segment records and checkpoint references (read only for a scheduler that ``uses_lineage``)
    lineage: Sequence[LineageRecord] = field(default=())
    checkpoints: Sequence[CheckpointRef] = field(default=())
    space: Space | None = None

    def score(self, value: float) -> float:
        """``value`` turned so that lower is better (negated when maximizing)."""
        return -value if self.direction == "maximize" else value

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b`` in the study's direction."""
        return self.score(a) < self.score(b)

    @cached_property
    def by_number(self) -> dict[int, Trial]:
        return {t.number: t for t in self.trials}

    def trial(self, number: int) -> Trial | None:
        return self.by_number.get(number)

    def rungs_at(self, rung: int, bracket: int = 0) -> list[RungRecord]:
        """The records of one rung of one bracket."""
        return [r for r in self.rungs if r.rung == rung and r.bracket == bracket]

    def rungs_of(self, number: int) -> list[RungRecord]:
        """The records of one trial, by bracket and rung."""
        return sorted((r for r in self.rungs if r.trial_number == number), key=lambda r: (r.bracket, r.rung))

    def paused(self) -> list[Trial]:
        return [t for t in self.trials if t.state == TrialState.PAUSED]


def _study_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Scheduler(ABC):
    """Base class: subclasses implement ``decide`` (and ``records`` / ``resume`` when they use rungs
    or pause trials)."""

    seed: int | None = None

    #: True when the scheduler may answer ``PAUSE`` (the objective must then save checkpoints).
    pauses: bool = False
    #: True when the scheduler plans every trial itself (PBT segments, through ``next_trial``): the
    #: sampler proposes only the fresh configurations it asks for, and a PAUSE ends the trial COMPLETE
    #: (its member goes on as a new trial) instead of PAUSED. Its context then carries lineage and
    #: checkpoint references.
    creates_trials: bool = False

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._entropy = np.random.SeedSequence().entropy if seed is None else None

    def with_seed(self, seed: int | None) -> Scheduler:
        """The scheduler seeded (``Study(seed=...)`` seeds a scheduler given without a seed)."""
        if seed is not None and self.seed is None:
            self.seed = int(seed)
            self._entropy = None
        return self

    def rng_for(self, context: SchedulerContext, trial_number: int, stream: int = 0) -> np.random.Generator:
        """A generator that is a function of (seed, study, trial number, stream) only."""
        root = self.seed if self.seed is not None else self._entropy
        return np.random.default_rng([int(root), _study_key(context.study_name), trial_number, stream])

    def records(self, trial: Trial, step: int, value: float) -> list[RungRecord]:
        """The rung records this report creates (stored before ``decide`` is called). Default none.

        ``trial.reports`` already holds this report; a record for a rung the trial already has is
        ignored by storage, so returning every rung at or below ``step`` is safe.
        """
        return []

    @abstractmethod
    def decide(self, context: SchedulerContext, trial: Trial, step: int, value: float) -> Decision:
        """What ``trial`` should do after reporting ``value`` at ``step``."""

    def next_trial(self, context: SchedulerContext) -> Any:
        """For a scheduler that ``creates_trials``: the plan of the next trial (see ``PBT``), None
        when nothing should start until a running trial reports back; ``SearchExhausted`` when done."""
        return None

    def resume(self, context: SchedulerContext) -> int | None:
        """The number of a PAUSED trial to run again now (None: sample a new one). Default none."""
        return None

    def describe(self) -> str:
        """A short description, e.g. ``ASHA(min_resource=1, reduction_factor=3, mode='stop')``."""
        return f"{type(self).__name__}()"

    def __repr__(self) -> str:
        return self.describe()

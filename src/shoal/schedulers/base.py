"""The scheduler contract: decide what happens to running trials and what starts next.

A scheduler is a pure decision over the data it is handed (``SchedulerContext``), like a sampler: no
storage calls, no threads, no global random state (``rng_for`` derives a generator from the seed, the
study and the trial). It returns decisions as typed values; the study (``shoal.study.scheduling``)
turns them into storage writes. The study asks it at three points, whatever executor runs the trials:

1. every intermediate report (where the reports of in-process, local-worker and Dask trials all
   arrive):

   - ``records(trial, step, value)`` names the rung records this report creates; the study stores
     them (typed rows, first record per (trial, bracket, rung) wins) so every driver of a shared
     study sees the same rungs;
   - ``decide(context, trial, step, value)`` then returns a ``Decision``. ``STOP``: the worker is told
     to stop (``trial.should_stop()`` turns True; the objective raises ``shoal.TrialPruned`` or
     returns) and the trial ends PRUNED keeping its last value. ``PAUSE``: the same signal, but the
     trial ends PAUSED (promotable; the objective should have saved a checkpoint by then).
     ``COMPLETE``: the same signal, and the trial ends COMPLETE with its last value (it did its part,
     e.g. a PBT segment).

2. whenever a slot frees, first ``promote(context)``: it may name a PAUSED trial to continue; the
   study moves it back to RUNNING with a compare-and-set (two drivers never promote one trial) and
   runs the objective again under the same trial number, which loads its checkpoint and carries on.

3. then ``next_trial(context)``: a ``TrialPlan`` for the next new trial. The default plan asks the
   study's sampler for a configuration; a scheduler that plans trials itself (PBT) fills in the
   configuration, the checkpoint to start from and the lineage record, or returns None to wait.

Subclasses implement ``decide`` and usually ``describe``; the others default to nothing special.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..direction import sign
from ..records import CheckpointRef, ConfigChange, LineageRecord, RungRecord
from ..seeding import Seeded
from ..space import Space
from ..trial import Trial, TrialState

__all__ = ["Decision", "Scheduler", "SchedulerContext", "TrialPlan", "RungRecord"]


class Decision(str, enum.Enum):
    """What a running trial should do after a report."""

    CONTINUE = "CONTINUE"
    STOP = "STOP"
    PAUSE = "PAUSE"
    COMPLETE = "COMPLETE"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class TrialPlan:
    """A new trial a scheduler wants started; the study starts it as it starts a sampler's proposal.

    ``config`` None: the study's sampler proposes the configuration (``unit`` then unused). ``start``:
    the checkpoint the trial starts from (its ``trial_number`` is the parent trial). ``lineage``: the
    record stored with the trial (its ``trial_number`` is filled in by the study). ``claim``: a key no
    other trial of the study may hold, so two drivers never start the same plan. ``changes``: rows
    already in force stored with the trial (PBT's explore step: "fork" rows against the config in
    force in the checkpoint it copies; their ``trial_number`` is filled in by the study too).
    """

    config: dict[str, Any] | None = None
    unit: dict[str, float] | None = None
    start: CheckpointRef | None = None
    lineage: LineageRecord | None = None
    claim: str | None = None
    changes: tuple[ConfigChange, ...] = ()

    @property
    def parent(self) -> int | None:
        """The trial whose checkpoint this one starts from (None: from scratch)."""
        return None if self.start is None else self.start.trial_number


@dataclass(frozen=True)
class SchedulerContext:
    """What a scheduler may look at: the study's trials (any state, with their sorted ``reports``)
    and every rung record of the study (those of the current report included)."""

    study_name: str
    direction: str
    trials: Sequence[Trial] = ()
    rungs: Sequence[RungRecord] = field(default=())
    #: lineage records, checkpoint references and the space (loaded only for a scheduler that
    #: ``uses_lineage``)
    lineage: Sequence[LineageRecord] = field(default=())
    checkpoints: Sequence[CheckpointRef] = field(default=())
    space: Space | None = None

    def score(self, value: float) -> float:
        """``value`` turned so that lower is better (negated when maximizing)."""
        return sign(self.direction) * value

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


class Scheduler(Seeded, ABC):
    """Base class: subclasses implement ``decide`` (and ``records`` / ``promote`` when they use rungs
    or pause trials, ``next_trial`` when they plan trials)."""

    #: True when the scheduler may answer ``PAUSE`` (the objective must then save checkpoints).
    pauses: bool = False
    #: True when ``decide`` and ``next_trial`` read lineage, checkpoint references and the space from
    #: their context (the study loads them only then: they cost a storage read per decision).
    uses_lineage: bool = False
    #: False when trial values are not comparable across trials (PBT segments of different lengths):
    #: a study given no sampler then proposes fresh configurations at random instead of with a model.
    comparable_values: bool = True
    #: False when the scheduler ranks trials by their one value (PBT's exploit step): a study with
    #: several objectives refuses it. Those that only read reports (of ``report_metric``) say True.
    multi_objective: bool = True

    def __init__(self, seed: int | None = None) -> None:
        self._set_seed(seed)

    def with_seed(self, seed: int | None) -> Scheduler:
        """The scheduler seeded (``Study(seed=...)`` seeds a scheduler given without a seed)."""
        return super().with_seed(seed)

    def rng_for(self, context: SchedulerContext, trial_number: int, stream: int = 0) -> np.random.Generator:
        """A generator that is a function of (seed, study, trial number, stream) only."""
        return self.stream(context.study_name, trial_number, stream)

    @property
    def needs_checkpoints(self) -> bool:
        """True when trials go on from checkpoints (paused and promoted, or planned from another's)."""
        return self.pauses or self.uses_lineage

    def records(self, trial: Trial, step: int, value: float) -> list[RungRecord]:
        """The rung records this report creates (stored before ``decide`` is called). Default none.

        ``trial.reports`` already holds this report; a record for a rung the trial already has is
        ignored by storage, so returning every rung at or below ``step`` is safe.
        """
        return []

    @abstractmethod
    def decide(self, context: SchedulerContext, trial: Trial, step: int, value: float) -> Decision:
        """What ``trial`` should do after reporting ``value`` at ``step``."""

    def next_trial(self, context: SchedulerContext) -> TrialPlan | None:
        """The plan of the next new trial. Default: ``TrialPlan()``, a configuration from the sampler.

        A scheduler that plans trials itself (``PBT``) returns its own plans, None when nothing should
        start until a running trial reports back, and raises ``SearchExhausted`` when it is done.
        """
        return TrialPlan()

    def promote(self, context: SchedulerContext) -> int | None:
        """The number of a PAUSED trial to run again now (None: start a new one). Default none."""
        return None

    @property
    def ends_by_itself(self) -> bool:
        """True when ``next_trial`` raises ``SearchExhausted`` once its plan is done (PBT with
        ``max_steps``), so a run needs no ``n_trials`` or timeout to end. Default False."""
        return False

    def trials_left(self, context: SchedulerContext) -> int | None:
        """How many more trials this scheduler plans, as far as it can tell now (None: no bound;
        the default). ``optimize``'s progress bar counts to it when it is below ``n_trials``."""
        return None

    def describe(self) -> str:
        """A short description, e.g. ``ASHA(min_resource=1, reduction_factor=3, mode='stop')``."""
        return f"{type(self).__name__}()"

    def __repr__(self) -> str:
        return self.describe()

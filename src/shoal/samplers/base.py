"""The sampler contract: decide what to try next from the history, in the unit cube.

A sampler is a pure decision over the data it is handed (``SamplingContext``): no storage calls, no
threads, no global random state. Its randomness comes from ``rng_for(context)``, a generator derived
from (seed, study name, trial number), so a seeded run repeats exactly and parallel proposals never
share a stream.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SearchExhausted  # noqa: F401 - defined in shoal.errors
from ..objectives import Objectives
from ..seeding import Seeded
from ..space import Space
from ..trial import Trial, TrialState

__all__ = ["Sampler", "SamplingContext", "Proposal", "SearchExhausted"]



@dataclass(frozen=True)
class SamplingContext:
    """What a sampler may look at when it proposes the next trial.

    ``history`` holds finished trials, ``running`` the trials queued or in progress (so parallel
    proposals can avoid them), ``budget`` the number of trials the current ``optimize`` call plans
    (None in an open-ended ask/tell loop). ``objectives`` says what the study optimizes when it has
    several objectives or constraints (trials then carry ``values`` and ``feasible``); None for a
    one-number study in ``direction``. ``excluded`` holds the finished trials models must not learn
    from (their hyperparameters changed while they trained: ``Trial.excluded_from_models``); they
    still hold their claims, so ``trials`` includes them.
    """

    space: Space
    study_name: str
    direction: str
    trial_number: int
    history: Sequence[Trial] = ()
    running: Sequence[Trial] = ()
    budget: int | None = None
    objectives: Objectives | None = None
    excluded: Sequence[Trial] = ()

    @property
    def spec(self) -> Objectives:
        """The study's objectives, also for a one-number study (one objective named ``"value"``)."""
        return self.objectives if self.objectives is not None else Objectives.single(self.direction)

    @property
    def trials(self) -> list[Trial]:
        """Finished (excluded ones too) and running trials together."""
        return [*self.history, *self.excluded, *self.running]


@dataclass(frozen=True)
class Proposal:
    """A point of the unit cube (one coordinate per dimension, in space order).

    ``claim`` is a key no other trial of the study may hold (a grid index, a quasi-random sequence
    position): storage enforces it atomically, so two workers never test the same point.
    ``round`` records the search round a trial came from (coarse-to-fine), and ``box`` the region
    that round searches, (low, high) per dimension on the unit scale (the study stores it once per
    round, so plots read each round's box as data).
    """

    unit: np.ndarray
    claim: str | None = None
    round: int | None = None
    box: dict[str, tuple[float, float]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def proposed_by(self) -> str | None:
        """``"name: why"`` from ``extra`` (what storage keeps of who proposed the trial), if given."""
        name = self.extra.get("sampler")
        if name is None:
            return None
        why = self.extra.get("why")
        return f"{name}: {why}" if why else str(name)


def finished_score(trial: Trial) -> float | None:
    """The value a finished trial is judged by: its value, or a pruned trial's last report; None when
    it has no finite one."""
    value = trial.value
    if value is None and trial.state == TrialState.PRUNED and trial.reports:
        value = trial.reports[-1][1]
    if value is None or not math.isfinite(value):
        return None
    return float(value)


class Sampler(Seeded, ABC):
    """Base class: subclasses implement ``propose`` and ``describe``."""

    def __init__(self, seed: int | None = None) -> None:
        self._set_seed(seed)

    def rng_for(self, context: SamplingContext, stream: int = 0) -> np.random.Generator:
        """The generator for this trial: a function of (seed, study, trial number, stream)."""
        return self.stream(context.study_name, context.trial_number, stream)

    def with_seed(self, seed: int | None) -> Sampler:
        """The sampler seeded (used by ``Study(seed=...)`` for a sampler given without a seed)."""
        return super().with_seed(seed)

    @abstractmethod
    def propose(self, context: SamplingContext) -> Proposal:
        """The next point to try."""

    def check_space(self, space: Space) -> None:
        """Raise ``ValueError`` naming the dimension (or the limit) when this sampler cannot search
        ``space``. Studies and run configs call it before anything is stored; the default accepts
        every space."""

    def describe(self) -> str:
        """A short description stored with the study, e.g. ``Random(seed=0)``."""
        return f"{type(self).__name__}(seed={self.seed})"

    def __repr__(self) -> str:
        return self.describe()

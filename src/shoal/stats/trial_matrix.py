"""Trials as numbers: the completed ones, the dimensions that vary, and their unit coordinates."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..space import Fixed, Space
from ..trial import Trial, TrialState
from .fanova import INACTIVE

__all__ = ["completed", "tunable", "unit_matrix"]


def completed(trials: Sequence[Trial]) -> list[Trial]:
    """COMPLETE trials with a finite value, by number."""
    done = [
        t for t in trials
        if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
    ]
    return sorted(done, key=lambda t: t.number)


def tunable(space: Space) -> list[str]:
    """The dimensions that can vary (all but ``Fixed``)."""
    return [name for name, dim in space if not isinstance(dim, Fixed)]


def unit_matrix(trials: Sequence[Trial], names: Sequence[str]) -> np.ndarray:
    """Trials x dimensions of unit coordinates; an absent one (inactive, or a custom value with no
    inverse) is ``INACTIVE`` (-0.5)."""
    out = np.full((len(trials), len(names)), INACTIVE)
    for i, trial in enumerate(trials):
        for j, name in enumerate(names):
            u = trial.unit.get(name)
            if u is not None and math.isfinite(u):
                out[i, j] = min(1.0, max(0.0, float(u)))
    return out

"""How the GP sees a search space: canonical unit points and the feature columns of the kernel.

- A *canonical* point is a unit-cube point (one coordinate per dimension) with every discrete
  dimension at the centre of its value's bin and every inactive dimension at 0.5; two canonical
  points are equal exactly when they decode to the same config.
- Features: a continuous dimension (Float, Custom) is its unit coordinate (so log and reverse_log
  floats are modelled on their own scale); an ordinal one (Int, stepped Float) is the centre of its
  value's bin; a choice is one-hot with entries 1/sqrt(2) (two different values are at distance 1,
  like the two ends of a numeric dimension), all zero when inactive; a constant (Fixed, one-value
  Choice) is left out. A conditional space gets one 0/1 "active" column per distinct ``when``, so
  the placeholder 0.5 of an inactive dimension is never mistaken for a measured value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..space import Choice, Custom, Dimension, Fixed, Float, Int, Space, _same_value
from ..trial import Trial

CONT, ORD, CAT, CONST = "continuous", "ordinal", "categorical", "constant"
_ONE_HOT = 1.0 / math.sqrt(2.0)


def _kind(dim: Dimension) -> str:
    if isinstance(dim, Fixed) or (dim.discrete and (dim.n_values() or 2) == 1):
        return CONST
    if isinstance(dim, Choice):
        return CAT
    if isinstance(dim, (Float, Custom)) and not dim.discrete:
        return CONT
    return ORD if dim.discrete else CONT


class Encoder:
    """Canonical points and kernel features for one space (see the module docstring)."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self.dims: tuple[Dimension, ...] = tuple(d for _, d in space)
        self.kinds = [_kind(d) for d in self.dims]
        self.continuous = [j for j, k in enumerate(self.kinds) if k == CONT]
        self.discrete = [j for j, k in enumerate(self.kinds) if k in (ORD, CAT)]
        cols: list[tuple[int, int]] = []  # (dimension, feature column) of numeric dims
        cats: list[tuple[int, int, int]] = []  # (dimension, first column, n values)
        groups: list[int] = []
        n_groups = 0
        for j, kind in enumerate(self.kinds):
            if kind in (CONT, ORD):
                cols.append((j, len(groups)))
                groups.append(n_groups)
                n_groups += 1
            elif kind == CAT:
                n = self.dims[j].n_values()
                cats.append((j, len(groups), n))
                groups += [n_groups] * n
                n_groups += 1
        conditions: dict[str, list[int]] = {}
        for j, dim in enumerate(self.dims):
            if dim.when and self.kinds[j] != CONST:
                conditions.setdefault(repr(sorted(dim.when.items())), []).append(j)
        self.indicators: list[tuple[int, int]] = []  # (a dimension with that condition, column)
        for members in conditions.values():
            self.indicators.append((members[0], len(groups)))
            groups.append(n_groups)
            n_groups += 1
        self.numeric_cols = cols
        self.categorical_cols = cats
        self.feature_of = {j: c for j, c in cols}  # continuous/ordinal dimension -> its column
        self.warp_cols = np.array([c for _, c in cols], dtype=int)  # numeric columns: input-warpable
        self.groups = np.array(groups, dtype=int)
        self.n_groups = n_groups
        self.n_features = len(groups)

    # -- discrete values ---------------------------------------------------------------------
    def centres(self, j: int, limit: int | None = None) -> np.ndarray:
        """The canonical unit coordinates of the values of discrete dimension ``j``: all of them,
        or about ``limit`` spread evenly when it has more."""
        dim = self.dims[j]
        n = dim.n_values() or 1
        if limit is not None and n > limit:
            return np.unique(self.snap(j, np.linspace(0.0, 1.0, limit)))
        if isinstance(dim, Int) and dim.scale == "log":  # bins of unequal width: place every value
            lo, hi = math.log(dim.low), math.log(dim.high + 1)
            v = np.arange(dim.low, dim.high + 1, dtype=float)
            return np.unique(np.clip((0.5 * (np.log(v) + np.log(v + 1)) - lo) / (hi - lo), 0.0, 1.0))
        return np.unique(self.snap(j, (np.arange(n) + 0.5) / n))

    def snap(self, j: int, u: np.ndarray) -> np.ndarray:
        """Unit coordinates of discrete dimension ``j`` moved to the centres of their values' bins."""
        dim = self.dims[j]
        u = np.clip(u, 0.0, 1.0)
        if isinstance(dim, (Choice, Float)) or (isinstance(dim, Int) and dim.scale == "linear"):
            n = dim.n_values() or 1
            return (np.minimum(np.floor(u * n), n - 1) + 0.5) / n
        if isinstance(dim, Int):  # log scale, as Int.from_unit / Int.to_unit compute it
            lo, hi = math.log(dim.low), math.log(dim.high + 1)
            v = np.clip(np.floor(np.exp(lo + u * (hi - lo))), dim.low, dim.high)
            return np.clip((0.5 * (np.log(v) + np.log(v + 1)) - lo) / (hi - lo), 0.0, 1.0)
        values, inverse = np.unique(u, return_inverse=True)  # generic: through the value
        return np.array([dim.to_unit(dim.from_unit(float(v))) for v in values])[inverse]

    # -- canonical points ----------------------------------------------------------------------
    def canonical(self, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(canonical points, active mask) for rows of unit points."""
        u = np.clip(np.nan_to_num(np.array(unit, dtype=float), nan=0.5), 0.0, 1.0)
        for j in self.discrete:
            u[:, j] = self.snap(j, u[:, j])
        active = np.ones(u.shape, dtype=bool)
        if self.space.is_conditional:
            index = {name: j for j, name in enumerate(self.space.names)}
            for j, dim in enumerate(self.dims):
                if not dim.when:
                    continue
                for parent, allowed in dim.when.items():
                    p = index[parent]
                    pdim = self.dims[p]
                    values, inverse = np.unique(u[:, p], return_inverse=True)
                    ok = np.array([any(_same_value(pdim.from_unit(float(v)), a) for a in allowed)
                                   for v in values])[inverse]
                    active[:, j] &= ok & active[:, p]
            u[~active] = 0.5
        for j, kind in enumerate(self.kinds):
            if kind == CONST:
                u[:, j] = 0.5
        return u, active

    def from_trials(self, trials: Sequence[Trial]) -> tuple[np.ndarray, np.ndarray]:
        """Canonical points and active masks of trials (stored unit coordinates, else values)."""
        rows = np.array([self.space.encode(t.config, t.unit) for t in trials], dtype=float)
        return self.canonical(rows.reshape(len(trials), len(self.dims)))

    # -- features -------------------------------------------------------------------------------
    def features(self, u: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Kernel inputs (n, n_features) of canonical points."""
        x = np.zeros((len(u), self.n_features))
        for j, col in self.numeric_cols:
            x[:, col] = u[:, j]
        for j, first, n in self.categorical_cols:
            idx = np.minimum(np.floor(u[:, j] * n), n - 1).astype(int)
            rows = np.flatnonzero(active[:, j])
            x[rows, first + idx[rows]] = _ONE_HOT
        for j, col in self.indicators:
            x[:, col] = active[:, j]
        return x

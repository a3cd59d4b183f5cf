"""The acquisition maximizer the GP samplers share: score candidates, refine the best on their
continuous coordinates (L-BFGS-B with a gradient, else a seeded local search), sweep each discrete
dimension's values."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from scipy.optimize import minimize
from scipy.spatial import cKDTree

from ._gp_space import Encoder

__all__ = ["Acquisition"]

_N_REFINE = 5
_SWEEP_VALUES = 64
#: A continuous coordinate closer than this (in the unit cube) to a tried point's counts as tried: on
#: a boundary optimum the model otherwise re-proposed one point ever more finely (Branin, 2 of 5
#: seeds stuck at 1.94 instead of 0.398).
_MIN_DISTANCE = 1e-3
#: The local search of an acquisition without a gradient: step sizes, and steps per start and size.
_LOCAL_STEPS = (0.05, 0.015, 0.004)
_LOCAL_TRIES = 32


class Acquisition(ABC):
    """Maximizes an acquisition over canonical points: scored candidates, then the best few refined on
    their continuous coordinates and swept over each discrete dimension's values.

    Subclasses give ``values(x)`` (kernel features -> values, higher is better) and, when they can,
    ``values_and_grad(x)`` (values and their gradient in the features; then the continuous refinement
    is L-BFGS-B, else a seeded local search); ``has_gradient`` says which.
    """

    has_gradient = False

    def __init__(self, enc: Encoder, rng: np.random.Generator) -> None:
        self.enc, self.rng = enc, rng

    @abstractmethod
    def values(self, x: np.ndarray) -> np.ndarray:
        """The acquisition of each row of features ``x`` (higher is better)."""

    def values_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        return None

    def score(self, u: np.ndarray, active: np.ndarray) -> np.ndarray:
        return self.values(self.enc.features(u, active))

    def maximize(self, candidates: np.ndarray, tried: np.ndarray) -> np.ndarray:
        u, active = self.enc.canonical(candidates)
        values = self._mask_tried(u, self.score(u, active), tried)
        if not np.any(np.isfinite(values)):
            raise ValueError("acquisition is not finite anywhere (every candidate tried?)")
        order = np.argsort(-values, kind="stable")
        _, first = np.unique(u[order], axis=0, return_index=True)
        starts = u[order[np.sort(first)[:_N_REFINE]]]
        for _ in range(2):
            starts = self._refine_continuous(starts)
            starts, changed = self._sweep_discrete(starts)
            if not changed:
                break
        u_s, act_s = self.enc.canonical(starts)
        all_u = np.vstack([u, u_s])
        all_v = np.r_[values, self._mask_tried(u_s, self.score(u_s, act_s), tried)]
        i = int(np.argmax(all_v))
        if not np.isfinite(all_v[i]):
            raise ValueError("every candidate was already tried")
        return all_u[i]

    def _mask_tried(self, u: np.ndarray, values: np.ndarray, tried: np.ndarray) -> np.ndarray:
        """-inf where a point is not finite or is as good as tried: every discrete coordinate equal
        and every continuous one within ``_MIN_DISTANCE`` of a tried (or running) point's."""
        values = np.where(np.isfinite(values), values, -np.inf)
        if len(tried):
            tol = np.full(u.shape[1], 1e-9)
            tol[self.enc.continuous] = _MIN_DISTANCE
            # Chebyshev distance in units of the tolerance; a k-d tree keeps it O(m log n), not O(m n)
            dist, _ = cKDTree(tried / tol).query(u / tol, k=1, p=np.inf, distance_upper_bound=1.0)
            values = np.where(dist < 1.0, -np.inf, values)
        return values

    def _refine_continuous(self, starts: np.ndarray) -> np.ndarray:
        """L-BFGS-B on the active continuous coordinates of all starts at once (one sum objective),
        or, without a gradient, a local search."""
        enc = self.enc
        if not enc.continuous:
            return starts
        u, active = enc.canonical(starts)
        base = enc.features(u, active)
        dims = enc.continuous
        cols = [enc.feature_of[j] for j in dims]
        free = active[:, dims]
        k, m = len(u), len(dims)
        if not self.has_gradient:
            return self._local_search(u, active, dims, free)
        bounds = [(0.0, 1.0) if f else (0.5, 0.5) for f in free.reshape(-1)]

        def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
            x = base.copy()
            x[:, cols] = flat.reshape(k, m)
            value, grad = self.values_and_grad(x)  # type: ignore[misc]
            g = np.where(free, grad[:, cols], 0.0)
            if not (np.all(np.isfinite(value)) and np.all(np.isfinite(g))):
                return 1e10, np.zeros_like(flat)
            return -float(value.sum()), -g.reshape(-1)

        res = minimize(objective, u[:, dims].reshape(-1), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 100})
        out = u.copy()
        if np.all(np.isfinite(res.x)):
            out[:, dims] = np.clip(res.x.reshape(k, m), 0.0, 1.0)
        return out

    def _local_search(
        self, u: np.ndarray, active: np.ndarray, dims: list[int], free: np.ndarray
    ) -> np.ndarray:
        """Gaussian steps of shrinking size on the active continuous coordinates; a start moves to the
        best of its steps when that is better."""
        current = self.score(u, active)
        u = u.copy()
        for sigma in _LOCAL_STEPS:
            trial = np.repeat(u, _LOCAL_TRIES, axis=0)
            step = self.rng.normal(0.0, sigma, (len(trial), len(dims)))
            step *= np.repeat(free, _LOCAL_TRIES, axis=0)
            trial[:, dims] = np.clip(trial[:, dims] + step, 0.0, 1.0)
            t_u, t_act = self.enc.canonical(trial)
            scores = self.score(t_u, t_act).reshape(len(u), _LOCAL_TRIES)
            scores = np.where(np.isfinite(scores), scores, -np.inf)
            pick = np.argmax(scores, axis=1)
            better = scores[np.arange(len(u)), pick] > current
            rows = np.flatnonzero(better)
            u[rows] = t_u.reshape(len(u), _LOCAL_TRIES, -1)[rows, pick[rows]]
            current[rows] = scores[rows, pick[rows]]
        return u

    def _sweep_discrete(self, starts: np.ndarray) -> tuple[np.ndarray, bool]:
        """Each discrete dimension in turn: try its values at every start, keep the best."""
        enc = self.enc
        u, active = enc.canonical(starts)
        current = self.score(u, active)
        changed = False
        for j in enc.discrete:
            n = enc.dims[j].n_values() or 1
            values = enc.centres(j, limit=_SWEEP_VALUES)
            if n > _SWEEP_VALUES:  # many values: an even spread plus each start's neighbours
                near = u[:, j][:, None] + np.arange(-3, 4)[None, :] / n
                values = np.unique(np.r_[values, enc.snap(j, near.reshape(-1))])
            trial = np.repeat(u, len(values), axis=0)
            trial[:, j] = np.tile(values, len(u))
            t_u, t_act = enc.canonical(trial)
            scores = self.score(t_u, t_act).reshape(len(u), len(values))
            pick = np.argmax(scores, axis=1)
            better = scores[np.arange(len(u)), pick] > current + 1e-12
            if better.any():
                changed = True
                rows = np.flatnonzero(better)
                u[rows] = t_u.reshape(len(u), len(values), -1)[rows, pick[rows]]
                active[rows] = t_act.reshape(len(u), len(values), -1)[rows, pick[rows]]
                current[rows] = scores[rows, pick[rows]]
        return u, changed

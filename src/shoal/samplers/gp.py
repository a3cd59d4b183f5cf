"""Gaussian-process Bayesian optimization: a Matern-5/2 GP fitted by marginal likelihood, log EI.

Design: inputs are unit coordinates (inactive dims set to 0.5); outputs are minimized (negated for
maximize), rank-warped to normal scores (robust to outliers) and standardized. FAILED trials are left
out. Running trials are added as fantasies at max(posterior mean, mean of the observed scores) (a
pessimistic kriging believer / constant liar), so parallel asks spread out. Discrete dims are
snapped to their value's bin centre before the acquisition is scored, so integers and choices are
evaluated exactly (choices through their unit bins, a first version). Candidates: scrambled Sobol
plus Gaussian perturbations of the best points; no L-BFGS-B refinement of the acquisition yet.
Any numerical failure falls back to a Sobol proposal and logs why.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from scipy.stats import norm, qmc, rankdata

from . import _gp_math as gm
from .base import Proposal, Sampler, SamplingContext
from .quasirandom import QuasiRandom

__all__ = ["GP"]

log = logging.getLogger("shoal")
_FIT_STREAM = 0x6770


def snap(space: object, unit: np.ndarray) -> np.ndarray:
    """Rows of ``unit`` with each discrete dimension moved to the centre of its value's bin."""
    out = np.array(unit, dtype=float)
    for j, dim in enumerate(space._dims):  # type: ignore[attr-defined]
        if dim.discrete:
            out[:, j] = [dim.to_unit(dim.from_unit(float(u))) for u in out[:, j]]
    return out


def warp(y: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks, standardized: robust to outliers and to any monotone scale."""
    scores = norm.ppf((rankdata(y) - 0.5) / len(y))
    sd = scores.std()
    return (scores - scores.mean()) / (sd if sd > 0 else 1.0)


class GP(Sampler):
    """Gaussian-process BO with log expected improvement; Sobol for the first ``n_initial`` trials."""

    def __init__(self, n_initial: int | None = None, n_candidates: int = 1024, *, seed: int | None = None):
        super().__init__(seed)
        if n_initial is not None and (isinstance(n_initial, bool) or int(n_initial) < 1):
            raise ValueError(f"GP: n_initial must be an int >= 1 or None (auto), got {n_initial!r}")
        if n_candidates < 16:
            raise ValueError(f"GP: n_candidates must be >= 16, got {n_candidates}")
        self.n_initial = n_initial
        self.n_candidates = int(n_candidates)
        self._initial = QuasiRandom("sobol", seed=seed)

    def with_seed(self, seed: int | None) -> Sampler:
        super().with_seed(seed)
        self._initial.with_seed(seed)
        return self

    def _data(self, context: SamplingContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        space = context.space
        done = [t for t in context.history if t.state.value == "COMPLETE" and t.value is not None]
        x = np.array([space.encode(t.config, t.unit) for t in done]).reshape(len(done), len(space))
        y = np.array([float(t.value) for t in done])
        if context.direction == "maximize":
            y = -y
        pend = [space.encode(t.config, t.unit) for t in context.running if t.unit]
        xp = np.array(pend).reshape(len(pend), len(space))
        return np.nan_to_num(x, nan=0.5), y, np.nan_to_num(xp, nan=0.5)

    def propose(self, context: SamplingContext) -> Proposal:
        d = len(context.space)
        n_init = self.n_initial if self.n_initial is not None else max(5, d + 1)
        x, y, xp = self._data(context)
        if len(y) < n_init:
            return self._initial.propose(context)
        try:
            return Proposal(self._model_point(context, x, y, xp), extra={"sampler": "gp"})
        except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
            log.warning("GP: falling back to a Sobol proposal for trial %d: %s", context.trial_number, exc)
            return self._initial.propose(context)

    def _model_point(
        self, context: SamplingContext, x: np.ndarray, y: np.ndarray, xp: np.ndarray
    ) -> np.ndarray:
        if not np.all(np.isfinite(y)):
            raise ValueError("non-finite objective values")
        if np.ptp(y) == 0:
            raise ValueError("all observed values are equal")
        rng = self.rng_for(context, _FIT_STREAM)
        z = warp(y)
        theta = gm.fit_hyperparameters(x, z, rng)
        post = gm.Posterior(x, z, theta)
        if len(xp):  # believer, pessimistic: pending points enter at max(posterior mean, mean of y)
            mean_p, _ = post.predict(xp)
            x, z = np.vstack([x, xp]), np.r_[z, np.maximum(mean_p, z.mean())]
            post = gm.Posterior(x, z, theta)
        best = float(z[: len(y)].min())
        space = context.space
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            cand = qmc.Sobol(len(space), scramble=True, seed=rng).random(self.n_candidates)
        top = x[np.argsort(z)[:5]]
        local = top[rng.integers(len(top), size=256)] + rng.normal(0, 0.05, (256, x.shape[1]))
        cand = snap(space, np.clip(np.vstack([cand, local]), 0.0, 1.0))

        def score(points: np.ndarray) -> np.ndarray:
            mean, std = post.predict(points)
            return gm.log_ei(mean, std, best)

        values = score(cand)
        if not np.any(np.isfinite(values)):
            raise ValueError("acquisition is not finite anywhere")
        # Never re-propose an evaluated or pending point (matters in small discrete spaces).
        tried = snap(space, x)
        dist = np.min(np.abs(cand[:, None, :] - tried[None, :, :]).max(axis=-1), axis=1)
        values = np.where(dist < 1e-9, -np.inf, values)
        i = int(np.argmax(values))
        if not np.isfinite(values[i]):
            raise ValueError("every candidate was already tried")
        return cand[i]

    def describe(self) -> str:
        return f"GP(n_initial={self.n_initial}, n_candidates={self.n_candidates}, seed={self.seed})"

"""The GP sampler's acquisitions: log expected improvement, alone or averaged over fantasies of the
running trials (parallel asks)."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_ndtr, logsumexp

from ..stats.ehvi import log_h
from . import _gp_math as gm
from ._gp_acquisition import Acquisition
from ._gp_space import Encoder

__all__ = ["LogEI", "FantasyLogEI", "N_FANTASIES"]

#: Joint posterior draws of the running trials' values per proposal (``FantasyLogEI``).
N_FANTASIES = 32


class LogEI(Acquisition):
    """log EI of the GP's posterior below ``best`` (with its analytic gradient)."""

    has_gradient = True

    def __init__(self, enc: Encoder, post: gm.Posterior, best: float, rng: np.random.Generator) -> None:
        super().__init__(enc, rng)
        self.post, self.best = post, best

    def values(self, x: np.ndarray) -> np.ndarray:
        mean, std = self.post.predict(x)
        return gm.log_ei(mean, std, self.best)

    def values_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std, dmean, dstd = self.post.predict_with_grad(x)
        return gm.log_ei_with_grad(mean, std, dmean, dstd, self.best)


class FantasyLogEI(Acquisition):
    """log of the mean EI over fantasies of the running trials (Monte-Carlo EI with pending points).

    In fantasy s the running trials get values drawn jointly from the posterior; the model conditions
    on them, and the incumbent is the better of the observed one and theirs. A point scores where it
    would improve on what the running trials may bring, whatever the output scale, so parallel asks
    spread out without a tuned penalty. Build it with ``of_running``.
    """

    has_gradient = True

    def __init__(self, enc: Encoder, post: gm.Posterior, best: np.ndarray, rng: np.random.Generator) -> None:
        super().__init__(enc, rng)
        self.post, self.best = post, best  # a posterior with one target column per fantasy

    @classmethod
    def of_running(
        cls, enc: Encoder, post: gm.Posterior, z: np.ndarray, x_running: np.ndarray, best: float,
        rng: np.random.Generator, n_fantasies: int = N_FANTASIES,
    ) -> FantasyLogEI:
        """Fantasies of the running trials at features ``x_running``, from ``post`` (fitted on
        ``post.x`` with targets ``z``); ``best`` is the observed incumbent."""
        mean, cov = post.joint(x_running)
        eigval, eigvec = np.linalg.eigh(0.5 * (cov + cov.T))
        root = eigvec * np.sqrt(np.maximum(eigval, 0.0))
        draws = mean[:, None] + root @ rng.standard_normal((len(x_running), n_fantasies))
        targets = np.vstack([np.repeat(z[:, None], n_fantasies, axis=1), draws])
        fantasies = gm.Posterior(np.vstack([post.x, x_running]), targets, post.theta, enc.groups,
                                 post.warp_cols, post.mean)
        return cls(enc, fantasies, np.minimum(best, draws.min(axis=0)), rng)

    def values(self, x: np.ndarray) -> np.ndarray:
        mean, std = self.post.predict(x)
        log_ei = log_h((self.best - mean) / std[:, None]) + np.log(std)[:, None]
        return logsumexp(log_ei, axis=1) - math.log(len(self.best))

    def values_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std, dstd, mixture = self.post.predict_columns_with_grad(x)
        z = (self.best - mean) / std[:, None]
        log_hz = log_h(z)
        log_ei = log_hz + np.log(std)[:, None]
        total = logsumexp(log_ei, axis=1)
        # d log mean_s EI_s = sum_s w_s d log EI_s, w the softmax of log EI_s; d log EI_s =
        # d std / std + h'(z_s) / h(z_s) * (-d mean_s - z_s d std) / std, with h' = Phi
        c = np.exp(log_ei - total[:, None] + log_ndtr(z) - log_hz)
        grad = (dstd * (1.0 - (c * z).sum(axis=1))[:, None] - mixture(c)) / std[:, None]
        return total - math.log(len(self.best)), grad

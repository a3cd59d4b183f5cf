"""Pure numeric core of the GP sampler: Matern-5/2 ARD kernel, marginal-likelihood fit, log EI."""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr

NOISE_FLOOR = 1e-6
_SQRT5 = math.sqrt(5.0)


def matern52(a: np.ndarray, b: np.ndarray, lengths: np.ndarray, variance: float) -> np.ndarray:
    """Matern-5/2 kernel matrix between rows of ``a`` and ``b`` with one length scale per column."""
    diff = (a[:, None, :] - b[None, :, :]) / lengths
    r = np.sqrt(np.maximum(np.sum(diff * diff, axis=-1), 0.0))
    s = _SQRT5 * r
    return variance * (1.0 + s + s * s / 3.0) * np.exp(-s)


def _unpack(theta: np.ndarray) -> tuple[np.ndarray, float, float]:
    return np.exp(theta[:-2]), float(np.exp(theta[-2])), NOISE_FLOOR + float(np.exp(theta[-1]))


def neg_log_posterior(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Negative log marginal likelihood plus log-normal priors on log length scales, variance, noise."""
    lengths, variance, noise = _unpack(theta)
    k = matern52(x, x, lengths, variance) + noise * np.eye(len(x))
    try:
        c = cho_factor(k, lower=True)
    except np.linalg.LinAlgError:
        return 1e25
    alpha = cho_solve(c, y)
    nll = 0.5 * y @ alpha + np.sum(np.log(np.diag(c[0]))) + 0.5 * len(x) * math.log(2 * math.pi)
    prior = 0.5 * np.sum((theta[:-2] - math.log(0.5)) ** 2) / 1.0**2
    prior += 0.5 * theta[-2] ** 2 / 1.0 + 0.5 * (theta[-1] - math.log(1e-2)) ** 2 / 2.0**2
    value = float(nll + prior)
    return value if math.isfinite(value) else 1e25


def fit_hyperparameters(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, restarts: int = 2
) -> np.ndarray:
    """Log-parameters (log lengths..., log variance, log noise) maximizing the penalized likelihood."""
    d = x.shape[1]
    starts = [np.r_[np.full(d, math.log(0.5)), 0.0, math.log(1e-2)]]
    for _ in range(restarts):
        starts.append(np.r_[rng.normal(math.log(0.5), 0.7, d), rng.normal(0, 0.5), math.log(1e-2)])
    bounds = [(math.log(1e-2), math.log(20.0))] * d + [(math.log(1e-2), math.log(20.0)), (-16.0, 0.0)]
    best, best_value = starts[0], math.inf
    for start in starts:
        res = minimize(neg_log_posterior, start, args=(x, y), method="L-BFGS-B", bounds=bounds)
        if np.all(np.isfinite(res.x)) and res.fun < best_value:
            best, best_value = res.x, float(res.fun)
    if not math.isfinite(best_value) or best_value >= 1e25:
        raise np.linalg.LinAlgError("marginal likelihood fit failed")
    return best


class Posterior:
    """The GP posterior for fixed hyperparameters: ``predict(x) -> (mean, std)``."""

    def __init__(self, x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> None:
        self.x = x
        self.lengths, self.variance, noise = _unpack(theta)
        k = matern52(x, x, self.lengths, self.variance) + noise * np.eye(len(x))
        self.chol = cho_factor(k, lower=True)
        self.alpha = cho_solve(self.chol, y)

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = matern52(xs, self.x, self.lengths, self.variance)
        mean = ks @ self.alpha
        v = cho_solve(self.chol, ks.T)
        var = np.maximum(self.variance - np.sum(ks.T * v, axis=0), 1e-12)
        return mean, np.sqrt(var)


def log_ei(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log E[max(best - f, 0)] for f ~ N(mean, std^2) (minimization), stable for very negative z."""
    z = (best - mean) / std
    out = np.empty_like(z)
    hi = z > -1.0
    # z > -1: EI/std = z*Phi(z) + phi(z) computed directly.
    zh = z[hi]
    h = zh * np.exp(log_ndtr(zh)) + np.exp(-0.5 * zh * zh) / math.sqrt(2 * math.pi)
    out[hi] = np.log(np.maximum(h, 1e-300))
    # z <= -1: phi(z) * (1 - |z| * sqrt(pi/2) * erfcx(|z|/sqrt2)), all in log form.
    zl = z[~hi]
    tail = 1.0 - (-zl) * math.sqrt(math.pi / 2) * erfcx(-zl / math.sqrt(2))
    tail = np.where(-zl > 1e3, 1.0 / np.maximum(zl * zl, 1e-300), tail)
    out[~hi] = -0.5 * zl * zl - 0.5 * math.log(2 * math.pi) + np.log(np.maximum(tail, 1e-300))
    return out + np.log(std)

"""Multivariate Parzen estimators on the unit cube: the numeric core of the TPE sampler.

Pure functions on arrays. An estimator is a weighted mixture of product kernels, one kernel per
observed point over all dimensions jointly, plus one *prior* kernel (uniform on the cube). Each
dimension is one of three kinds:

- ``continuous``: a Gaussian in u truncated to [0, 1] (log and reverse_log dimensions are already
  uniform in u, so the kernel respects their scale);
- ``ordinal``: a finite set of bins ``[edges[j], edges[j+1])`` of [0, 1] (integers, stepped floats);
  the kernel gives each bin exactly the mass the truncated Gaussian puts on it, and samples are the
  bin centres;
- ``categorical``: ``n`` unordered values (bin j is ``[j/n, (j+1)/n)``); the kernel puts
  ``1 - eps`` on the observed value and spreads ``eps`` uniformly over all values.

A NaN coordinate (a dimension that was inactive for that point) makes that kernel uniform in that
dimension, exactly like the prior. Densities are with respect to Lebesgue measure in continuous
dimensions and counting measure in discrete ones, so ``log l(x) - log g(x)`` compares like with like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

__all__ = ["DimKind", "Parzen", "fit_parzen", "log_pdf", "sample", "bandwidth_factor"]

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class DimKind:
    """How one dimension is modelled: ``kind`` and, for discrete kinds, the bin edges in [0, 1]."""

    kind: str  # "continuous" | "ordinal" | "categorical"
    edges: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("continuous", "ordinal", "categorical"):
            raise ValueError(f"DimKind: kind must be continuous, ordinal or categorical, got {self.kind!r}")
        if self.kind != "continuous":
            edges = np.asarray(self.edges, dtype=float) if self.edges is not None else None
            if edges is None or edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
                raise ValueError(f"DimKind: a {self.kind} dimension needs increasing bin edges in [0, 1]")
            object.__setattr__(self, "edges", edges)

    @classmethod
    def categorical(cls, n: int) -> DimKind:
        return cls("categorical", np.linspace(0.0, 1.0, n + 1))

    @property
    def n_bins(self) -> int:
        return 0 if self.edges is None else len(self.edges) - 1

    @property
    def centres(self) -> np.ndarray:
        assert self.edges is not None
        return 0.5 * (self.edges[:-1] + self.edges[1:])

    def bin_of(self, u: np.ndarray) -> np.ndarray:
        """The bin index of each u (NaN stays -1)."""
        assert self.edges is not None
        idx = np.searchsorted(self.edges, np.nan_to_num(u, nan=0.0), side="right") - 1
        idx = np.clip(idx, 0, self.n_bins - 1)
        return np.where(np.isnan(u), -1, idx)


@dataclass(frozen=True)
class Parzen:
    """A fitted estimator: kernel ``centres`` (k, d; NaN = uniform there, last row the prior), mixture
    ``log_weights`` (k,), per-dimension Gaussian ``sigma`` and categorical ``eps`` (d,)."""

    dims: tuple[DimKind, ...]
    centres: np.ndarray
    log_weights: np.ndarray
    sigma: np.ndarray
    eps: np.ndarray


def bandwidth_factor(n: int, d: int) -> float:
    """Scott's rate for a d-dimensional product kernel: ``n ** (-1 / (d + 4))``."""
    return float(max(n, 1) ** (-1.0 / (d + 4)))


def fit_parzen(
    points: np.ndarray,
    dims: Sequence[DimKind],
    weights: np.ndarray | None = None,
    *,
    prior_weight: float = 1.0,
    bandwidth: float = 0.3,
    min_bandwidth: float = 0.01,
    smoothing: float = 0.5,
) -> Parzen:
    """Fit l(x) or g(x) to ``points`` (n, d) in [0, 1] (NaN where a dimension was inactive).

    Gaussian bandwidth per dimension: ``max(min_bandwidth, bandwidth * n ** (-1 / (d + 4)))``;
    categorical smoothing ``eps = min(1, smoothing * n ** (-1 / (d + 4)))``. ``weights`` (n,) weigh
    the points (e.g. favouring recent trials); the prior kernel has weight ``prior_weight`` relative
    to the mean point weight.
    """
    points = np.asarray(points, dtype=float).reshape(-1, len(dims))
    n, d = points.shape
    if weights is None:
        weights = np.ones(n)
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (n,) or np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError(f"fit_parzen: weights must be {n} finite numbers >= 0")
    if not prior_weight > 0:
        raise ValueError(f"fit_parzen: prior_weight must be > 0, got {prior_weight}")
    factor = bandwidth_factor(n, max(d, 1))
    sigma = np.full(d, max(min_bandwidth, bandwidth * factor))
    eps = np.full(d, min(1.0, smoothing * factor))
    mean_w = weights.mean() if n else 1.0
    all_w = np.append(weights, prior_weight * mean_w)
    centres = np.vstack([points, np.full((1, d), np.nan)])
    # Discrete centres become bin indices (stored as floats; NaN stays NaN).
    for j, dim in enumerate(dims):
        if dim.kind != "continuous":
            col = centres[:, j]
            centres[:, j] = np.where(np.isnan(col), np.nan, dim.bin_of(col))
    with np.errstate(divide="ignore"):
        log_w = np.log(all_w) - np.log(all_w.sum())
    return Parzen(tuple(dims), centres, log_w, sigma, eps)


def _log_kernel_dim(est: Parzen, j: int, x: np.ndarray) -> np.ndarray:
    """log kernel density of every kernel (k) at every point (m) in dimension j: shape (m, k)."""
    dim = est.dims[j]
    mu = est.centres[:, j]
    inactive = np.isnan(mu)
    if dim.kind == "continuous":
        s = est.sigma[j]
        m = np.nan_to_num(mu, nan=0.5)
        mass = ndtr((1.0 - m) / s) - ndtr(-m / s)  # >= 0.38 since m is in [0, 1] and s <= 1
        z = (x[:, None] - m[None, :]) / s
        out = -0.5 * z**2 - _LOG_SQRT_2PI - np.log(s) - np.log(mass)[None, :]
        return np.where(inactive[None, :], 0.0, out)
    assert dim.edges is not None
    b = dim.bin_of(x)
    if dim.kind == "categorical":
        n = dim.n_bins
        e = est.eps[j]
        same = b[:, None] == mu[None, :]
        p = np.where(same, 1.0 - e + e / n, e / n)
        p = np.where(inactive[None, :], 1.0 / n, p)
        with np.errstate(divide="ignore"):
            return np.log(p)
    # ordinal: mass of bin b under the truncated Gaussian centred on the centre of bin mu
    s = est.sigma[j]
    centres = dim.centres
    m = np.where(inactive, 0.5, centres[np.nan_to_num(mu, nan=0).astype(int)])
    lo = dim.edges[b][:, None]
    hi = dim.edges[b + 1][:, None]
    total = ndtr((1.0 - m) / s) - ndtr(-m / s)
    upper = (hi - m[None, :]) / s
    lower = (lo - m[None, :]) / s
    # Compute the bin mass in the tail where it is accurate (mirror when both ends are above 0).
    flip = lower > 0
    mass = np.where(flip, ndtr(-lower) - ndtr(-upper), ndtr(upper) - ndtr(lower))
    width = (hi - lo)
    p = np.where(inactive[None, :], width, mass / total[None, :])
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(p, 0.0))


def log_pdf(est: Parzen, x: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
    """log density of the estimator at points ``x`` (m, d), over the ``active`` dims of each point.

    A dimension inactive for a point is marginalized out (each kernel's marginal integrates to 1).
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    m, d = x.shape
    if active is None:
        active = ~np.isnan(x)
    total = np.repeat(est.log_weights[None, :], m, axis=0)
    xs = np.nan_to_num(x, nan=0.5)
    for j in range(d):
        if not active[:, j].any():
            continue
        total = total + np.where(active[:, j][:, None], _log_kernel_dim(est, j, xs[:, j]), 0.0)
    return logsumexp(total, axis=1)


def sample(est: Parzen, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` points drawn from the estimator (discrete dimensions at their bin centres)."""
    k, d = est.centres.shape
    comp = rng.choice(k, size=size, p=np.exp(est.log_weights - logsumexp(est.log_weights)))
    out = np.empty((size, d))
    for j, dim in enumerate(est.dims):
        mu = est.centres[comp, j]
        inactive = np.isnan(mu)
        r = rng.random(size)
        if dim.kind == "categorical":
            n = dim.n_bins
            keep = rng.random(size) >= est.eps[j]
            idx = np.where(keep & ~inactive, np.nan_to_num(mu, nan=0).astype(int), rng.integers(0, n, size))
            out[:, j] = dim.centres[idx]
            continue
        s = est.sigma[j]
        if dim.kind == "ordinal":
            m = dim.centres[np.nan_to_num(mu, nan=0).astype(int)]
        else:
            m = np.nan_to_num(mu, nan=0.5)
        lo, hi = ndtr(-m / s), ndtr((1.0 - m) / s)
        z = ndtri(np.clip(lo + r * (hi - lo), 1e-300, 1 - 1e-16))
        u = np.clip(m + s * z, 0.0, 1.0)
        u = np.where(inactive, r, u)
        if dim.kind == "ordinal":
            u = dim.centres[dim.bin_of(u)]
        out[:, j] = u
    return out

"""Pure numeric core of the GP sampler: Matern-5/2 kernel with grouped ARD length scales, the
penalized marginal likelihood with its analytic gradient, the posterior with gradients, log EI.

Feature columns are mapped to *length-scale groups* (``groups[f]`` is the group of column ``f``):
a continuous or integer dimension is one column and one group; the one-hot columns of a choice
share one group, so a choice costs one hyperparameter however many values it has.
Hyperparameters are a vector ``theta = (log lengths per group..., log variance, log noise)``, followed,
when numeric columns are input-warped (``_gp_warp``), by ``log a`` and then ``log b`` of each warped column.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, lapack
from scipy.optimize import minimize
from scipy.special import log_ndtr

from ..stats.ehvi import log_h as _log_h
from . import _gp_warp as _warp
from ._gp_mean import BowlMean

NOISE_FLOOR = 1e-6
_SQRT5 = math.sqrt(5.0)
_LOG_2PI = math.log(2 * math.pi)
_BAD = 1e25


@dataclass(frozen=True)
class Prior:
    """Log-normal priors: log length ~ N(length_mean, length_sd), log variance ~ N(0, variance_sd),
    log noise ~ N(noise_mean, noise_sd)."""

    length_mean: float = math.log(0.5)
    length_sd: float = 1.0
    variance_sd: float = 1.0
    noise_mean: float = math.log(1e-3)
    noise_sd: float = 2.0

    @classmethod
    def for_groups(cls, n_groups: int) -> Prior:
        """The default prior: the expected length grows like sqrt(#groups) (a cube's diameter does)."""
        return cls(length_mean=math.log(0.4) + 0.5 * math.log(max(1, n_groups)), length_sd=1.2)

    def mode(self, n_groups: int, n_warped: int = 0) -> np.ndarray:
        """The prior's mode; with ``n_warped`` warped columns, their identity warps after it."""
        return np.r_[np.full(n_groups, self.length_mean), 0.0, self.noise_mean, np.zeros(2 * n_warped)]

    def bounds(self, n_groups: int, n_warped: int = 0) -> list[tuple[float, float]]:
        kernel = [(math.log(1e-2), math.log(1e2))] * (n_groups + 1) + [(math.log(1e-8), 0.0)]
        return kernel + [_warp.BOUNDS] * (2 * n_warped)


def _identity_groups(n: int) -> np.ndarray:
    return np.arange(n)


def _from_r2(r2: np.ndarray, variance: float) -> tuple[np.ndarray, np.ndarray]:
    """(kernel values, exp(-s)*(1+s)) for squared scaled distances ``r2``."""
    s = _SQRT5 * np.sqrt(np.maximum(r2, 0.0))
    e = np.exp(-s)
    return variance * (1.0 + s + s * s / 3.0) * e, (1.0 + s) * e


def _kernel_of_r2(r2: np.ndarray, variance: float) -> np.ndarray:
    """The kernel values alone for squared scaled distances ``r2`` (>= 0), computed in place of
    ``r2``: the acquisition's hot path, where temporaries cost as much as the arithmetic."""
    s = np.sqrt(r2, out=r2)
    s *= _SQRT5
    k = s * (1.0 / 3.0)
    k += 1.0
    k *= s
    k += 1.0
    np.negative(s, out=s)
    k *= np.exp(s, out=s)
    k *= variance
    return k


def cross_r2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between rows of already-scaled ``a`` and ``b`` (one GEMM)."""
    r2 = a @ b.T
    r2 *= -2.0
    r2 += np.einsum("ij,ij->i", a, a)[:, None]
    r2 += np.einsum("ij,ij->i", b, b)[None, :]
    return np.maximum(r2, 0.0, out=r2)


def matern52(
    a: np.ndarray, b: np.ndarray, lengths: np.ndarray, variance: float, groups: np.ndarray | None = None
) -> np.ndarray:
    """Matern-5/2 kernel matrix between rows of ``a`` and ``b``; column f uses ``lengths[groups[f]]``."""
    g = _identity_groups(a.shape[1]) if groups is None else groups
    scale = 1.0 / np.asarray(lengths)[g]
    return _from_r2(cross_r2(a * scale, b * scale), variance)[0]


@dataclass(frozen=True)
class PairDistances:
    """Squared differences of every pair of rows (i > j) of a feature matrix, summed within each
    length-scale group: ``d2[k, g]`` for the pair ``(rows[k], cols[k])``. The kernel matrix is
    symmetric with a known diagonal, so the likelihood needs only these n(n-1)/2 pairs."""

    n: int
    rows: np.ndarray
    cols: np.ndarray
    d2: np.ndarray
    flat: np.ndarray  # rows * n + cols: the pairs' positions in a C-ordered n x n matrix


def pair_sq_diffs(x: np.ndarray, groups: np.ndarray, n_groups: int) -> PairDistances:
    """The ``PairDistances`` of the rows of ``x`` for the length-scale ``groups`` of its columns."""
    rows, cols = np.tril_indices(len(x), -1)
    diff = x[rows] - x[cols]
    d2 = diff * diff
    if not (n_groups == x.shape[1] and np.array_equal(groups, np.arange(n_groups))):
        summed = np.zeros((len(rows), n_groups))
        for f, g in enumerate(groups):
            summed[:, g] += d2[:, f]
        d2 = summed
    return PairDistances(len(x), rows, cols, d2, rows * len(x) + cols)


def _cholesky(k: np.ndarray) -> np.ndarray | None:
    chol, info = lapack.dpotrf(k, lower=1, clean=1)
    return chol if info == 0 else None


def neg_log_posterior(
    theta: np.ndarray, pairs: PairDistances, y: np.ndarray, prior: Prior
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood plus negative log priors, and its gradient in ``theta``.

    One Cholesky factorization and one inverse per call; ``pairs`` comes from ``pair_sq_diffs``.
    The gradient sums ``W * dK/dtheta`` (``W = K^-1 - alpha alpha^T``) over the lower triangle
    twice plus the diagonal, where only the variance and the noise move the kernel.
    """
    value, grad, _ = _neg_log_posterior_parts(theta, pairs, y, prior)
    return value, grad


def _neg_log_posterior_parts(
    theta: np.ndarray, pairs: PairDistances, y: np.ndarray, prior: Prior
) -> tuple[float, np.ndarray, np.ndarray | None]:
    """``neg_log_posterior`` and, per pair, ``W * dk/d(r^2) / -(5/6 variance)`` (None when it failed)."""
    n, p = pairs.n, pairs.d2.shape[1]
    inv_l2 = np.exp(-2.0 * theta[:p])
    variance, noise_part = math.exp(theta[p]), math.exp(theta[p + 1])
    kf, q = _from_r2(pairs.d2 @ inv_l2, variance)
    k = np.empty((n, n))  # the lower triangle is all the factorization reads
    k.ravel()[pairs.flat] = kf
    k[np.diag_indices(n)] = variance + noise_part + NOISE_FLOOR
    chol = _cholesky(k)
    if chol is None:
        return _BAD, np.zeros_like(theta), None
    alpha = cho_solve((chol, True), y)
    nll = 0.5 * float(y @ alpha) + float(np.sum(np.log(np.diag(chol)))) + 0.5 * n * _LOG_2PI
    kinv, info = lapack.dpotri(chol, lower=1)
    if info != 0:
        return _BAD, np.zeros_like(theta), None
    w_pairs = kinv.ravel()[pairs.flat] - alpha[pairs.rows] * alpha[pairs.cols]
    w_diag_sum = float(np.trace(kinv) - alpha @ alpha)
    wq = w_pairs * q
    grad = np.empty_like(theta)
    grad[:p] = (wq @ pairs.d2) * (variance * 5.0 / 3.0) * inv_l2
    grad[p] = float(w_pairs @ kf) + 0.5 * variance * w_diag_sum
    grad[p + 1] = 0.5 * w_diag_sum * noise_part
    mean = np.r_[np.full(p, prior.length_mean), 0.0, prior.noise_mean]
    sd2 = np.r_[np.full(p, prior.length_sd**2), prior.variance_sd**2, prior.noise_sd**2]
    value = nll + 0.5 * float(np.sum((theta - mean) ** 2 / sd2))
    grad += (theta - mean) / sd2
    if not (math.isfinite(value) and np.all(np.isfinite(grad))):
        return _BAD, np.zeros_like(theta), None
    return value, grad, wq


def neg_log_posterior_warped(
    theta: np.ndarray, x: np.ndarray, pairs: PairDistances, groups: np.ndarray, cols: np.ndarray,
    y: np.ndarray, prior: Prior,
) -> tuple[float, np.ndarray]:
    """``neg_log_posterior`` with the feature columns ``cols`` input-warped (``_gp_warp``), each the
    only column of its length-scale group: ``theta`` is the kernel's hyperparameters, then ``log a``
    and ``log b`` per warped column; ``pairs`` are those of the unwarped ``x``.

    A warp parameter moves every pair distance along its column: with ``A = W * dk/dr^2`` over the
    pairs (symmetric, zero diagonal), the gradient is ``c_f sum_i dw_if (w_if r_i - (A w_f)_i)``, ``r``
    the row sums of ``A`` and ``c_f`` the column's ``-(5/3) variance / l^2``: one product with ``A``.
    """
    n_cols, p = len(cols), pairs.d2.shape[1]
    log_a, log_b = _warp.split(theta[p + 2:], n_cols)
    w, dw_a, dw_b = _warp.kumaraswamy_param_grads(x[:, cols], log_a, log_b)
    d2 = pairs.d2.copy()
    diff = w[pairs.rows] - w[pairs.cols]
    d2[:, groups[cols]] = diff * diff
    value, grad_kernel, wq = _neg_log_posterior_parts(
        theta[:p + 2], PairDistances(pairs.n, pairs.rows, pairs.cols, d2, pairs.flat), y, prior)
    if wq is None:
        return _BAD, np.zeros_like(theta)
    a = np.zeros((pairs.n, pairs.n))
    a.ravel()[pairs.flat] = wq
    a += a.T
    s = w * a.sum(axis=1)[:, None] - a @ w
    c = -(5.0 / 3.0) * math.exp(theta[p]) * np.exp(-2.0 * theta[groups[cols]])
    shapes = theta[p + 2:]
    sd2 = _warp.PRIOR_SD**2
    grad = np.r_[grad_kernel, c * np.sum(s * dw_a, axis=0) + log_a / sd2,
                 c * np.sum(s * dw_b, axis=0) + log_b / sd2]
    value += 0.5 * float(shapes @ shapes) / sd2
    if not (math.isfinite(value) and np.all(np.isfinite(grad))):
        return _BAD, np.zeros_like(theta)
    return value, grad


def _objective(
    x: np.ndarray, pairs: PairDistances, groups: np.ndarray, warp_cols: np.ndarray | None, y: np.ndarray,
    prior: Prior,
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """theta -> (penalized negative log likelihood, gradient): warped when ``warp_cols`` are given."""
    if warp_cols is not None and len(warp_cols):
        cols = np.asarray(warp_cols)
        return lambda theta: neg_log_posterior_warped(theta, x, pairs, groups, cols, y, prior)
    return lambda theta: neg_log_posterior(theta, pairs, y, prior)


def penalized_nll(
    theta: np.ndarray, x: np.ndarray, pairs: PairDistances, y: np.ndarray, prior: Prior,
    groups: np.ndarray, warp_cols: np.ndarray | None,
) -> float:
    """The value of ``neg_log_posterior`` (``pairs``: of the unwarped ``x``), warped when ``theta``
    carries warp parameters."""
    warped = warp_cols is not None and len(theta) > pairs.d2.shape[1] + 2
    return _objective(x, pairs, groups, warp_cols if warped else None, y, prior)(theta)[0]


def fit_hyperparameters(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
    *,
    starts: list[np.ndarray] | None = None,
    restarts: int = 1,
    prior: Prior | None = None,
    pairs: PairDistances | None = None,
    ftol: float | None = None,
    warp_cols: np.ndarray | None = None,
) -> np.ndarray:
    """``theta`` maximizing the penalized marginal likelihood (L-BFGS-B with analytic gradients).

    Starts from the given ``starts`` (e.g. the previous fit; the prior mode when none) and from
    ``restarts`` random draws near the prior mode. ``pairs`` saves recomputing ``pair_sq_diffs(x)``;
    ``ftol`` (L-BFGS-B's relative tolerance on the objective; scipy's default when None) stops early.
    With ``warp_cols`` (feature columns), their input warps are fitted too (``_gp_warp``).
    """
    g = _identity_groups(x.shape[1]) if groups is None else np.asarray(groups)
    p = int(g.max()) + 1 if len(g) else 0
    n_warped = 0 if warp_cols is None else len(warp_cols)
    prior = prior or Prior.for_groups(p)
    bounds = prior.bounds(p, n_warped)
    objective = _objective(x, pairs or pair_sq_diffs(x, g, p), g, warp_cols, y, prior)
    lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    points = [s for s in (starts or []) if len(s) == len(bounds)] or [prior.mode(p, n_warped)]
    for _ in range(restarts):
        points.append(np.r_[rng.normal(prior.length_mean, 0.5 * prior.length_sd, p), rng.normal(0, 0.5),
                            prior.noise_mean, np.zeros(2 * n_warped)])
    best, best_value = points[0], math.inf
    for start in points:
        res = minimize(objective, np.clip(start, lo, hi), jac=True,
                       method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 200, **({"ftol": ftol} if ftol is not None else {})})
        if np.all(np.isfinite(res.x)) and res.fun < best_value:
            best, best_value = res.x, float(res.fun)
    if not math.isfinite(best_value) or best_value >= _BAD:
        raise np.linalg.LinAlgError("marginal likelihood fit failed (kernel matrix not positive definite)")
    return best


class Posterior:
    """The GP posterior for fixed hyperparameters: ``predict`` and ``predict_with_grad``.

    The inverse of the Cholesky factor is formed once, on first use: an acquisition predicts at
    thousands of candidates and then at a few points per optimizer step, and a matrix product per
    call is faster there than triangular solves (several times so for a few points). The prior mean
    is 0 unless a ``mean`` (``_gp_mean.BowlMean``, on the raw features) is given or set by
    ``with_mean``.
    """

    def __init__(
        self, x: np.ndarray, y: np.ndarray, theta: np.ndarray, groups: np.ndarray | None = None,
        warp_cols: np.ndarray | None = None, mean: BowlMean | None = None,
    ) -> None:
        g = _identity_groups(x.shape[1]) if groups is None else np.asarray(groups)
        p = int(g.max()) + 1 if len(g) else 0
        if len(theta) == p + 2 or warp_cols is None or not len(warp_cols):
            p, self.warp_cols = len(theta) - 2, np.empty(0, dtype=int)
        else:  # kernel hyperparameters, then the warps of ``warp_cols`` (``_gp_warp``)
            self.warp_cols = np.asarray(warp_cols, dtype=int)
            if len(theta) != p + 2 + 2 * len(self.warp_cols):
                raise ValueError(f"theta has {len(theta)} entries; expected {p + 2} or "
                                 f"{p + 2 + 2 * len(self.warp_cols)} with warps")
        self.warp = theta[p + 2:]
        self.inv_l = np.exp(-theta[:p])[g]
        self.variance = math.exp(theta[p])
        self.x, self.theta = x, theta
        self.xw = self._warped(x)
        self.xs = self.xw * self.inv_l
        k = _from_r2(cross_r2(self.xs, self.xs), self.variance)[0]
        k[np.diag_indices(len(x))] += NOISE_FLOOR + math.exp(theta[p + 1])
        chol = _cholesky(k)
        if chol is None:
            raise np.linalg.LinAlgError("posterior kernel matrix is not positive definite")
        self.chol, self.y = chol, y
        self.mean = mean
        self.alpha = cho_solve((chol, True), self._residuals())
        self._linv: np.ndarray | None = None

    def with_mean(self, mean: BowlMean) -> Posterior:
        """This posterior with prior mean ``mean`` (the kernel's factorization is reused)."""
        other = copy.copy(self)
        other.mean = mean
        other.alpha = cho_solve((self.chol, True), other._residuals())
        return other

    def _residuals(self) -> np.ndarray:
        if self.mean is None:
            return self.y
        m = self.mean.value(self.x)
        return self.y - (m[:, None] if self.y.ndim == 2 else m)

    def _mean_at(self, xq: np.ndarray) -> np.ndarray | float:
        """The prior mean at ``xq``, one column per target column when there are several."""
        if self.mean is None:
            return 0.0
        m = self.mean.value(xq)
        return m[:, None] if self.alpha.ndim == 2 else m

    def _warped(self, x: np.ndarray) -> np.ndarray:
        return _warp.warped(x, self.warp_cols, self.warp) if len(self.warp_cols) else x

    def _chain(self, xq: np.ndarray, *grads: np.ndarray) -> None:
        """Turn gradients in the warped features into gradients in ``xq`` (in place)."""
        if len(self.warp_cols):
            log_a, log_b = _warp.split(self.warp, len(self.warp_cols))
            slope = _warp.kumaraswamy_slope(xq[:, self.warp_cols], log_a, log_b)
            for grad in grads:
                grad[:, self.warp_cols] *= slope

    @property
    def linv(self) -> np.ndarray:
        """The inverse of the lower Cholesky factor, L^-1."""
        if self._linv is None:
            linv, info = lapack.dtrtri(self.chol, lower=1)
            if info != 0:
                raise np.linalg.LinAlgError("Cholesky factor is singular")
            self._linv = np.tril(linv)
        return self._linv

    def _kernel(self, xq: np.ndarray) -> np.ndarray:
        return _kernel_of_r2(cross_r2(self._warped(xq) * self.inv_l, self.xs), self.variance)

    def _cross(self, xqw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _from_r2(cross_r2(xqw * self.inv_l, self.xs), self.variance)

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = self._kernel(xq)
        mean = ks @ self.alpha + self._mean_at(xq)
        v = ks @ self.linv.T  # row i: L^-1 k_i
        var = np.maximum(self.variance - np.einsum("ij,ij->i", v, v), 1e-12)
        return mean, np.sqrt(var)

    def predict_with_grad(
        self, xq: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(mean, std, d mean / d xq, d std / d xq), the gradients shaped like ``xq``."""
        xqw = self._warped(xq)
        ks, q = self._cross(xqw)
        q = q * (self.variance * 5.0 / 3.0)  # dk/dxq_f = -q * (xq_f - x_f) / l_f^2
        mean = ks @ self.alpha
        v = ks @ self.linv.T  # L^-1 k: the variance from |v|^2 keeps its precision when K is ill-conditioned
        beta = v @ self.linv  # K^-1 k, one row per query
        var_raw = self.variance - np.einsum("ij,ij->i", v, v)
        var = np.maximum(var_raw, 1e-12)
        std = np.sqrt(var)
        il2 = self.inv_l**2
        qa = q * self.alpha
        dmean = -(qa.sum(axis=1)[:, None] * xqw - qa @ self.xw) * il2
        qb = q * beta
        dvar = 2.0 * (qb.sum(axis=1)[:, None] * xqw - qb @ self.xw) * il2
        dstd = np.where((var_raw > 1e-12)[:, None], dvar / (2.0 * std[:, None]), 0.0)
        self._chain(xq, dmean, dstd)
        if self.mean is not None:
            mean, dmean = mean + self.mean.value(xq), dmean + self.mean.gradient(xq)
        return mean, std, dmean, dstd

    def joint(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The posterior mean (m,) and covariance (m, m) of the latent values at ``xq`` jointly."""
        ks = self._kernel(xq)
        v = self.linv @ ks.T
        xqs = self._warped(xq) * self.inv_l
        prior = _kernel_of_r2(cross_r2(xqs, xqs), self.variance)
        return ks @ self.alpha + self._mean_at(xq), prior - v.T @ v

    def predict_columns_with_grad(
        self, xq: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """For targets of several columns (``y`` (n, S), one posterior per column sharing the
        kernel): (means (m, S), std, d std / d xq, ``mixture``), where ``mixture(w)`` is
        sum_s w[:, s] * d mean_s / d xq."""
        xqw = self._warped(xq)
        ks, q = self._cross(xqw)
        q = q * (self.variance * 5.0 / 3.0)
        v = ks @ self.linv.T
        beta = v @ self.linv
        var_raw = self.variance - np.einsum("ij,ij->i", v, v)
        std = np.sqrt(np.maximum(var_raw, 1e-12))
        il2 = self.inv_l**2
        qb = q * beta
        dvar = 2.0 * (qb.sum(axis=1)[:, None] * xqw - qb @ self.xw) * il2
        dstd = np.where((var_raw > 1e-12)[:, None], dvar / (2.0 * std[:, None]), 0.0)
        self._chain(xq, dstd)

        def mixture(weights: np.ndarray) -> np.ndarray:
            qa = q * (weights @ self.alpha.T)
            dmean = -(qa.sum(axis=1)[:, None] * xqw - qa @ self.xw) * il2
            self._chain(xq, dmean)
            if self.mean is not None:
                dmean += weights.sum(axis=1)[:, None] * self.mean.gradient(xq)
            return dmean

        return ks @ self.alpha + self._mean_at(xq), std, dstd, mixture


def log_ei(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log E[max(best - f, 0)] for f ~ N(mean, std^2) (minimization), stable for very negative z."""
    return _log_h((best - mean) / std) + np.log(std)


def log_ei_with_grad(
    mean: np.ndarray, std: np.ndarray, dmean: np.ndarray, dstd: np.ndarray, best: float
) -> tuple[np.ndarray, np.ndarray]:
    """log EI and its gradient, from the posterior's values and gradients (``predict_with_grad``)."""
    z = (best - mean) / std
    log_h = _log_h(z)
    ratio = np.exp(log_ndtr(z) - log_h)  # h'(z) / h(z), h'(z) = Phi(z)
    dz = (-dmean - z[:, None] * dstd) / std[:, None]
    return log_h + np.log(std), dstd / std[:, None] + ratio[:, None] * dz

"""Input warping for the GP: each numeric feature column passes through a Kumaraswamy CDF,
``w(x) = 1 - (1 - x^a)^b``, whose shapes ``a, b`` are fitted with the kernel's hyperparameters.

A stationary kernel assumes the objective varies as fast everywhere along a dimension. Many do not:
a forest's error changes a lot from 1 to 5 trees and hardly from 30 to 50, a learning rate matters
most near one end. ``a < 1`` stretches the low end of a column, ``b < 1`` the high end, and
``a = b = 1`` is the identity, which the prior (log-normal around 1) prefers until the data say
otherwise. Parameters are ``log a`` then ``log b``, one per warped column, after the kernel's.
"""

from __future__ import annotations

import math

import numpy as np

#: Coordinates are kept this far inside (0, 1), where ``log x`` and ``log(1 - x^a)`` are finite.
EDGE = 1e-6
#: The prior on each ``log a`` and ``log b``: N(0, PRIOR_SD^2) (a shape of 1/3 or 3 is 1.5 SD away).
PRIOR_SD = 0.75
#: The bounds of ``log a`` and ``log b``.
BOUNDS = (math.log(0.2), math.log(5.0))


def split(params: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(log a, log b) of the warp parameters of ``n_cols`` columns."""
    return params[:n_cols], params[n_cols:2 * n_cols]


def kumaraswamy(x: np.ndarray, log_a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    """The warped coordinates of ``x`` (columns matching ``log_a`` and ``log_b``)."""
    t = np.clip(x, EDGE, 1.0 - EDGE) ** np.exp(log_a)
    return 1.0 - (1.0 - t) ** np.exp(log_b)


def kumaraswamy_slope(x: np.ndarray, log_a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    """d w / d x at ``x`` (zero where ``x`` is clipped at an edge)."""
    a, b = np.exp(log_a), np.exp(log_b)
    xc = np.clip(x, EDGE, 1.0 - EDGE)
    t = xc**a
    slope = a * b * t / xc * (1.0 - t) ** (b - 1.0)
    return np.where((x > EDGE) & (x < 1.0 - EDGE), slope, 0.0)


def kumaraswamy_param_grads(
    x: np.ndarray, log_a: np.ndarray, log_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w, d w / d log a, d w / d log b) at ``x``."""
    a, b = np.exp(log_a), np.exp(log_b)
    xc = np.clip(x, EDGE, 1.0 - EDGE)
    t = xc**a
    one_minus = 1.0 - t
    power = one_minus**b
    d_log_a = b * one_minus ** (b - 1.0) * t * np.log(xc) * a
    d_log_b = -power * np.log(one_minus) * b
    return 1.0 - power, d_log_a, d_log_b


def warped(x: np.ndarray, cols: np.ndarray, params: np.ndarray) -> np.ndarray:
    """A copy of features ``x`` with columns ``cols`` warped by ``params``."""
    out = np.array(x, dtype=float)
    if len(cols):
        log_a, log_b = split(params, len(cols))
        out[:, cols] = kumaraswamy(out[:, cols], log_a, log_b)
    return out

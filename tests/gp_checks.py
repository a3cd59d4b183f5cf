"""Checks the GP tests share: a posterior's gradients against central finite differences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shoal.samplers import _gp_math as gm

EPS = 1e-6


def central_difference(f: Callable[[np.ndarray], np.ndarray], xq: np.ndarray, f_index: int) -> np.ndarray:
    """(f(xq + eps e_f) - f(xq - eps e_f)) / 2 eps, for ``f`` mapping rows to values."""
    step = np.zeros(xq.shape[1])
    step[f_index] = EPS
    return (f(xq + step) - f(xq - step)) / (2 * EPS)


def assert_posterior_gradients(post: gm.Posterior, xq: np.ndarray) -> tuple[np.ndarray, ...]:
    """``predict_with_grad`` agrees with ``predict`` and its gradients with finite differences;
    returns its (mean, std, d mean, d std)."""
    mean, std, dmean, dstd = post.predict_with_grad(xq)
    assert np.allclose((mean, std), post.predict(xq))
    for f in range(xq.shape[1]):
        assert np.allclose(dmean[:, f], central_difference(lambda q: post.predict(q)[0], xq, f), atol=1e-6)
        assert np.allclose(dstd[:, f], central_difference(lambda q: post.predict(q)[1], xq, f), atol=1e-6)
    return mean, std, dmean, dstd

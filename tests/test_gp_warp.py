"""Input warping of the GP's integer columns (``_gp_warp``): the Kumaraswamy map, the warped
likelihood's gradient, the warped posterior's gradients, and what the fit learns."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gp_checks import assert_posterior_gradients, central_difference
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime

import shoal
from shoal.samplers import _gp_math as gm
from shoal.samplers import _gp_warp as warp
from shoal.samplers._gp_space import Encoder


def _problem(n: int = 25) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features of two numeric columns and a two-value choice; the first two are warped."""
    rng = np.random.default_rng(2)
    x = np.zeros((n, 4))
    x[:, :2] = rng.random((n, 2))
    x[np.arange(n), 2 + rng.integers(2, size=n)] = 1 / math.sqrt(2)
    y = np.sin(5 * x[:, 0]) + x[:, 1] + x[:, 2]
    return x, (y - y.mean()) / y.std(), np.array([0, 1, 2, 2]), np.array([0, 1])


THETA = np.r_[np.log([0.3, 0.7, 1.2]), 0.2, math.log(1e-2), 0.3, -0.4, -0.2, 0.5]


@settings(max_examples=50, deadline=None)
@given(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_kumaraswamy_is_an_increasing_map_of_the_unit_interval(log_a: float, log_b: float) -> None:
    x = np.linspace(0.0, 1.0, 201)
    w = warp.kumaraswamy(x, np.array(log_a), np.array(log_b))
    assert np.all(np.diff(w) >= 0) and np.all((w >= 0) & (w <= 1))
    assert w[-1] > w[0]
    identity = warp.kumaraswamy(x, np.array(0.0), np.array(0.0))
    assert np.allclose(identity, np.clip(x, warp.EDGE, 1 - warp.EDGE))
    inner = np.linspace(0.05, 0.95, 19)
    eps = 1e-6
    up, down = warp.kumaraswamy(inner + eps, log_a, log_b), warp.kumaraswamy(inner - eps, log_a, log_b)
    numeric = (up - down) / (2 * eps)
    assert np.allclose(warp.kumaraswamy_slope(inner, np.array(log_a), np.array(log_b)), numeric, rtol=1e-4)


def test_identity_warp_changes_nothing() -> None:
    x, y, groups, cols = _problem()
    prior = gm.Prior.for_groups(3)
    pairs = gm.pair_sq_diffs(x, groups, 3)
    kernel = THETA[:5]
    identity = np.r_[kernel, np.zeros(4)]
    plain = gm.neg_log_posterior(kernel, pairs, y, prior)[0]
    assert gm.neg_log_posterior_warped(identity, x, pairs, groups, cols, y, prior)[0] == pytest.approx(plain)
    xq = np.random.default_rng(3).random((6, 4))
    assert np.allclose(gm.Posterior(x, y, identity, groups, cols).predict(xq),
                       gm.Posterior(x, y, kernel, groups, cols).predict(xq))


def test_warped_likelihood_gradient_matches_finite_differences() -> None:
    x, y, groups, cols = _problem()
    prior = gm.Prior.for_groups(3)
    pairs = gm.pair_sq_diffs(x, groups, 3)
    value, grad = gm.neg_log_posterior_warped(THETA, x, pairs, groups, cols, y, prior)
    numeric = approx_fprime(
        THETA, lambda t: gm.neg_log_posterior_warped(t, x, pairs, groups, cols, y, prior)[0], 1e-6)
    assert np.isfinite(value)
    assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-4)
    assert np.all(np.abs(grad[5:]) > 1e-3)  # the warp parameters do move the likelihood


def test_warped_posterior_gradients_match_finite_differences() -> None:
    x, y, groups, cols = _problem()
    post = gm.Posterior(x, y, THETA, groups, cols)
    columns = gm.Posterior(x, np.column_stack([y, -y]), THETA, groups, cols)
    xq = np.random.default_rng(3).random((6, 4))
    _, _, _, dstd = assert_posterior_gradients(post, xq)
    _, _, dstd_c, mixture = columns.predict_columns_with_grad(xq)
    weights = np.tile([0.25, 0.75], (len(xq), 1))
    dmix = mixture(weights)
    for f in range(4):
        assert np.allclose(dstd_c[:, f], dstd[:, f], atol=1e-9)
        mixed = central_difference(lambda q: np.sum(columns.predict(q)[0] * weights, axis=1), xq, f)
        assert np.allclose(dmix[:, f], mixed, atol=1e-6)


def test_the_fit_stretches_the_low_end_of_a_count_with_diminishing_returns() -> None:
    """An error that falls steeply over the first few trees and then hardly moves (like a forest's):
    the fitted warp stretches the low end (a < 1), and explains the data better than no warp."""
    space = shoal.Space({"n_trees": shoal.Int(1, 100), "lr": shoal.Float(0.0, 1.0)})
    enc = Encoder(space)
    assert enc.warp_cols.tolist() == [enc.feature_of[0], enc.feature_of[1]]  # every numeric column
    rng = np.random.default_rng(0)
    unit = rng.random((40, 2))
    u, active = enc.canonical(unit)
    x = enc.features(u, active)
    trees = np.array([space.decode(row)[0]["n_trees"] for row in unit])
    y = 1.0 / np.sqrt(trees) + 0.3 * (u[:, 1] - 0.5) ** 2
    z = (y - y.mean()) / y.std()
    prior = gm.Prior.for_groups(enc.n_groups)
    pairs = gm.pair_sq_diffs(x, enc.groups, enc.n_groups)
    theta = gm.fit_hyperparameters(x, z, rng, enc.groups, restarts=0, prior=prior, warp_cols=enc.warp_cols)
    log_a, _ = warp.split(theta[enc.n_groups + 2:], 1)
    assert log_a[0] < math.log(0.7)
    plain = gm.fit_hyperparameters(x, z, rng, enc.groups, restarts=0, prior=prior)
    assert (gm.penalized_nll(theta, x, pairs, z, prior, enc.groups, enc.warp_cols)
            < gm.penalized_nll(plain, x, pairs, z, prior, enc.groups, None) - 1.0)

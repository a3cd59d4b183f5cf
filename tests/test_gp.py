"""GP sampler: numeric core (kernel, likelihood gradient, posterior, log EI), the space encoding,
and behaviour through a real Study (quality, parallel asks, discrete and conditional spaces, faults)."""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np
import pytest
from gp_checks import assert_posterior_gradients, central_difference
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime
from scipy.stats import multivariate_normal, norm

import shoal
from shoal.samplers import _gp_math as gm
from shoal.samplers._gp_mean import BowlMean, fit_bowl
from shoal.samplers._gp_space import Encoder
from shoal.samplers.base import SamplingContext
from shoal.samplers.gp import GP, fit_targets, output_transforms, warp, warp_with_jacobian
from shoal.trial import Trial, TrialState


def fast_gp(seed: int, **kwargs: Any) -> GP:
    return GP(n_candidates=256, seed=seed, **kwargs)


# -- numeric core -------------------------------------------------------------------------------
def test_kernel_symmetric_psd_and_known_values() -> None:
    x = np.random.default_rng(0).random((20, 3))
    k = gm.matern52(x, x, np.array([0.3, 0.5, 1.0]), 2.0)
    assert np.allclose(k, k.T)
    assert np.linalg.eigvalsh(k).min() > -1e-9
    assert np.allclose(np.diag(k), 2.0)
    a, b = np.zeros((1, 1)), np.ones((1, 1))
    s = math.sqrt(5.0)
    assert gm.matern52(a, b, np.array([1.0]), 1.0)[0, 0] == pytest.approx((1 + s + 5 / 3) * math.exp(-s))
    # Grouped columns share one length scale: same as giving it to each column.
    x4 = np.random.default_rng(1).random((6, 4))
    grouped = gm.matern52(x4, x4, np.array([0.4, 0.9]), 1.0, groups=np.array([0, 1, 1, 0]))
    assert np.allclose(grouped, gm.matern52(x4, x4, np.array([0.4, 0.9, 0.9, 0.4]), 1.0))


def _problem(n: int = 25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    x = np.zeros((n, 4))
    x[:, :2] = rng.random((n, 2))
    x[np.arange(n), 2 + rng.integers(2, size=n)] = 1 / math.sqrt(2)  # a two-value choice, one-hot
    y = np.sin(5 * x[:, 0]) + x[:, 1] + x[:, 2]
    return x, (y - y.mean()) / y.std(), np.array([0, 1, 2, 2])


def test_likelihood_gradient_matches_finite_differences() -> None:
    x, y, groups = _problem()
    prior = gm.Prior.for_groups(3)
    pairs = gm.pair_sq_diffs(x, groups, 3)
    theta = np.r_[np.log([0.3, 0.7, 1.2]), 0.2, math.log(1e-2)]
    value, grad = gm.neg_log_posterior(theta, pairs, y, prior)
    numeric = approx_fprime(theta, lambda t: gm.neg_log_posterior(t, pairs, y, prior)[0], 1e-6)
    assert np.isfinite(value)
    assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_likelihood_on_pairs_equals_the_gaussian_density_of_the_full_kernel_matrix() -> None:
    x, y, groups = _problem()
    prior = gm.Prior(length_sd=1e6, variance_sd=1e6, noise_sd=1e6)  # flat: the likelihood alone
    theta = np.r_[np.log([0.3, 0.7, 1.2]), 0.2, math.log(1e-2)]
    k = gm.matern52(x, x, np.exp(theta[:3]), math.exp(0.2), groups)
    k[np.diag_indices(len(x))] += 1e-2 + gm.NOISE_FLOOR
    expected = -multivariate_normal(np.zeros(len(y)), k).logpdf(y)
    value, _ = gm.neg_log_posterior(theta, gm.pair_sq_diffs(x, groups, 3), y, prior)
    assert value == pytest.approx(expected, abs=1e-6)


def _white_linv(x: np.ndarray) -> np.ndarray:
    """L^-1 of a nearly white kernel matrix at ``x``: its GLS is ordinary least squares."""
    k = gm.matern52(x, x, np.full(x.shape[1], 0.05), 1e-6)
    k[np.diag_indices(len(x))] += 1e-2
    return np.linalg.inv(np.linalg.cholesky(k))


def test_the_bowl_mean_recovers_its_depth_and_never_bends_down() -> None:
    x = np.random.default_rng(0).random((40, 3))
    linv, cols = _white_linv(x), np.array([0, 1, 2])
    bowl = fit_bowl(linv, x, 2.0 + 3.0 * ((x - 0.5) ** 2).sum(axis=1), cols)
    assert bowl.level == pytest.approx(2.0) and bowl.curvature == pytest.approx(3.0)
    centre, corner = np.full((1, 3), 0.5), np.zeros((1, 3))
    assert bowl.value(corner)[0] == pytest.approx(2.0 + 3.0 * 0.75)
    assert np.allclose(bowl.gradient(centre), 0.0)
    dome = fit_bowl(linv, x, -4.0 * ((x - 0.5) ** 2).sum(axis=1), cols)  # best on the faces
    assert dome.curvature == pytest.approx(0.0, abs=1e-9)
    only_x = fit_bowl(linv, x, 5.0 * (x[:, 0] - 0.5) ** 2, np.array([0]))  # other columns left out
    assert only_x.curvature == pytest.approx(5.0) and np.allclose(only_x.gradient(x)[:, 1:], 0.0)


def test_far_from_the_data_the_posterior_reverts_to_the_bowl_and_its_gradients_hold() -> None:
    x, y, groups = _problem()
    theta = np.r_[np.log([0.1, 0.1, 1.2]), 0.0, math.log(1e-2)]
    bowl = BowlMean(np.array([0, 1]), 0.5, 4.0)
    post = gm.Posterior(x, y, theta, groups).with_mean(bowl)
    far = np.array([[-3.0, -3.0, 1 / math.sqrt(2), 0.0], [4.0, 4.0, 0.0, 1 / math.sqrt(2)]])
    assert np.allclose(post.predict(far)[0], bowl.value(far), atol=1e-6)
    assert np.allclose(post.predict(x)[0], gm.Posterior(x, y, theta, groups, mean=bowl).predict(x)[0])
    assert not np.allclose(post.predict(x)[0], gm.Posterior(x, y, theta, groups).predict(x)[0])
    assert_posterior_gradients(post, np.random.default_rng(4).random((5, 4)))


def _rippled_bowl(c: dict[str, Any]) -> float:
    """A bowl with ripples in 5-d, its optimum well inside the box."""
    u = np.array([c[f"x{i}"] for i in range(5)]) - 0.37
    return float(np.sum(u**2 - 0.02 * np.cos(6 * math.pi * u)))


def test_proposals_rarely_sit_on_a_bound_when_the_optimum_is_inside() -> None:
    space = {f"x{i}": shoal.Float(0, 1) for i in range(5)}
    study = shoal.Study("bounds", space, sampler=fast_gp(0))
    study.optimize(_rippled_bowl, n_trials=40)  # with a flat mean 12-14 of 34 proposals were on a bound
    model = [t for t in study.trials if "log EI" in (t.proposed_by or "")]
    assert all("bowl mean" in t.proposed_by for t in model)
    on_bound = [t for t in model if any(v in (0.0, 1.0) for v in t.config.values())]
    assert len(on_bound) < len(model) / 6, f"{len(on_bound)} of {len(model)} proposals on a bound"


def test_tied_values_keep_the_mean_flat_and_say_so() -> None:
    space = {f"x{i}": shoal.Float(0, 1) for i in range(5)}
    study = shoal.Study("steps", space, sampler=fast_gp(0))
    calls = iter(range(10**6))

    def coarser_later(c: dict[str, Any]) -> float:  # distinct values, then a stepped objective
        return _rippled_bowl(c) if next(calls) < 10 else round(_rippled_bowl(c))

    study.optimize(coarser_later, n_trials=20)
    values = [t.value for t in study.trials]
    tied_at = next(i for i in range(len(values)) if values[i] in values[:i])
    model = [t for t in study.trials if "log EI" in (t.proposed_by or "")]
    kinds = ["flat mean" if t.number > tied_at else "bowl mean" for t in model]
    assert {"flat mean", "bowl mean"} <= set(kinds)
    assert all(kind in t.proposed_by for kind, t in zip(kinds, model, strict=True))


def test_failed_and_diverged_trials_do_not_count_as_ties() -> None:
    space = {f"x{i}": shoal.Float(0, 1) for i in range(5)}
    study = shoal.Study("fails", space, sampler=fast_gp(0))
    calls = iter(range(10**6))

    def sometimes_broken(c: dict[str, Any]) -> float:
        k = next(calls)
        if k in (3, 8):
            raise FloatingPointError("diverged")
        return math.nan if k in (4, 9) else _rippled_bowl(c)

    study.optimize(sometimes_broken, n_trials=16)
    assert sum(t.state == TrialState.FAILED for t in study.trials) == 4  # a NaN fails the trial too
    model = [t for t in study.trials if "log EI" in (t.proposed_by or "")]
    assert model and all("bowl mean" in t.proposed_by for t in model)


def test_beyond_a_hundred_points_hyperparameters_are_refitted_once_the_data_grew_five_percent() -> None:
    space = shoal.Space({f"x{i}": shoal.Float(0, 1) for i in range(3)})
    enc, rng, cache = Encoder(space), np.random.default_rng(0), {}
    x = rng.random((130, 3))
    y = np.sin(6 * x[:, 0]) + x[:, 1] ** 2 + 0.1 * rng.normal(size=130)

    def fit(n: int, refit: bool = False) -> np.ndarray:
        return fit_targets(x[:n], y[:n], enc, rng, cache, ("s",), refit=refit)[1]

    small = fit(50)
    assert not np.array_equal(fit(51), small)  # few points: every ask fits again
    first = fit(110)
    assert np.array_equal(fit(115, refit=True), first)  # 115 < 1.05 * 110, even on a refit ask
    assert not np.array_equal(fit(116), first)  # 116 >= 115.5: fitted again
    # fitted on a subset (max_points), the study's own growth decides
    subset = fit_targets(x[:120], y[:120], enc, rng, cache, ("t",), refit=False, seen=400).theta
    same = fit_targets(x[:120], 2 * y[:120], enc, rng, cache, ("t",), refit=False, seen=419)
    assert np.array_equal(same.theta, subset) and same.fitted_on == 400
    again = fit_targets(x[:120], 2 * y[:120] + x[:120, 1], enc, rng, cache, ("t",), refit=False, seen=420)
    assert again.fitted_on == 420 and not np.array_equal(again.theta, subset)


def test_posterior_and_log_ei_gradients_match_finite_differences() -> None:
    x, y, groups = _problem()
    post = gm.Posterior(x, y, np.r_[np.log([0.3, 0.7, 1.2]), 0.2, math.log(1e-2)], groups)
    xq = np.random.default_rng(3).random((6, 4))
    mean, std, dmean, dstd = assert_posterior_gradients(post, xq)
    best = float(y.min())
    _, grad = gm.log_ei_with_grad(mean, std, dmean, dstd, best)
    for f in range(4):
        numeric = central_difference(lambda q: gm.log_ei(*post.predict(q), best), xq, f)
        assert np.allclose(grad[:, f], numeric, rtol=1e-4, atol=1e-5)


def test_posterior_keeps_the_textbook_values_when_the_kernel_matrix_is_ill_conditioned() -> None:
    """Near-duplicate points and almost no noise (condition number ~1e8): every prediction path, which
    works from the inverse Cholesky factor, agrees with solves on the full kernel matrix."""
    rng = np.random.default_rng(0)
    x = rng.random((200, 3))
    x[150:] = x[:50] + 1e-7 * rng.standard_normal((50, 3))
    y = np.sin(6 * x[:, 0]) + x[:, 1]
    theta = np.r_[np.log([0.3, 0.5, 1.0]), 0.0, math.log(1e-8)]
    k = gm.matern52(x, x, np.exp(theta[:3]), 1.0)
    k[np.diag_indices(len(x))] += gm.NOISE_FLOOR + 1e-8
    assert np.linalg.cond(k) > 1e7
    xq = np.vstack([rng.random((20, 3)), x[:10] + 1e-9])  # some queries on top of the data
    ks = gm.matern52(xq, x, np.exp(theta[:3]), 1.0)
    solved = np.linalg.solve(k, np.column_stack([y, ks.T]))
    mean, var = ks @ solved[:, 0], np.maximum(1.0 - np.sum(ks.T * solved[:, 1:], axis=0), 1e-12)
    post = gm.Posterior(x, y, theta)
    for got_mean, got_std in (post.predict(xq), post.predict_with_grad(xq)[:2],
                              post.predict_columns_with_grad(xq)[:2]):
        assert np.allclose(got_mean.reshape(-1), mean, rtol=0, atol=1e-10)
        assert np.allclose(got_std**2, var, rtol=0, atol=1e-12)
    joint_mean, cov = post.joint(xq)
    assert np.allclose(joint_mean, mean, atol=1e-10) and np.allclose(np.diag(cov), var, atol=1e-10)


def test_fit_finds_short_length_scale_on_fast_dimension() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((40, 2))
    y = np.sin(12 * x[:, 0]) + 0.05 * x[:, 1]
    theta = gm.fit_hyperparameters(x, (y - y.mean()) / y.std(), rng)
    lengths = np.exp(theta[:2])
    assert lengths[0] < 0.5 * lengths[1]


def test_log_ei_matches_and_stays_finite() -> None:
    mean, std = np.array([0.0, 0.5, -0.3]), np.array([1.0, 0.2, 2.0])
    z = (0.1 - mean) / std
    ei = std * (z * norm.cdf(z) + norm.pdf(z))
    assert np.allclose(gm.log_ei(mean, std, 0.1), np.log(ei))
    far = gm.log_ei(np.array([5.0, 50.0, 1e4]), np.array([0.1, 0.1, 0.1]), 0.0)
    assert np.all(np.isfinite(far)) and far[0] > far[1] > far[2]
    # z = -50: matches the asymptotic log(phi(z) / z^2) * std closely.
    expected = -0.5 * 2500 - 0.5 * math.log(2 * math.pi) - math.log(2500) + math.log(0.1)
    assert far[0] == pytest.approx(expected, abs=1e-2)


def test_warp_keeps_order_and_tames_a_diverged_value() -> None:
    y = np.array([0.3, 0.5, 0.2, 0.9, 0.4, 0.35, 1e9])
    z = warp(y)
    assert np.array_equal(np.argsort(z), np.argsort(y))
    assert abs(z.mean()) < 1e-12 and z.std() == pytest.approx(1.0)
    # The outlier does not squash the others together: they still spread over a wide range.
    assert np.ptp(z[:-1]) > 1.0 and z[-1] < 4.0
    assert np.allclose(warp(np.array([1.0, 1.0, 1.0, 2.0])), warp(np.array([5.0, 5.0, 5.0, 7.0])))


def test_warp_jacobian_matches_finite_differences() -> None:
    y = np.array([0.3, 0.5, 0.2, 0.9, 0.4, 0.35, 7.0, 1e3])
    z, log_jac = warp_with_jacobian(y.copy())
    assert np.allclose(z, warp(y.copy()))
    # The centre and scales held fixed, each z_i depends on y_i alone: difference elementwise.
    q75, q25 = np.percentile(y, [75, 25])
    scale, centre = (q75 - q25) / 1.349, np.median(y)

    def elementwise(v: np.ndarray) -> np.ndarray:
        u = (v - centre) / scale
        return np.where(u > 2.0, 2.0 + 4.0 * np.tanh(np.log1p(np.maximum(u, 2.0) - 2.0) / 4.0), u)

    u = elementwise(y)
    h = 1e-6 * np.maximum(1.0, np.abs(y))
    slopes = (elementwise(y + h) - elementwise(y - h)) / (2 * h) / u.std()
    assert log_jac == pytest.approx(float(np.sum(np.log(slopes))), rel=1e-5)


def test_output_transforms_offer_log_only_for_positive_values() -> None:
    assert [name for name, *_ in output_transforms(np.array([1.0, 10.0, 1e4]))] == ["identity", "log"]
    assert [name for name, *_ in output_transforms(np.array([-1.0, 10.0, 1e4]))] == ["identity"]
    assert [name for name, *_ in output_transforms(np.array([0.0, 10.0, 1e4]))] == ["identity"]
    _, logged, log_jac = output_transforms(np.array([1.0, math.e, 10.0]))[1]
    assert np.allclose(logged, [0.0, 1.0, math.log(10.0)])
    assert log_jac == pytest.approx(-(1.0 + math.log(10.0)))


def _fit_choice(f: Any, seed: int = 0) -> str:
    """Which output transform the sampler models ``f``'s values in, after 40 random trials in 4-d."""
    space = shoal.Space({f"x{i}": shoal.Float(-1, 1) for i in range(4)})
    sampler = fast_gp(seed)
    trials = _history(space, 40, f, seed)
    enc = sampler._encoder_for(space)
    u, act = enc.from_trials(trials)
    y = np.array([t.value for t in trials])
    ctx = _ctx(space, trials, 40)
    fit = sampler._fit(ctx, enc, enc.features(u, act), y, np.random.default_rng(0))
    assert np.allclose(fit.z, warp(np.log(y) if fit.transform == "log" else y))
    return fit.transform


def test_likelihood_picks_log_for_a_multiplicative_scale_and_identity_for_an_additive_one() -> None:
    def growth(c: dict) -> float:  # values over 7 orders of magnitude, a plane in log
        return math.exp(2.0 * (c["x0"] + c["x1"] + c["x2"] + c["x3"]))

    def plane(c: dict) -> float:  # a plane, positive: log would bend it
        return 10.0 + c["x0"] + c["x1"] + c["x2"] + c["x3"]

    assert _fit_choice(growth) == "log"
    assert _fit_choice(plane) == "identity"


def test_no_proposal_within_a_hair_of_a_tried_point() -> None:
    # A minimum on the boundary: the model's best guess is the corner the history already holds.
    space = shoal.Space({"x": shoal.Float(0, 1), "y": shoal.Float(0, 1)})
    trials = _history(space, 12, lambda c: 1.0 + c["x"] + c["y"])
    corner, unit = space.decode(np.zeros(2))
    trials.append(Trial(12, TrialState.COMPLETE, corner, unit, value=1.0))
    sampler = fast_gp(0)
    for k in range(5):
        p = sampler.propose(_ctx(space, trials, 13 + k))
        tried = np.array([[t.unit["x"], t.unit["y"]] for t in trials])
        assert np.abs(tried - p.unit).max(axis=1).min() >= 1e-3
        config, unit = space.decode(p.unit)
        trials.append(Trial(13 + k, TrialState.COMPLETE, config, unit, value=1.0 + p.unit.sum()))


# -- the space encoding -------------------------------------------------------------------------
MIXED = shoal.Space({
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "n": shoal.Int(1, 4),
    "layers": shoal.Int(1, 100, scale="log"),
    "opt": shoal.Choice(["adam", "sgd", "rmsprop"]),
    "beta": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
    "const": shoal.Fixed(3),
})


def test_encoder_snaps_discrete_values_and_one_hots_choices() -> None:
    enc = Encoder(MIXED)
    u, active = enc.canonical(np.array([[0.3, 0.3, 0.61, 0.5, 0.2, 0.9], [0.3, 0.99, 0.61, 0.1, 0.2, 0.1]]))
    config, _ = MIXED.decode(u[0])
    assert u[0, 1] == pytest.approx(MIXED["n"].to_unit(config["n"]))
    assert u[0, 2] == pytest.approx(MIXED["layers"].to_unit(config["layers"]))
    assert config["opt"] == "sgd" and not active[0, 4] and u[0, 4] == 0.5  # beta inactive
    assert active[1, 4] and u[1, 4] == 0.2  # adam: beta active, kept as is
    assert MIXED.decode(u[1])[0] == MIXED.decode(np.array([0.3, 0.99, 0.61, 0.1, 0.2, 0.9]))[0]
    x = enc.features(u, active)
    # lr, n, layers, 3 one-hot, beta, one "active" column; Fixed is left out.
    assert x.shape == (2, 8) and enc.n_groups == 6
    h = 1 / math.sqrt(2)
    assert np.allclose(x[0, 3:6], [0, h, 0]) and np.allclose(x[1, 3:6], [h, 0, 0])
    assert x[0, 7] == 0 and x[1, 7] == 1
    assert set(np.round(enc.centres(1), 6)) == {0.125, 0.375, 0.625, 0.875}


def test_snapping_matches_the_dimensions_own_maps() -> None:
    space = shoal.Space({"a": shoal.Int(1, 1000, scale="log"), "b": shoal.Int(0, 10**6, step=5),
                         "c": shoal.Float(0.0, 1.0, step=0.1)})
    enc = Encoder(space)
    u = np.random.default_rng(4).random((300, 3))
    snapped, _ = enc.canonical(u)
    for row, raw in zip(snapped, u, strict=True):
        config, _ = space.decode(raw)
        assert space.decode(row)[0] == config  # same values: snapping never rounds to a neighbour
        assert np.allclose(row, [space[n].to_unit(config[n]) for n in ("a", "b", "c")])
    log_centres = enc.centres(0)
    assert len(log_centres) == 1000 and {space["a"].from_unit(c) for c in log_centres} == set(range(1, 1001))
    assert len(enc.centres(1, limit=64)) <= 64


def test_inactive_coordinates_do_not_reach_the_model() -> None:
    """Two trials that differ only in an inactive coordinate look the same to the GP."""
    enc = Encoder(MIXED)
    rows = np.array([[0.3, 0.3, 0.6, 0.5, 0.05, 0.5], [0.3, 0.3, 0.6, 0.5, 0.95, 0.5]])
    u, active = enc.canonical(rows)
    assert np.array_equal(enc.features(u, active)[0], enc.features(u, active)[1])


# -- the sampler ----------------------------------------------------------------------------------
def branin(c: dict[str, Any]) -> float:
    x, y = c["x"], c["y"]
    quad = (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
    return quad + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_gp_beats_random_both_directions(direction: str) -> None:
    space = {"x": shoal.Float(-5, 10), "y": shoal.Float(0, 15)}
    sign = 1.0 if direction == "minimize" else -1.0
    gp_best, rnd_best = [], []
    for seed in range(3):
        for sampler, out in ((fast_gp(seed), gp_best), (shoal.samplers.Random(seed=seed), rnd_best)):
            study = shoal.Study(f"b{seed}", space, sampler=sampler, direction=direction)
            study.optimize(lambda c: sign * branin(c), n_trials=25)
            out.append(sign * study.best.value)
    assert np.mean(gp_best) < np.mean(rnd_best)
    assert sum(g < r for g, r in zip(gp_best, rnd_best, strict=True)) >= 2
    assert np.median(gp_best) < 0.397887 + 0.5  # near the optimum 0.398 within 25 trials


def _ctx(space: shoal.Space, trials: list[Trial], number: int) -> SamplingContext:
    return SamplingContext(space=space, study_name="s", direction="minimize", trial_number=number,
                           history=[t for t in trials if t.state.finished],
                           running=[t for t in trials if not t.state.finished])


def _history(space: shoal.Space, n: int, f: Any, seed: int = 0) -> list[Trial]:
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        config, unit = space.decode(rng.random(len(space)))
        trials.append(Trial(i, TrialState.COMPLETE, config, unit, value=f(config)))
    return trials


def test_eight_parallel_asks_give_eight_spread_out_points() -> None:
    space = shoal.Space({"x": shoal.Float(0, 1), "y": shoal.Float(0, 1)})
    trials = _history(space, 10, lambda c: (c["x"] - 0.2) ** 2 + (c["y"] - 0.7) ** 2)
    sampler = fast_gp(0)
    points = []
    for k in range(8):
        p = sampler.propose(_ctx(space, trials, 10 + k))
        config, unit = space.decode(p.unit)
        trials.append(Trial(10 + k, TrialState.RUNNING, config, unit))
        points.append(p.unit)
    pts = np.array(points)
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=-1) + np.eye(8)
    assert dist.min() > 0.02  # no near-copies
    assert np.ptp(pts, axis=0).max() > 0.1
    # Without the running trials the sampler would have proposed the first point again.
    again = sampler.propose(_ctx(space, [t for t in trials if t.state.finished], 10))
    assert np.allclose(again.unit, pts[0])


def test_discrete_values_exact_and_no_repeats() -> None:
    space = shoal.Space({"n": shoal.Int(1, 4), "opt": shoal.Choice(["a", "b", "c"])})
    study = shoal.Study("d", space, sampler=GP(seed=0, n_startup=3))
    study.optimize(lambda c: c["n"] + {"a": 0.0, "b": 1.0, "c": 2.0}[c["opt"]], n_trials=12)
    seen = [(t.config["n"], t.config["opt"]) for t in study.trials]
    assert len(set(seen)) == 12
    assert all(isinstance(n, int) and 1 <= n <= 4 for n, _ in seen)
    assert all(t.unit["n"] in (0.125, 0.375, 0.625, 0.875) for t in study.trials[3:])  # bin centres


def test_mixed_space_finds_the_best_choice_and_integer() -> None:
    space = {"x": shoal.Float(0, 1), "n": shoal.Int(1, 12), "opt": shoal.Choice(["a", "b", "c", "d"])}

    def f(c: dict[str, Any]) -> float:
        return (c["x"] - 0.3) ** 2 + abs(c["n"] - 9) / 10 + {"a": 1.0, "b": 0.6, "c": 0.0, "d": 0.8}[c["opt"]]

    study = shoal.Study("m", space, sampler=fast_gp(1))
    study.optimize(f, n_trials=30)
    assert study.best.config["opt"] == "c" and abs(study.best.config["n"] - 9) <= 1


def test_conditional_space_and_determinism(sqlite_url: str) -> None:
    space = {"opt": shoal.Choice(["adam", "sgd"]), "lr": shoal.Float(1e-4, 1, scale="log"),
             "beta": shoal.Float(0.8, 0.99, when={"opt": ["adam"]})}

    def f(c: dict[str, Any]) -> float:
        return math.log10(c["lr"]) ** 2 + (c["beta"] - 0.9) ** 2 * 100 if c["opt"] == "adam" else 1.0

    runs = []
    for storage in (None, sqlite_url):
        study = shoal.Study("c", space, sampler=fast_gp(3), storage=storage)
        study.optimize(f, n_trials=16)
        runs.append([t.config for t in study.trials])
    assert runs[0] == runs[1]
    assert all(("beta" in c) == (c["opt"] == "adam") for c in runs[0])
    assert min(f(c) for c in runs[0]) < 0.5  # found the good branch and tuned it
    # The model proposes adam (the good branch) more often than sgd after the initial design.
    assert sum(c["opt"] == "adam" for c in runs[0][5:]) >= 7


def test_the_first_trial_is_the_centre_of_every_dimension_on_its_scale() -> None:
    space = {"lr": shoal.Float(1e-4, 1, scale="log"), "beta": shoal.Float(0.9, 0.999, scale="reverse_log"),
             "units": shoal.Int(10, 30), "opt": shoal.Choice(["adam", "sgd", "rmsprop"])}
    study = shoal.Study("centre", space, sampler=fast_gp(0))
    study.optimize(lambda c: c["lr"] + c["units"] / 100, n_trials=3)
    first, *rest = study.trials
    assert first.claim == "centre" and first.proposed_by.startswith("gp: initial design: the centre")
    assert first.config["lr"] == pytest.approx(1e-2) and first.config["units"] == 20
    assert 1 - first.config["beta"] == pytest.approx(math.sqrt(0.1 * 0.001))
    assert first.config["opt"] == "sgd"
    assert all(t.claim != "centre" and "Sobol" in t.proposed_by for t in rest)


def test_an_enqueued_centre_is_not_run_again() -> None:
    study = shoal.Study("queued", {"x": shoal.Float(0, 1)}, sampler=fast_gp(0))
    study.enqueue({"x": 0.5})
    study.optimize(lambda c: c["x"], n_trials=3)
    assert [t.config["x"] for t in study.trials].count(0.5) == 1
    assert all(t.claim != "centre" for t in study.trials)


def test_two_drivers_of_one_study_take_the_centre_once(sqlite_url: str) -> None:
    space = {"x": shoal.Float(0, 1), "y": shoal.Float(-1, 1)}
    drivers = [shoal.Study("shared", space, sampler=fast_gp(seed), storage=sqlite_url) for seed in (0, 1)]
    running = [driver.ask() for driver in drivers for _ in range(2)]
    assert sum(r.record.claim == "centre" for r in running) == 1
    assert len({(r.config["x"], r.config["y"]) for r in running}) == 4


def test_with_trials_in_flight_the_design_is_not_stretched_by_the_workers() -> None:
    """Four trials outstanding: the design is still n_startup trials (not three more), and the model
    takes over once the design is handed out and half of it has values; one at a time: the first
    n_startup trials."""
    space = {"x": shoal.Float(0, 1), "y": shoal.Float(0, 1), "n": shoal.Int(1, 9)}

    def f(c: dict[str, Any]) -> float:
        return (c["x"] - 0.3) ** 2 + c["y"] + c["n"] / 10

    def design_flags(study: shoal.Study) -> list[bool]:
        assert all("initial" in t.proposed_by or "log EI" in t.proposed_by for t in study.trials)
        return ["initial" in t.proposed_by for t in study.trials]

    parallel = shoal.Study("flight", space, sampler=fast_gp(0, n_startup=6))
    running = [parallel.ask() for _ in range(4)]
    while len(parallel.trials) < 12:
        done = running.pop(0)
        parallel.tell(done, f(done.config))
        running.append(parallel.ask())
    assert design_flags(parallel) == [True] * 6 + [False] * 6
    first_model = parallel.trials[6]
    assert "3 running trials as fantasies" in first_model.proposed_by
    assert "on 3 trials" in first_model.proposed_by
    sequential = shoal.Study("one", space, sampler=fast_gp(0, n_startup=6))
    sequential.optimize(f, n_trials=8)
    assert design_flags(sequential) == [True] * 6 + [False] * 2


def test_the_initial_design_never_repeats_a_config_of_a_small_discrete_space() -> None:
    space = {"n": shoal.Int(1, 3), "opt": shoal.Choice(["a", "b"])}
    study = shoal.Study("small", space, sampler=fast_gp(2, n_startup=6))
    study.optimize(lambda c: c["n"] + (c["opt"] == "b"), n_trials=6)
    assert len({(t.config["n"], t.config["opt"]) for t in study.trials}) == 6


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(2, 4), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_running_initial_design_points_are_distinct_configs(sizes: list[int], seed: int) -> None:
    """Asked without results (parallel workers at the start), the design still never repeats a
    config while the space has twice as many as the design takes."""
    space = {f"d{i}": shoal.Int(1, k) if i % 2 else shoal.Choice(list(range(k))) for i, k in enumerate(sizes)}
    n_configs = math.prod(sizes)
    n_asks = max(1, min(6, n_configs // 2))
    study = shoal.Study("design", space, sampler=fast_gp(seed, n_startup=6))
    configs = [tuple(study.ask().config.values()) for _ in range(n_asks)]
    assert len(set(configs)) == n_asks


def test_seeds_differ_and_a_study_seed_seeds_it() -> None:
    space = {"x": shoal.Float(0, 1), "n": shoal.Int(1, 5)}

    def configs(sampler: GP, seed: int | None = None) -> list[dict[str, Any]]:
        study = shoal.Study("seeded", space, sampler=sampler, seed=seed)
        study.optimize(lambda c: (c["x"] - 0.4) ** 2 + c["n"] / 10, n_trials=9)
        return [t.config for t in study.trials]

    assert configs(fast_gp(1)) != configs(fast_gp(2))
    assert configs(GP(n_candidates=256), seed=5) == configs(GP(n_candidates=256), seed=5)


def test_failed_trials_count_as_the_worst_value() -> None:
    space = shoal.Space({"x": shoal.Float(0, 1)})
    trials = []
    for i, xv in enumerate(np.linspace(0.02, 0.98, 12)):
        state = TrialState.FAILED if xv < 0.5 else TrialState.COMPLETE
        value = None if state == TrialState.FAILED else float(xv)  # best just above 0.5
        trials.append(Trial(i, state, {"x": float(xv)}, {"x": float(xv)}, value=value))
    p = fast_gp(0).propose(_ctx(space, trials, 12))
    assert 0.4 < p.unit[0] < 0.6  # near the best, not in the unexplored but failing region
    trials[7].value = float("nan")  # a non-finite value (only reachable by hand) counts as failed too
    assert 0 <= fast_gp(0).propose(_ctx(space, trials, 12)).unit[0] <= 1


def test_degenerate_histories_fall_back_and_log(caplog: pytest.LogCaptureFixture) -> None:
    space = shoal.Space({"x": shoal.Float(0, 1)})
    trials = _history(space, 8, lambda c: 1.0)
    with caplog.at_level(logging.WARNING, logger="shoal"):
        p = GP(seed=0).propose(_ctx(space, trials, 8))
    assert p.unit.shape == (1,) and "falling back" in caplog.text and "equal" in caplog.text
    for t in trials:
        t.value = float("nan")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="shoal"):
        p = GP(seed=0).propose(_ctx(space, trials, 8))
    assert 0 <= p.unit[0] <= 1 and "non-finite" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="shoal"):  # one point: nothing to model
        p = GP(seed=0, n_startup=1).propose(_ctx(space, _history(space, 1, lambda c: c["x"]), 1))
    assert 0 <= p.unit[0] <= 1 and "falling back" in caplog.text


def test_large_histories_fit_on_a_subset() -> None:
    space = shoal.Space({"x": shoal.Float(0, 1), "y": shoal.Float(0, 1)})
    trials = _history(space, 60, lambda c: (c["x"] - 0.5) ** 2 + c["y"])
    sampler = fast_gp(0, max_points=20)
    y = np.array([t.value for t in trials])
    keep = sampler._subset(trials, y, np.random.default_rng(0))
    assert len(keep) == 20 and int(np.argmin(y)) in keep and 59 in keep
    p = sampler.propose(_ctx(space, trials, 60))
    assert np.all((0 <= p.unit) & (p.unit <= 1)) and p.extra["sampler"] == "gp"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_startup"):
        GP(n_startup=0)
    with pytest.raises(ValueError, match="n_candidates"):
        GP(n_candidates=4)
    with pytest.raises(ValueError, match="max_points"):
        GP(max_points=5)
    assert GP(seed=1).describe() == "GP(n_startup=None, n_candidates=1024, max_points=500, seed=1)"


def test_n_initial_was_renamed_n_startup() -> None:
    with pytest.raises(TypeError, match=r"^GP: n_initial was renamed; pass n_startup=\.\.\.$"):
        GP(n_initial=3)
    assert GP(n_startup=3).n_startup == GP(3).n_startup == 3


def test_each_proposal_says_what_the_model_was() -> None:
    space = shoal.Space({"x": shoal.Float(0, 1), "y": shoal.Float(0, 1)})
    sampler = fast_gp(0)
    centre = sampler.propose(_ctx(space, [], 0))
    assert centre.proposed_by == "gp: initial design: the centre of the space (0 of 5 trials with values)"
    config, unit = space.decode(centre.unit)
    held = [dataclasses.replace(Trial(0, TrialState.COMPLETE, config, unit, value=1.0), claim=centre.claim)]
    design = sampler.propose(_ctx(space, held, 1)).proposed_by
    assert design == "gp: initial Sobol design (1 of 5 trials with values)"
    growth = _history(space, 120, lambda c: math.exp(3 * c["x"] + 2 * c["y"]))
    first = sampler.propose(_ctx(space, growth, 120)).proposed_by
    assert first == "gp: log EI of a GP on 120 trials (outputs in log; bowl mean)"
    config, unit = space.decode(np.array([0.3, 0.3]))
    growth.append(Trial(120, TrialState.RUNNING, config, unit))
    later = sampler.propose(_ctx(space, growth, 121)).proposed_by
    assert later == ("gp: log EI of a GP on 120 trials (outputs in log; bowl mean; "
                     "1 running trial as fantasies)")
    growth[-1] = dataclasses.replace(growth[-1], state=TrialState.COMPLETE, value=1.0)
    reused = sampler.propose(_ctx(space, growth, 122)).proposed_by
    assert reused == ("gp: log EI of a GP on 121 trials (outputs in log; bowl mean; "
                      "hyperparameters fitted at 120 trials)")

"""The GP's parallel acquisition: log EI averaged over joint draws of the running trials' values."""

from __future__ import annotations

import math

import numpy as np
import pytest

import shoal
from shoal.samplers import _gp_math as gm
from shoal.samplers._gp_ei import FantasyLogEI, LogEI
from shoal.samplers._gp_mean import BowlMean
from shoal.samplers._gp_space import Encoder

THETA = np.r_[np.log([0.3, 0.5]), 0.0, math.log(1e-4)]


BOWL = BowlMean(np.array([0, 1]), 0.3, 2.0)


def _model(
    n: int = 15, seed: int = 0, mean: BowlMean | None = None
) -> tuple[Encoder, gm.Posterior, np.ndarray]:
    rng = np.random.default_rng(seed)
    enc = Encoder(shoal.Space({"a": shoal.Float(0, 1), "b": shoal.Float(0, 1)}))
    x = rng.random((n, 2))
    z = np.sin(4 * x[:, 0]) + (x[:, 1] - 0.3) ** 2
    z = (z - z.mean()) / z.std()
    return enc, gm.Posterior(x, z, THETA, enc.groups, mean=mean), z


@pytest.mark.parametrize("mean", [None, BOWL], ids=["zero-mean", "bowl-mean"])
def test_joint_posterior_agrees_with_the_marginal_one(mean: BowlMean | None) -> None:
    _, post, _ = _model(mean=mean)
    xq = np.random.default_rng(1).random((5, 2))
    mean, cov = post.joint(xq)
    marginal_mean, std = post.predict(xq)
    assert np.allclose(mean, marginal_mean)
    assert np.allclose(np.sqrt(np.diag(cov)), std, rtol=1e-6)
    assert np.all(np.linalg.eigvalsh(cov) > -1e-9)


@pytest.mark.parametrize("prior_mean", [None, BOWL], ids=["zero-mean", "bowl-mean"])
def test_columns_are_separate_posteriors_and_their_gradients_mix(prior_mean: BowlMean | None) -> None:
    enc, post, z = _model(mean=prior_mean)
    other = np.cos(3 * post.x[:, 1])
    both = gm.Posterior(post.x, np.column_stack([z, other]), THETA, enc.groups, mean=prior_mean)
    xq = np.random.default_rng(2).random((4, 2))
    mean, std, dstd, mixture = both.predict_columns_with_grad(xq)
    first = post.predict_with_grad(xq)
    second = gm.Posterior(post.x, other, THETA, enc.groups, mean=prior_mean).predict_with_grad(xq)
    assert np.allclose(mean, np.column_stack([first[0], second[0]]))
    assert np.allclose(std, first[1]) and np.allclose(dstd, first[3])
    weights = np.array([[0.2, 0.8]] * 4)
    assert np.allclose(mixture(weights), 0.2 * first[2] + 0.8 * second[2])


@pytest.mark.parametrize("mean", [None, BOWL], ids=["zero-mean", "bowl-mean"])
def test_fantasy_ei_gradient_matches_finite_differences(mean: BowlMean | None) -> None:
    enc, post, z = _model(mean=mean)
    rng = np.random.default_rng(3)
    best = float(post.predict(post.x)[0].min())
    acquisition = FantasyLogEI.of_running(enc, post, z, rng.random((3, 2)), best, rng)
    xq = rng.random((6, 2))
    values, grad = acquisition.values_and_grad(xq)
    assert np.allclose(values, acquisition.values(xq))
    numeric = np.zeros_like(xq)
    for j in range(2):
        step = np.zeros(2)
        step[j] = 1e-6
        numeric[:, j] = (acquisition.values(xq + step) - acquisition.values(xq - step)) / 2e-6
    assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-5)


def test_a_running_trial_takes_the_value_out_of_its_neighbourhood_only() -> None:
    enc, post, z = _model()
    rng = np.random.default_rng(4)
    best = float(post.predict(post.x)[0].min())
    grid = np.random.default_rng(5).random((400, 2))
    plain = LogEI(enc, post, best, rng).values(grid)
    running = grid[np.argmax(plain)][None, :]  # a worker is already evaluating the best point
    fantasies = FantasyLogEI.of_running(enc, post, z, running, best, rng).values(grid)
    distance = np.linalg.norm(grid - running, axis=1)
    near, far = distance < 0.05, distance > 0.6
    assert near.any() and far.any()
    assert np.all(fantasies <= plain + 1e-9)  # a running trial can only take improvement away
    drop_near, drop_far = np.mean((plain - fantasies)[near]), np.mean((plain - fantasies)[far])
    assert drop_near > drop_far + 1.0  # EI next to the running trial falls e times more than far away
    assert distance[np.argmax(fantasies)] > 0.05


@pytest.mark.parametrize("workers", [4, 8])
def test_parallel_asks_on_a_log_modelled_objective_are_distinct_and_spread(workers: int) -> None:
    """Positive outputs spanning decades are modelled in log, running trials included."""
    space = {"x": shoal.Float(-2, 2), "y": shoal.Float(-2, 2)}
    study = shoal.Study("par", space, sampler=shoal.samplers.GP(seed=0, n_candidates=256))
    study.optimize(lambda c: math.exp(3 * c["x"]) + 10 * c["y"] ** 2 + 1e-3, n_trials=12)
    asked = [study.ask() for _ in range(workers)]
    why = [t.record.proposed_by or "" for t in asked[1:]]
    assert all("running trial" in w for w in why)
    assert any("outputs in log" in w for w in why)
    points = np.array([[t.config["x"], t.config["y"]] for t in asked])
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1) + np.eye(workers) * 10
    assert gaps.min() > 0.02

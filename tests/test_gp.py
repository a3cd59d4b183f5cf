"""GP sampler: numeric core (kernel, fit, log EI) and behaviour through a real Study."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

import shoal
from shoal.samplers import _gp_math as gm
from shoal.samplers.base import SamplingContext
from shoal.samplers.gp import GP
from shoal.trial import Trial, TrialState


def test_kernel_symmetric_psd_and_known_values() -> None:
    x = np.random.default_rng(0).random((20, 3))
    k = gm.matern52(x, x, np.array([0.3, 0.5, 1.0]), 2.0)
    assert np.allclose(k, k.T)
    assert np.linalg.eigvalsh(k).min() > -1e-9
    assert np.allclose(np.diag(k), 2.0)
    a, b = np.zeros((1, 1)), np.ones((1, 1))
    s = math.sqrt(5.0)
    assert gm.matern52(a, b, np.array([1.0]), 1.0)[0, 0] == pytest.approx((1 + s + 5 / 3) * math.exp(-s))


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
    assert far[0] == pytest.approx(-0.5 * 2500 - 0.5 * math.log(2 * math.pi) - math.log(2500) + math.log(0.1),
                                   abs=1e-2)


def branin(c: dict[str, Any]) -> float:
    x, y = c["x"], c["y"]
    quad = (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
    return quad + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


def quad(c: dict[str, Any]) -> float:
    return sum((c[f"x{i}"] - 0.3) ** 2 for i in range(5))


@pytest.mark.parametrize("problem", ["branin", "quad5"])
def test_gp_beats_random(problem: str) -> None:
    if problem == "branin":
        space, f = {"x": shoal.Float(-5, 10), "y": shoal.Float(0, 15)}, branin
    else:
        space, f = {f"x{i}": shoal.Float(-1, 1) for i in range(5)}, quad
    gp_best, rnd_best = [], []
    for seed in range(3):
        for sampler, out in ((GP(seed=seed), gp_best), (shoal.samplers.Random(seed=seed), rnd_best)):
            study = shoal.Study(f"{problem}{seed}", space, sampler=sampler)
            study.optimize(f, n_trials=30)
            out.append(study.best.value)
    assert np.mean(gp_best) < np.mean(rnd_best)
    assert sum(g < r for g, r in zip(gp_best, rnd_best, strict=True)) >= 2


def _ctx(space: shoal.Space, trials: list[Trial], number: int) -> SamplingContext:
    return SamplingContext(space=space, study_name="s", direction="minimize", trial_number=number,
                           history=[t for t in trials if t.state.finished],
                           running=[t for t in trials if not t.state.finished])


def _history(space: shoal.Space, n: int, f: Any) -> list[Trial]:
    rng = np.random.default_rng(0)
    trials = []
    for i in range(n):
        config, unit = space.decode(rng.random(len(space)))
        trials.append(Trial(i, TrialState.COMPLETE, config, unit, value=f(config)))
    return trials


def test_parallel_asks_spread_out() -> None:
    space = shoal.Space({"x": shoal.Float(0, 1), "y": shoal.Float(0, 1)})
    trials = _history(space, 10, lambda c: (c["x"] - 0.2) ** 2 + (c["y"] - 0.7) ** 2)
    sampler = GP(seed=0)
    points = []
    for k in range(8):
        p = sampler.propose(_ctx(space, trials, 10 + k))
        config, unit = space.decode(p.unit)
        trials.append(Trial(10 + k, TrialState.RUNNING, config, unit))
        points.append(p.unit)
    pts = np.array(points)
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=-1) + np.eye(8)
    assert dist.min() > 1e-3
    assert len({tuple(np.round(p, 6)) for p in pts}) == 8


def test_discrete_values_exact_and_no_repeats() -> None:
    space = shoal.Space({"n": shoal.Int(1, 4), "opt": shoal.Choice(["a", "b", "c"])})
    study = shoal.Study("d", space, sampler=GP(seed=0, n_initial=3))
    study.optimize(lambda c: c["n"] + {"a": 0.0, "b": 1.0, "c": 2.0}[c["opt"]], n_trials=12)
    seen = [(t.config["n"], t.config["opt"]) for t in study.trials]
    assert len(set(seen)) == 12
    assert all(isinstance(n, int) and 1 <= n <= 4 for n, _ in seen)


def test_conditional_space_and_determinism() -> None:
    space = {"opt": shoal.Choice(["adam", "sgd"]), "lr": shoal.Float(1e-4, 1, scale="log"),
             "beta": shoal.Float(0.8, 0.99, when={"opt": ["adam"]})}

    def f(c: dict[str, Any]) -> float:
        return math.log10(c["lr"]) ** 2 + (c.get("beta", 0.9) - 0.9) ** 2

    runs = []
    for _ in range(2):
        study = shoal.Study("c", space, sampler=GP(seed=3))
        study.optimize(f, n_trials=15)
        runs.append([t.config for t in study.trials])
    assert runs[0] == runs[1]
    assert all(("beta" in c) == (c["opt"] == "adam") for c in runs[0])


def test_degenerate_history_falls_back_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    space = shoal.Space({"x": shoal.Float(0, 1)})
    trials = _history(space, 8, lambda c: 1.0)
    with caplog.at_level(logging.WARNING, logger="shoal"):
        p = GP(seed=0).propose(_ctx(space, trials, 8))
    assert p.unit.shape == (1,) and "falling back" in caplog.text
    trials[3].value = float("nan")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="shoal"):
        p = GP(seed=0).propose(_ctx(space, trials, 8))
    assert 0 <= p.unit[0] <= 1 and "non-finite" in caplog.text


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_initial"):
        GP(n_initial=0)
    assert "n_candidates=1024" in GP(seed=1).describe()

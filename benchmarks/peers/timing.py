"""Time spent in ask + tell per trial once a study holds 100, 300 or 1,000 trials, shoal next to Optuna.

A study is first filled with ``n - 1`` finished trials at the same random configs for both libraries
(shoal through ``enqueue`` + ``ask`` + ``tell``, which skips the sampler; Optuna through
``add_trial``), so the history is the same and filling it costs nothing. Then one untimed ask + tell
warms each sampler up as a running study would have (its first model fit has no previous fit to
start from), and the next ``repeats`` trials are timed; the mean is reported, so a sampler that
refits its model only every few trials is charged for those refits too. The objective is a cheap
function over 6 mixed dimensions (3 linear floats, a log float, an int, a 3-way choice). The two
libraries run in the same process, in turns.
"""

from __future__ import annotations

import logging
import statistics
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import shoal

from .optimizers import shoal_sampler

SPACE = {
    "x0": shoal.Float(-5.0, 5.0),
    "x1": shoal.Float(-5.0, 5.0),
    "x2": shoal.Float(-5.0, 5.0),
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "n": shoal.Int(1, 100),
    "c": shoal.Choice(["a", "b", "c"]),
}
#: (shoal sampler, Optuna sampler) -> study sizes measured.
PAIRS = {("TPE", "tpe"): (100, 300, 1000), ("GP", "gp"): (100, 300)}


def objective(config: Mapping[str, Any]) -> float:
    """Cheap: a shifted sphere with a log and an integer term and a per-choice offset."""
    return (sum((config[f"x{i}"] - 1.0) ** 2 for i in range(3)) + (np.log10(config["lr"]) + 2) ** 2
            + (config["n"] - 30) ** 2 / 100 + {"a": 0.0, "b": 0.5, "c": 1.0}[config["c"]])


def random_configs(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` configs drawn uniformly in each dimension's own scale."""
    space = shoal.Space(SPACE)
    rng = np.random.default_rng(seed)
    return [space.decode(rng.random(len(space.names)).tolist())[0] for _ in range(n)]


def timed_asks(ask: Callable[[], Any], config_of: Callable[[Any], Mapping[str, Any]],
               tell: Callable[[Any, float], Any], repeats: int) -> list[float]:
    """Seconds in ask + tell (the objective left out) of ``repeats`` trials after one untimed warm-up."""
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        trial = ask()
        middle = time.perf_counter()
        value = objective(config_of(trial))
        resume = time.perf_counter()
        tell(trial, value)
        times.append(time.perf_counter() - resume + middle - start)
    return times[1:]


def shoal_ask_tell(sampler: str, n: int, repeats: int, seed: int) -> list[float]:
    """Seconds per ask + tell for ``repeats`` trials after ``n - 1`` finished ones."""
    logging.getLogger("shoal").setLevel(logging.WARNING)
    study = shoal.Study("overhead", SPACE, sampler=shoal_sampler(sampler)(), seed=seed)
    for config in random_configs(n - 1, seed):
        study.enqueue(config)
        trial = study.ask()
        study.tell(trial, objective(trial.config))
    return timed_asks(study.ask, lambda trial: trial.config, study.tell, repeats)


def optuna_ask_tell(sampler: str, n: int, repeats: int, seed: int) -> list[float]:
    """The same for Optuna's ``TPESampler`` or ``GPSampler`` (defaults)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", module="optuna")
    distributions = {
        **{f"x{i}": FloatDistribution(-5.0, 5.0) for i in range(3)},
        "lr": FloatDistribution(1e-4, 1.0, log=True),
        "n": IntDistribution(1, 100),
        "c": CategoricalDistribution(["a", "b", "c"]),
    }
    if sampler == "gp":
        import torch

        torch.set_num_threads(1)
        chosen = optuna.samplers.GPSampler(seed=seed)
    else:
        chosen = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(sampler=chosen)
    for config in random_configs(n - 1, seed):
        study.add_trial(optuna.trial.create_trial(params=config, distributions=distributions,
                                                  value=objective(config)))
    return timed_asks(lambda: study.ask(distributions), lambda trial: trial.params, study.tell, repeats)


def measure(sizes: Mapping[tuple[str, str], tuple[int, ...]] = PAIRS, repeats: int = 20,
            seed: int = 0, say=print) -> list[dict[str, Any]]:
    """One row per (pair, size): mean ms per ask + tell for shoal and Optuna, and their ratio."""
    rows = []
    for (ours, theirs), ns in sizes.items():
        for n in ns:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                shoal_s = statistics.mean(shoal_ask_tell(ours, n, repeats, seed))
                optuna_s = statistics.mean(optuna_ask_tell(theirs, n, repeats, seed))
            row = {"shoal": ours, "optuna": theirs, "trials": n, "repeats": repeats,
                   "shoal_ms": 1000 * shoal_s, "optuna_ms": 1000 * optuna_s, "ratio": optuna_s / shoal_s}
            say(f"{ours:>4} vs optuna {theirs:>3} at {n:>5} trials: shoal {row['shoal_ms']:9.2f} ms, "
                f"optuna {row['optuna_ms']:9.2f} ms per ask+tell (optuna/shoal {row['ratio']:.2f}x)")
            rows.append(row)
    return rows

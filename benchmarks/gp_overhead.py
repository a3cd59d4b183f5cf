"""Time of one GP ask with a long history: shoal's ``GP`` next to Optuna's ``GPSampler``.

Both samplers get the same history of N finished trials (random points of the same space, the
same objective values) and are asked for the next point a few times; the median seconds per ask
and the shoal/Optuna ratio are printed for each N. Optuna's GPSampler needs torch (CPU wheel).
The space: four floats (one on a log scale), one integer and one three-way choice. Both run
their linear algebra on one thread (shoal's GP limits BLAS to one thread itself; torch is set to
one thread here), which is fastest for these matrix sizes and fair on a shared machine;
``--torch-threads 0`` leaves torch at its default.

    .venv/bin/python benchmarks/gp_overhead.py [--sizes 100 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import statistics
import time
from typing import Any

import numpy as np
from _machine import cpu_model

import shoal
from shoal.samplers.base import SamplingContext
from shoal.samplers.gp import GP
from shoal.trial import Trial, TrialState

SPACE = {
    "x0": shoal.Float(0.0, 1.0),
    "x1": shoal.Float(0.0, 1.0),
    "x2": shoal.Float(-2.0, 2.0),
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "n": shoal.Int(1, 20),
    "opt": shoal.Choice(["a", "b", "c"]),
}


def objective(c: dict[str, Any]) -> float:
    return ((c["x0"] - 0.3) ** 2 + math.sin(3 * c["x1"]) + 0.1 * c["x2"] ** 2
            + (math.log10(c["lr"]) + 2) ** 2 / 4 + abs(c["n"] - 7) / 10
            + {"a": 0, "b": 0.3, "c": 1}[c["opt"]])


def history(n: int) -> list[tuple[dict[str, Any], dict[str, float], float]]:
    space = shoal.Space(SPACE)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        config, unit = space.decode(rng.random(len(space)))
        out.append((config, unit, objective(config)))
    return out


def time_shoal(n: int, repeats: int) -> float:
    space = shoal.Space(SPACE)
    trials = [Trial(i, TrialState.COMPLETE, c, u, value=v) for i, (c, u, v) in enumerate(history(n))]
    sampler = GP(seed=0)
    times = []
    for r in range(repeats + 1):  # the first ask has no warm start; it is counted too
        context = SamplingContext(space=space, study_name="bench", direction="minimize",
                                  trial_number=n + r, history=trials)
        start = time.perf_counter()
        sampler.propose(context)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_optuna(n: int, repeats: int) -> float:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    dists = {"x0": FloatDistribution(0.0, 1.0), "x1": FloatDistribution(0.0, 1.0),
             "x2": FloatDistribution(-2.0, 2.0), "lr": FloatDistribution(1e-4, 1.0, log=True),
             "n": IntDistribution(1, 20), "opt": CategoricalDistribution(["a", "b", "c"])}
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
    study.add_trials([optuna.trial.create_trial(params=c, distributions=dists, value=v)
                      for c, _, v in history(n)])
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        trial = study.ask(dists)
        times.append(time.perf_counter() - start)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)  # keeps the history at n complete
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args()
    if args.torch_threads > 0:
        try:
            import torch

            torch.set_num_threads(args.torch_threads)
        except ImportError:
            pass
    logging.getLogger("shoal").setLevel(logging.ERROR)
    print(f"GP ask time, median of {args.repeats + 1} asks; {cpu_model()}, "
          f"Python {platform.python_version()}")
    print(f"{'trials':>7} {'shoal GP (s)':>13} {'Optuna GP (s)':>14} {'shoal/Optuna':>13}")
    for n in args.sizes:
        ours = time_shoal(n, args.repeats)
        try:
            theirs = time_optuna(n, args.repeats)
        except ImportError as exc:
            print(f"{n:>7} {ours:>13.3f} {'n/a':>14} {'n/a':>13}   ({exc})")
            continue
        print(f"{n:>7} {ours:>13.3f} {theirs:>14.3f} {ours / theirs:>13.2f}")


if __name__ == "__main__":
    main()

"""Best value found in a small budget: shoal's GP next to shoal's Random and TPE.

Problems: Branin (2-D), Hartmann6 (6-D), Ackley (5-D), a mixed space (floats, an integer and a
choice) and a conditional one; each sampler runs ``--trials`` trials for each of ``--seeds`` seeds
through ``Study.ask``/``tell``; the table shows the mean and median best value (its regret against
the known optimum where there is one). ``--maximize`` negates the objectives and maximizes, to
check both directions. ``--workers k`` asks k trials before telling any (pending trials).

    .venv/bin/python benchmarks/gp_quality.py [--trials 60] [--seeds 5] [--maximize] [--workers 1]
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import shoal
from shoal.samplers import TPE, Random
from shoal.samplers.gp import GP

_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(c: dict[str, Any]) -> float:
    x, y = c["x"], c["y"]
    return ((y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10)


def hartmann6(c: dict[str, Any]) -> float:
    x = np.array([c[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def ackley(c: dict[str, Any]) -> float:
    x = np.array([c[f"x{i}"] for i in range(5)])
    return float(-20 * np.exp(-0.2 * np.sqrt(np.mean(x * x))) - np.exp(np.mean(np.cos(2 * np.pi * x)))
                 + 20 + math.e)


def mixed(c: dict[str, Any]) -> float:
    return ((math.log10(c["lr"]) + 2.5) ** 2 + (c["x"] - 0.3) ** 2 * 4 + abs(c["n"] - 6) / 4
            + {"a": 1.0, "b": 0.0, "c": 2.0}[c["opt"]])


def conditional(c: dict[str, Any]) -> float:
    base = (math.log10(c["lr"]) + 2) ** 2
    return base + ((c["beta"] - 0.95) ** 2 * 100 if c["opt"] == "adam" else 0.5 + (c["mom"] - 0.5) ** 2)


PROBLEMS: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], float], float]] = {
    "branin": ({"x": shoal.Float(-5, 10), "y": shoal.Float(0, 15)}, branin, 0.397887),
    "hartmann6": ({f"x{i}": shoal.Float(0, 1) for i in range(6)}, hartmann6, -3.32237),
    "ackley5": ({f"x{i}": shoal.Float(-32.768, 32.768) for i in range(5)}, ackley, 0.0),
    "mixed": ({"lr": shoal.Float(1e-5, 1, scale="log"), "x": shoal.Float(0, 1), "n": shoal.Int(1, 16),
               "opt": shoal.Choice(["a", "b", "c"])}, mixed, 0.0),
    "conditional": ({"opt": shoal.Choice(["adam", "sgd"]), "lr": shoal.Float(1e-4, 1, scale="log"),
                     "beta": shoal.Float(0.8, 0.999, scale="reverse_log", when={"opt": ["adam"]}),
                     "mom": shoal.Float(0, 1, when={"opt": ["sgd"]})}, conditional, 0.0),
}


def run(name: str, make: Callable[[int], Any], seed: int, trials: int, maximize: bool, workers: int) -> float:
    space, f, _ = PROBLEMS[name]
    sign = -1.0 if maximize else 1.0
    study = shoal.Study(f"{name}-{seed}", space, sampler=make(seed),
                        direction="maximize" if maximize else "minimize")
    done = 0
    while done < trials:
        batch = [study.ask() for _ in range(min(workers, trials - done))]
        for t in batch:
            study.tell(t, sign * f(t.config))
        done += len(batch)
    return sign * study.best.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--maximize", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    parser.add_argument("--samplers", nargs="+", default=["GP", "TPE", "Random"])
    args = parser.parse_args()
    logging.getLogger("shoal").setLevel(logging.ERROR)
    makers = {"GP": lambda s: GP(seed=s), "TPE": lambda s: TPE(seed=s), "Random": lambda s: Random(seed=s)}
    print(f"best value after {args.trials} trials, {args.seeds} seeds, "
          f"{'maximizing -f' if args.maximize else 'minimizing f'}, {args.workers} worker(s); "
          "regret = best - optimum")
    print(f"{'problem':<12} {'sampler':<7} {'mean regret':>12} {'median':>10} {'s/run':>7}")
    for name in args.problems:
        optimum = PROBLEMS[name][2]
        for label in args.samplers:
            start = time.perf_counter()
            bests = [run(name, makers[label], seed, args.trials, args.maximize, args.workers) - optimum
                     for seed in range(args.seeds)]
            took = (time.perf_counter() - start) / args.seeds
            print(f"{name:<12} {label:<7} {statistics.mean(bests):>12.4f} {statistics.median(bests):>10.4f} "
                  f"{took:>7.1f}", flush=True)


if __name__ == "__main__":
    main()

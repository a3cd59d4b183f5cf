"""CMA-ES against random search and TPE on 10-D functions at 300 trials, with Optuna's side by side.

Each sampler runs ``--trials`` trials (300) on each function for ``--seeds`` seeds (5), in memory,
and the table gives the best value found (mean and median over seeds; lower is better), the ratio
of the mean to shoal CMAES's, and the mean time per ask (the sampler's proposal plus the study's
bookkeeping, the objective costs nothing). Functions on [-1, 1]^10 with the optimum off-centre at
0.3: ``ellipsoid`` sum (i+1)(x_i - 0.3)^2 and ``rosenbrock`` on x + 0.7 (optimum 0).

    .venv/bin/python benchmarks/cmaes_vs_peers.py [--seeds 5] [--trials 300] [--markdown] [--no-optuna]
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from _machine import cpu_model
from rich.console import Console
from rich.table import Table

import shoal
from shoal.samplers import CMAES, TPE, Random

D = 10
SPACE = {f"x{i}": shoal.Float(-1.0, 1.0) for i in range(D)}


def ellipsoid(x: list[float]) -> float:
    return sum((i + 1) * (v - 0.3) ** 2 for i, v in enumerate(x))


def rosenbrock(x: list[float]) -> float:
    z = [v + 0.7 for v in x]  # optimum at x = 0.3
    return sum(100 * (z[i + 1] - z[i] ** 2) ** 2 + (1 - z[i]) ** 2 for i in range(len(z) - 1))


FUNCTIONS: dict[str, Callable[[list[float]], float]] = {"ellipsoid": ellipsoid, "rosenbrock": rosenbrock}


def run_shoal(make: Callable[[int], Any], f: Callable[[list[float]], float], seed: int,
              trials: int) -> tuple[float, float]:
    study = shoal.Study(f"bench-{seed}", SPACE, storage=None, sampler=make(seed))
    start = time.perf_counter()
    study.optimize(lambda c: f([c[f"x{i}"] for i in range(D)]), n_trials=trials, show_progress=False)
    return study.best.value, (time.perf_counter() - start) / trials


def run_optuna(kind: str, f: Callable[[list[float]], float], seed: int, trials: int) -> tuple[float, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (optuna.samplers.CmaEsSampler(seed=seed) if kind == "cmaes"
               else optuna.samplers.TPESampler(seed=seed, multivariate=True))
    study = optuna.create_study(sampler=sampler)

    def objective(trial: Any) -> float:
        return f([trial.suggest_float(f"x{i}", -1.0, 1.0) for i in range(D)])

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return study.best_value, (time.perf_counter() - start) / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--no-optuna", action="store_true", help="leave Optuna's samplers out")
    args = parser.parse_args()
    logging.getLogger("shoal").setLevel(logging.ERROR)

    contenders: dict[str, Callable[[Callable, int], tuple[float, float]]] = {
        "shoal CMAES": lambda f, s: run_shoal(lambda k: CMAES(seed=k), f, s, args.trials),
        "shoal TPE": lambda f, s: run_shoal(lambda k: TPE(seed=k), f, s, args.trials),
        "shoal Random": lambda f, s: run_shoal(lambda k: Random(seed=k), f, s, args.trials),
    }
    if not args.no_optuna:
        contenders["Optuna CmaEsSampler"] = lambda f, s: run_optuna("cmaes", f, s, args.trials)
        contenders["Optuna TPESampler (multivariate)"] = lambda f, s: run_optuna("tpe", f, s, args.trials)

    rows = []
    for fname, f in FUNCTIONS.items():
        results = {name: [run(f, s) for s in range(args.seeds)] for name, run in contenders.items()}
        base = statistics.mean(v for v, _ in results["shoal CMAES"])
        for name, res in results.items():
            values = [v for v, _ in res]
            mean = statistics.mean(values)
            rows.append((fname, name, f"{mean:.4g}", f"{statistics.median(values):.4g}",
                         f"{mean / base:.1f}x", f"{1000 * statistics.mean(t for _, t in res):.2f}"))

    header = ("function", "sampler", "best (mean)", "best (median)", "mean / shoal CMAES", "ms per trial")
    machine = f"{cpu_model()}, Python {platform.python_version()}"
    print(f"{D}-D, {args.trials} trials, {args.seeds} seeds; {machine}")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    table = Table(*header)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()

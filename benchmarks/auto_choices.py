"""GP against TPE on choice-heavy spaces: which one should ``Auto`` pick for a small budget?

Four synthetic spaces where choices make up half or all of the dimensions. Each choice adds a value
from a random table, the first two choices interact through a random pair table, and the float
dimensions add a quadratic bowl whose centre depends on the first choice. 60 trials per run, the
same seeds for every sampler; scores are normalized like the peers benchmark (100 = best value any
sampler found on the space, 0 = random search's median best).

    .venv/bin/python benchmarks/auto_choices.py --seeds 10 --markdown
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread per job
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import shoal  # noqa: E402
from shoal.samplers import GP, TPE, Random  # noqa: E402

#: name -> (choice dimensions, float dimensions, values per choice)
SPACES = {"2 choices + 2 floats": (2, 2, 4), "4 choices + 2 floats": (4, 2, 4),
          "3 choices + 1 float": (3, 1, 6), "6 choices": (6, 0, 3)}
SAMPLERS: dict[str, Callable[..., Any]] = {"gp": GP, "tpe": TPE, "random": Random}
BUDGET = 60


def make_task(name: str) -> tuple[dict[str, Any], Callable[[Mapping[str, Any]], float]]:
    """The space and objective of one named task (fixed random tables per task)."""
    n_choice, n_float, k = SPACES[name]
    rng = np.random.default_rng(list(SPACES).index(name) + 1)
    tables = [rng.normal(size=k) for _ in range(n_choice)]
    pair = rng.normal(size=(k, k)) * 0.7
    centres = rng.uniform(0.2, 0.8, size=(k, max(n_float, 1)))
    space: dict[str, Any] = {f"c{i}": shoal.Choice([f"v{j}" for j in range(k)]) for i in range(n_choice)}
    space.update({f"x{i}": shoal.Float(0, 1) for i in range(n_float)})

    def objective(config: Mapping[str, Any]) -> float:
        idx = [int(config[f"c{i}"][1:]) for i in range(n_choice)]
        value = sum(t[j] for t, j in zip(tables, idx, strict=True)) + pair[idx[0], idx[1]]
        if n_float:
            x = np.array([config[f"x{i}"] for i in range(n_float)])
            value += 3.0 * float(np.sum((x - centres[idx[0], :n_float]) ** 2))
        return float(value)

    return space, objective


def run(job: tuple[str, str, int]) -> tuple[str, str, int, float]:
    """Best value of one (task, sampler, seed) run of ``BUDGET`` trials."""
    task, sampler, seed = job
    space, objective = make_task(task)
    study = shoal.Study(f"{task}-{sampler}-{seed}", space, sampler=SAMPLERS[sampler](seed=seed))
    best = float("inf")
    for _ in range(BUDGET):
        trial = study.ask()
        value = objective(trial.config)
        study.tell(trial, value)
        best = min(best, value)
    return task, sampler, seed, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    seeds = range(args.seeds)
    jobs = [(t, s, seed) for t in SPACES for s in SAMPLERS for seed in seeds]
    start = time.perf_counter()
    best: dict[str, dict[str, dict[int, float]]] = {}
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for task, sampler, seed, value in pool.imap_unordered(run, jobs):
            best.setdefault(task, {}).setdefault(sampler, {})[seed] = value
    rows = []
    for task in SPACES:
        runs = best[task]
        top = min(min(v.values()) for v in runs.values())
        median_random = float(np.median(list(runs["random"].values())))
        span = median_random - top

        def score(name: str, runs: dict = runs, median_random: float = median_random,
                  span: float = span) -> float:
            values = np.array([runs[name][s] for s in seeds])
            return float(np.mean(100.0 * (median_random - values) / span)) if span > 0 else 100.0

        gp, tpe = runs["gp"], runs["tpe"]
        wins = sum(gp[s] < tpe[s] - 1e-12 for s in seeds)
        ties = sum(abs(gp[s] - tpe[s]) <= 1e-12 for s in seeds)
        rows.append((task, score("gp"), score("tpe"), score("random"), wins, ties, len(seeds) - wins - ties))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{stamp}; {os.cpu_count()} cores, Python {platform.python_version()}, {args.seeds} seeds, "
          f"{BUDGET} trials; {time.perf_counter() - start:.0f} s")
    if args.markdown:
        print("| space | GP score | TPE score | random score | GP better / tie / TPE better |")
        print("|---|--:|--:|--:|--:|")
        for task, g, t, r, w, ti, lo in rows:
            print(f"| {task} | {g:.1f} | {t:.1f} | {r:.1f} | {w} / {ti} / {lo} |")
    else:
        for task, g, t, r, w, ti, lo in rows:
            print(f"{task:24} gp {g:6.1f}  tpe {t:6.1f}  random {r:6.1f}  gp better {w}, ties {ti}, "
                  f"tpe better {lo}")
    total = [sum(r[i] for r in rows) for i in (4, 5, 6)]
    print(f"\nall spaces: GP better on {total[0]}, tied on {total[1]}, TPE better on {total[2]} "
          f"of {sum(total)} (space, seed) pairs")


if __name__ == "__main__":
    main()

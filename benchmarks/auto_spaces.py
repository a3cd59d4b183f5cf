"""GP against TPE on choice-heavy and conditional spaces: which should ``Auto`` pick for a small budget?

Choice-heavy: four synthetic spaces where choices make up half or all of the dimensions. Each choice
adds a value from a random table, the first two choices interact through a random pair table, and
the float dimensions add a quadratic bowl whose centre depends on the first choice.
Conditional: ``optimizers`` (which optimizer, its learning rate, and a parameter only that optimizer
has, each optimum elsewhere; the easiest branch has the worst floor), ``models`` (two models with
their own float, integer and choice parameters), and ``sklearn`` (logistic regression, SVC or kNN
on scikit-learn's breast-cancer data, each with its own parameters; 3-fold CV error).
60 trials per run, the same seeds for every sampler; scores are normalized like the peers benchmark
(100 = best value any sampler found on the space, 0 = random search's median best).

    .venv/bin/python benchmarks/auto_spaces.py --seeds 10 --markdown
"""

from __future__ import annotations

import argparse
import math
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
    """The space and objective of one named task."""
    if name in CONDITIONAL:
        return CONDITIONAL[name]()
    return _choice_task(name)


def _choice_task(name: str) -> tuple[dict[str, Any], Callable[[Mapping[str, Any]], float]]:
    """A choice-heavy space and its objective (fixed random tables per task)."""
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


def _optimizers_task() -> tuple[dict[str, Any], Callable[[Mapping[str, Any]], float]]:
    space = {"opt": shoal.Choice(["adam", "sgd", "rmsprop"]), "lr": shoal.Float(1e-4, 1, scale="log"),
             "beta": shoal.Float(0.8, 0.999, scale="reverse_log", when={"opt": ["adam"]}),
             "momentum": shoal.Float(0, 0.99, when={"opt": ["sgd"]}),
             "rho": shoal.Float(0.5, 0.99, when={"opt": ["rmsprop"]})}

    def objective(c: Mapping[str, Any]) -> float:
        lr = math.log10(c["lr"])
        if c["opt"] == "adam":
            return (lr + 3) ** 2 + 12.5 * (math.log10(1 - c["beta"]) + 2) ** 2
        if c["opt"] == "sgd":
            return 0.3 + (lr + 1.5) ** 2 + 2 * (c["momentum"] - 0.9) ** 2
        return 0.5 + (lr + 2.5) ** 2 + (c["rho"] - 0.9) ** 2

    return space, objective


def _models_task() -> tuple[dict[str, Any], Callable[[Mapping[str, Any]], float]]:
    space = {"model": shoal.Choice(["a", "b"]), "x": shoal.Float(0, 1),
             "ya": shoal.Float(0, 1, when={"model": ["a"]}), "za": shoal.Int(1, 20, when={"model": ["a"]}),
             "yb": shoal.Float(0, 1, when={"model": ["b"]}),
             "kb": shoal.Choice(["p", "q", "r"], when={"model": ["b"]})}

    def objective(c: Mapping[str, Any]) -> float:
        if c["model"] == "a":
            return (c["x"] - 0.2) ** 2 + (c["ya"] - 0.7) ** 2 + 0.01 * (c["za"] - 13) ** 2
        return 0.05 + (c["x"] - 0.6) ** 2 + (c["yb"] - 0.3) ** 2 + {"p": 0.2, "q": 0.0, "r": 0.1}[c["kb"]]

    return space, objective


def _sklearn_task() -> tuple[dict[str, Any], Callable[[Mapping[str, Any]], float]]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = load_breast_cancer(return_X_y=True)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    space = {"model": shoal.Choice(["logreg", "svc", "knn"]),
             "C": shoal.Float(1e-4, 1e3, scale="log", when={"model": ["logreg", "svc"]}),
             "gamma": shoal.Float(1e-5, 1.0, scale="log", when={"model": ["svc"]}),
             "n_neighbors": shoal.Int(1, 50, when={"model": ["knn"]}),
             "weights": shoal.Choice(["uniform", "distance"], when={"model": ["knn"]})}

    def objective(c: Mapping[str, Any]) -> float:
        if c["model"] == "logreg":
            model: Any = LogisticRegression(C=c["C"], max_iter=2000)
        elif c["model"] == "svc":
            model = SVC(C=c["C"], gamma=c["gamma"])
        else:
            model = KNeighborsClassifier(n_neighbors=c["n_neighbors"], weights=c["weights"])
        return 1.0 - float(cross_val_score(make_pipeline(StandardScaler(), model), x, y, cv=folds).mean())

    return space, objective


CONDITIONAL: dict[str, Callable[[], tuple[dict[str, Any], Callable[[Mapping[str, Any]], float]]]] = {
    "optimizers (conditional)": _optimizers_task, "models (conditional)": _models_task,
    "sklearn (conditional)": _sklearn_task}
TASKS = [*SPACES, *CONDITIONAL]


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
    jobs = [(t, s, seed) for t in TASKS for s in SAMPLERS for seed in seeds]
    start = time.perf_counter()
    best: dict[str, dict[str, dict[int, float]]] = {}
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for task, sampler, seed, value in pool.imap_unordered(run, jobs):
            best.setdefault(task, {}).setdefault(sampler, {})[seed] = value
    rows = []
    for task in TASKS:
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
    print()
    for label, names in (("choice-heavy", SPACES), ("conditional", CONDITIONAL)):
        total = [sum(r[i] for r in rows if r[0] in names) for i in (4, 5, 6)]
        print(f"{label} spaces: GP better on {total[0]}, tied on {total[1]}, TPE better on {total[2]} "
              f"of {sum(total)} (space, seed) pairs")


if __name__ == "__main__":
    main()

"""Multi-fidelity search at equal compute: shoal's schedulers next to Optuna's pruners.

Two learning-curve tasks, each trial trained epoch by epoch up to ``E`` epochs:

- ``synthetic``: 4 dimensions in [0, 1], a known curve ``loss(x, e) = f(x) + c(x) exp(-e / tau(x))``
  (minimize), ``tau = 1 + 2 x3``: slow learners (large ``x3``) end lower (by ``0.05 x3``), so a
  low-budget ranking misleads a little, as real learning curves do. ``E = 27``, budget 60 x 27 epochs.
- ``crossing``: the same with ``tau = 1 + 12 x3`` and a ``0.2 x3`` gain: the best configurations are
  the slowest learners, a case built to mislead early stopping (it shows the cost of being wrong).
- ``mlp``: ``examples/asha_mlp.py``, a scikit-learn SGD MLP on the digits data, validation accuracy
  after each epoch (maximize). ``E = 27``, budget 30 x 27 epochs.

Every method gets the same budget of epochs (an epoch past the budget is never trained: the trial
then ends as pruned) and runs in this process, one trial at a time:

- ``random``: shoal random search, no stopping (every trial trains E epochs);
- ``asha``: random + ``ASHA(1, reduction_factor=3, max_resource=E)`` (stop mode);
- ``hyperband``: random + ``Hyperband(1, max_resource=E, reduction_factor=3)``;
- ``bohb``: ``BOHB()`` + ``Hyperband(1, max_resource=E, reduction_factor=3)``;
- ``optuna-sha``: Optuna's RandomSampler + SuccessiveHalvingPruner(min_resource=1, reduction_factor=3);
- ``optuna-tpe-hb``: Optuna's TPESampler + HyperbandPruner(1, E, 3) (Optuna's BOHB-like pairing).

The score of a run is the best value among trials trained to E epochs (COMPLETE). Reported per method:
the mean (and range) of the final best over the seeds; for ASHA, the epochs it needed to match random
search's final best value (its fraction of random search's epochs, target <= 1/3); for BOHB, how many
seeds it beat Optuna's TPE + Hyperband at equal epochs.

    .venv/bin/python benchmarks/multifidelity.py [--seeds 5] [--tasks synthetic,mlp] [--markdown] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from _machine import cpu_model

import shoal
from shoal.samplers import BOHB, Random
from shoal.schedulers import ASHA, Hyperband

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


class _Spent(Exception):
    """The epoch budget is spent."""


@dataclass
class Task:
    name: str
    direction: str
    epochs: int
    budget: int
    space: dict[str, shoal.Dimension]
    curve: Callable[[dict[str, Any]], Callable[[int], float]]  # config -> (epoch -> value)
    suggest: Callable[[Any], dict[str, Any]]  # an Optuna trial -> config


# -- tasks ---------------------------------------------------------------------------------------


def _synthetic(slowness: float, gain: float) -> Callable[[dict[str, Any]], Callable[[int], float]]:
    """Curves ``f(x) + (1 + x0) exp(-e / (1 + slowness x3))`` with ``f`` lower by ``gain x3``."""

    def curve(config: dict[str, Any]) -> Callable[[int], float]:
        x = np.array([config[f"x{i}"] for i in range(4)])
        final = float(np.sum((x[:3] - np.array([0.3, 0.7, 0.5])) ** 2) - gain * x[3] + gain)
        tau = 1.0 + slowness * x[3]
        height = 1.0 + x[0]
        return lambda e: final + height * math.exp(-e / tau)

    return curve


def _synthetic_suggest(trial) -> dict[str, Any]:
    return {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(4)}


def _mlp_curve(config: dict[str, Any]) -> Callable[[int], float]:
    import pickle
    import warnings

    import asha_mlp
    from threadpoolctl import threadpool_limits

    x_train, x_val, y_train, y_val = asha_mlp.load_data()
    model = asha_mlp._model(config)
    classes = np.arange(10)

    def step(_epoch: int) -> float:
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            model.partial_fit(x_train, y_train, classes=classes)
            return float(model.score(x_val, y_val))

    _ = pickle  # models stay in memory: trials here are never resumed
    return step


def _mlp_suggest(trial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1.0, log=True),
        "momentum": 1.0 - trial.suggest_float("one_minus_momentum", 0.01, 0.5, log=True),
        "hidden_units": trial.suggest_int("hidden_units", 8, 128, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128, 256]),
        "l2": trial.suggest_float("l2", 1e-6, 1e-1, log=True),
    }


def tasks() -> dict[str, Task]:
    import asha_mlp

    return {
        "synthetic": Task(
            "synthetic", "minimize", 27, 60 * 27,
            {f"x{i}": shoal.Float(0.0, 1.0) for i in range(4)}, _synthetic(2.0, 0.05), _synthetic_suggest,
        ),
        "crossing": Task(
            "crossing", "minimize", 27, 60 * 27,
            {f"x{i}": shoal.Float(0.0, 1.0) for i in range(4)}, _synthetic(12.0, 0.2), _synthetic_suggest,
        ),
        "mlp": Task("mlp", "maximize", 27, 30 * 27, asha_mlp.SPACE, _mlp_curve, _mlp_suggest),
    }


# -- runs ----------------------------------------------------------------------------------------


@dataclass
class Run:
    method: str
    seed: int
    trajectory: list[tuple[int, float]] = field(default_factory=list)  # (epochs so far, best so far)
    epochs: int = 0
    configs: int = 0
    seconds: float = 0.0

    @property
    def best(self) -> float:
        return self.trajectory[-1][1] if self.trajectory else float("nan")

    def epochs_to_reach(self, target: float, better: Callable[[float, float], bool]) -> int | None:
        for epochs, best in self.trajectory:
            if best == target or better(best, target):
                return epochs
        return None


class Counter:
    def __init__(self, budget: int) -> None:
        self.budget, self.used = budget, 0

    def tick(self) -> None:
        if self.used >= self.budget:
            raise _Spent
        self.used += 1


def _better(direction: str) -> Callable[[float, float], bool]:
    return (lambda a, b: a > b) if direction == "maximize" else (lambda a, b: a < b)


def run_shoal(task: Task, method: str, seed: int) -> Run:
    sampler = BOHB() if method == "bohb" else Random()
    scheduler = {
        "random": None,
        "asha": ASHA(1, reduction_factor=3, max_resource=task.epochs),
        "hyperband": Hyperband(1, max_resource=task.epochs, reduction_factor=3),
        "bohb": Hyperband(1, max_resource=task.epochs, reduction_factor=3),
    }[method]
    study = shoal.Study(f"{task.name}-{method}", task.space, task.direction, sampler=sampler,
                        scheduler=scheduler, seed=seed)
    counter, out, better = Counter(task.budget), Run(method, seed), _better(task.direction)

    def objective(config, trial):
        curve = task.curve(config)
        value = float("nan")
        for epoch in range(1, task.epochs + 1):
            try:
                counter.tick()
            except _Spent:
                raise shoal.TrialPruned() from None
            value = curve(epoch)
            trial.report(value, epoch)
            if trial.should_stop():
                raise shoal.TrialPruned()
        return value

    best = None
    start = time.perf_counter()
    while counter.used < counter.budget:
        study.optimize(objective, 1, show_progress=False)
        last = study.trials[-1]
        if last.state == shoal.TrialState.COMPLETE and (best is None or better(last.value, best)):
            best = last.value
        if best is not None:
            out.trajectory.append((counter.used, best))
    out.seconds = time.perf_counter() - start
    out.epochs, out.configs = counter.used, len(study.trials)
    return out


def run_optuna(task: Task, method: str, seed: int) -> Run:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method == "optuna-sha":
        sampler = optuna.samplers.RandomSampler(seed=seed)
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=task.epochs, reduction_factor=3)
    study = optuna.create_study(direction=task.direction, sampler=sampler, pruner=pruner)
    counter, out, better = Counter(task.budget), Run(method, seed), _better(task.direction)
    best: list[float | None] = [None]

    def objective(trial) -> float:
        curve = task.curve(task.suggest(trial))
        value = float("nan")
        for epoch in range(1, task.epochs + 1):
            try:
                counter.tick()
            except _Spent:
                raise optuna.TrialPruned() from None
            value = curve(epoch)
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    def record(study, trial) -> None:
        if trial.state == optuna.trial.TrialState.COMPLETE and (
            best[0] is None or better(trial.value, best[0])
        ):
            best[0] = trial.value
        if best[0] is not None:
            out.trajectory.append((counter.used, best[0]))
        if counter.used >= counter.budget:
            study.stop()

    start = time.perf_counter()
    study.optimize(objective, callbacks=[record])
    out.seconds = time.perf_counter() - start
    out.epochs, out.configs = counter.used, len(study.trials)
    return out


METHODS = ["random", "asha", "hyperband", "bohb", "optuna-sha", "optuna-tpe-hb"]


def run(task: Task, method: str, seed: int) -> Run:
    return run_optuna(task, method, seed) if method.startswith("optuna") else run_shoal(task, method, seed)


# -- report --------------------------------------------------------------------------------------


def summarize(task: Task, runs: dict[str, list[Run]]) -> list[str]:
    better = _better(task.direction)
    lines = [
        f"### {task.name} ({task.direction}, E = {task.epochs} epochs, budget {task.budget} epochs, "
        f"{len(runs['random'])} seeds)",
        "",
        "| method | final best, mean | range over seeds | configurations tried (mean) | seconds (mean) |",
        "|---|--:|---|--:|--:|",
    ]
    for method, method_runs in runs.items():
        bests = [r.best for r in method_runs]
        lines.append(
            f"| {method} | {statistics.fmean(bests):.4f} | {min(bests):.4f} - {max(bests):.4f} | "
            f"{statistics.fmean(r.configs for r in method_runs):.0f} | "
            f"{statistics.fmean(r.seconds for r in method_runs):.1f} |"
        )
    lines.append("")
    fractions = []
    for base, asha in zip(runs["random"], runs["asha"], strict=True):
        needed = asha.epochs_to_reach(base.best, better)
        fractions.append(None if needed is None else needed / base.epochs)
    shown = ", ".join("never" if f is None else f"{f:.2f}" for f in fractions)
    met = sum(1 for f in fractions if f is not None and f <= 1 / 3)
    median = statistics.median(math.inf if f is None else f for f in fractions)
    lines.append(
        f"- ASHA epochs to match random search's final best, as a fraction of random search's epochs "
        f"(per seed): {shown}; median {'never' if math.isinf(median) else f'{median:.2f}'}; "
        f"target <= 0.33 met on {met} of {len(fractions)} seeds"
    )
    if "bohb" in runs and "optuna-tpe-hb" in runs:
        wins = sum(better(b.best, o.best) for b, o in zip(runs["bohb"], runs["optuna-tpe-hb"], strict=True))
        ties = sum(b.best == o.best for b, o in zip(runs["bohb"], runs["optuna-tpe-hb"], strict=True))
        lines.append(
            f"- BOHB vs Optuna TPE + Hyperband at equal epochs: BOHB better on {wins}, tied on {ties}, "
            f"worse on {len(runs['bohb']) - wins - ties} of {len(runs['bohb'])} seeds"
        )
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tasks", default="synthetic,crossing,mlp")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--quick", action="store_true", help="2 seeds, budgets divided by 3")
    parser.add_argument("--markdown", action="store_true", help="print a RESULTS.md section")
    args = parser.parse_args(argv)
    logging.getLogger("shoal").setLevel(logging.WARNING)
    all_tasks = tasks()
    chosen = [all_tasks[name] for name in args.tasks.split(",")]
    methods = args.methods.split(",")
    for needed in ("random", "asha"):
        if needed not in methods:
            methods.insert(0, needed)
    seeds = 2 if args.quick else args.seeds
    load_before = os.getloadavg()[0]
    out: list[str] = []
    for task in chosen:
        if args.quick:
            task.budget //= 3
        runs: dict[str, list[Run]] = {m: [] for m in methods}
        for seed in range(seeds):
            for method in methods:  # interleaved, so drift in machine load hits every method alike
                result = run(task, method, seed)
                runs[method].append(result)
                print(f"{task.name} seed {seed} {method:<14} best {result.best:.4f} "
                      f"configs {result.configs:>4} epochs {result.epochs} {result.seconds:.1f}s",
                      file=sys.stderr, flush=True)
        out += summarize(task, runs)
    import optuna

    header = [
        "```",
        f".venv/bin/python benchmarks/multifidelity.py {' '.join(sys.argv[1:] if argv is None else argv)}",
        "```",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} cores, {cpu_model()}; 1-minute load average {load_before:.2f} before "
        f"the run, {os.getloadavg()[0]:.2f} after",
        f"- software: Python {platform.python_version()}, shoal {shoal.__version__}, "
        f"Optuna {optuna.__version__}",
        "",
    ]
    print("\n".join(header + out) if args.markdown else "\n".join(out))


if __name__ == "__main__":
    main()

"""Overhead of ``Study.optimize``: trials per second on a trivial objective, shoal next to Optuna.

The objective costs nothing, so the figures measure the library alone: sampling, bookkeeping and
storage writes. Both libraries use a seeded random sampler over the same three dimensions, no
progress bar and no logging, once with in-memory storage and once with a fresh SQLite file. After
each SQLite run the file is opened with a separate connection to check that every trial is there,
finished (committed, not held in a cache). shoal's SQLite default (WAL, ``synchronous=normal``)
survives a killed process; a third row runs it with ``?synchronous=full``, which also survives a
power cut, as Optuna's SQLite defaults do (rollback journal, ``synchronous=FULL``).

    .venv/bin/python benchmarks/overhead.py [--markdown] [--quick] [--profile memory|sqlite|sqlite-full]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import logging
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _machine import cpu_model
from rich.console import Console
from rich.table import Table

import shoal
from shoal.samplers import Random

#: Trials per measured run: enough for a few seconds each (Optuna's SQLite does ~66 trials/s).
TRIALS = {
    ("shoal", "memory"): 10_000,
    ("shoal", "sqlite"): 5_000,
    ("shoal", "sqlite-full"): 2_000,
    ("optuna", "memory"): 10_000,
    ("optuna", "sqlite"): 800,
}
QUICK_TRIALS = {key: max(50, n // 20) for key, n in TRIALS.items()}
WARMUP_TRIALS = 50
#: The issue's targets: shoal/Optuna ratio, and an absolute floor for SQLite (default settings).
TARGET_RATIO = {"memory": 1.0, "sqlite": 20.0}
#: shoal backend -> (Optuna backend it is compared with, label).
ROWS = {
    "memory": ("memory", "in-memory"),
    "sqlite": ("sqlite", "SQLite file"),
    "sqlite-full": ("sqlite", "SQLite, full sync"),
}
TARGET_SQLITE_PER_S = 1_300

SPACE = {
    "x": shoal.Float(-10.0, 10.0),
    "y": shoal.Float(1e-3, 1.0, scale="log"),
    "n": shoal.Int(1, 100),
}


def shoal_objective(config: dict[str, Any]) -> float:
    """Costs nothing, so the run measures the library."""
    return config["x"] ** 2 + config["y"] + config["n"]


def optuna_objective(trial: Any) -> float:
    """The same objective over the same three dimensions, Optuna's define-by-run way."""
    x = trial.suggest_float("x", -10.0, 10.0)
    y = trial.suggest_float("y", 1e-3, 1.0, log=True)
    n = trial.suggest_int("n", 1, 100)
    return x**2 + y + n


@dataclass(frozen=True)
class Measurement:
    """One timed ``optimize`` call."""

    library: str
    backend: str
    n_trials: int
    seconds: float
    durable: bool | None  # SQLite only: every trial found finished by a separate connection

    @property
    def per_second(self) -> float:
        return self.n_trials / self.seconds


def _timed(run: Callable[[], None]) -> float:
    gc.collect()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _count_sqlite(path: Path, query: str) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute(query).fetchone()[0])
    finally:
        connection.close()


def measure_shoal(backend: str, n_trials: int, workdir: Path, run_id: int) -> Measurement:
    """One shoal run on a fresh study (and a fresh file for SQLite), after a short warm-up study."""
    path = workdir / f"shoal-{run_id}.db"
    url = {
        "memory": None,
        "sqlite": f"sqlite:///{path}",
        "sqlite-full": f"sqlite:///{path}?synchronous=full",
    }[backend]
    storage = shoal.storage.get_storage(url)
    warmup = shoal.Study("warmup", SPACE, storage=storage, sampler=Random(seed=1))
    warmup.optimize(shoal_objective, WARMUP_TRIALS, show_progress=False)
    study = shoal.Study("overhead", SPACE, storage=storage, sampler=Random(seed=0))
    seconds = _timed(lambda: study.optimize(shoal_objective, n_trials, show_progress=False))
    durable = None
    if url is not None:
        finished = _count_sqlite(
            path,
            "SELECT COUNT(*) FROM shoal_trials t JOIN shoal_studies s ON s.study_id = t.study_id "
            "WHERE s.name = 'overhead' AND t.state = 'COMPLETE' AND t.value IS NOT NULL",
        )
        durable = finished == n_trials
    return Measurement("shoal", backend, n_trials, seconds, durable)


def measure_optuna(backend: str, n_trials: int, workdir: Path, run_id: int) -> Measurement:
    """One Optuna run, same shape: RandomSampler, in-memory or RDB storage on a fresh SQLite file."""
    import optuna

    path = workdir / f"optuna-{run_id}.db"
    storage = None if backend == "memory" else f"sqlite:///{path}"
    warmup = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=1),
                                 study_name="warmup")
    warmup.optimize(optuna_objective, WARMUP_TRIALS)
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0),
                                study_name="overhead")
    seconds = _timed(lambda: study.optimize(optuna_objective, n_trials))
    durable = None
    if storage is not None:
        finished = _count_sqlite(
            path,
            "SELECT COUNT(*) FROM trials t JOIN studies s ON s.study_id = t.study_id "
            "WHERE s.study_name = 'overhead' AND t.state = 'COMPLETE'",
        )
        durable = finished == n_trials
    return Measurement("optuna", backend, n_trials, seconds, durable)


@dataclass(frozen=True)
class Result:
    """Every run of one (library, backend); figures are the median run's."""

    runs: tuple[Measurement, ...]

    @property
    def library(self) -> str:
        return self.runs[0].library

    @property
    def backend(self) -> str:
        return self.runs[0].backend

    @property
    def n_trials(self) -> int:
        return self.runs[0].n_trials

    @property
    def per_second(self) -> float:
        return statistics.median(m.per_second for m in self.runs)

    @property
    def spread(self) -> tuple[float, float]:
        rates = [m.per_second for m in self.runs]
        return min(rates), max(rates)

    @property
    def durable(self) -> bool | None:
        if self.runs[0].durable is None:
            return None
        return all(bool(m.durable) for m in self.runs)


def run_all(trials: dict[tuple[str, str], int], repeats: int) -> list[Result]:
    """Every (library, backend) ``repeats`` times, interleaved so that drift hits all alike."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("shoal").setLevel(logging.WARNING)
    runs: dict[tuple[str, str], list[Measurement]] = {key: [] for key in trials}
    measure = {"shoal": measure_shoal, "optuna": measure_optuna}
    with tempfile.TemporaryDirectory(prefix="shoal-overhead-") as tmp:
        run_id = 0
        for _ in range(repeats):
            for (library, backend), n in trials.items():
                run_id += 1
                runs[(library, backend)].append(measure[library](backend, n, Path(tmp), run_id))
    return [Result(tuple(found)) for found in runs.values()]


def machine() -> str:
    """Cores, CPU model and the versions that matter."""
    cpu = cpu_model()
    import optuna
    import sqlalchemy

    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"shoal {shoal.__version__}, Optuna {optuna.__version__}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


HEADERS = ("storage", "shoal trials/s", "Optuna trials/s", "ratio", "target", "met")


def _rows(results: list[Result]) -> list[tuple[str, ...]]:
    by = {(r.library, r.backend): r for r in results}
    rows = []
    for backend, (optuna_backend, label) in ROWS.items():
        ours, theirs = by.get(("shoal", backend)), by.get(("optuna", optuna_backend))
        if ours is None or theirs is None:
            continue
        ratio = ours.per_second / theirs.per_second
        target, met = "-", "-"
        if backend in TARGET_RATIO:
            target = f">={TARGET_RATIO[backend]:g}x"
            passed = ratio >= TARGET_RATIO[backend]
            if backend == "sqlite":
                target += f", >={TARGET_SQLITE_PER_S:,}/s"
                passed = passed and ours.per_second >= TARGET_SQLITE_PER_S and bool(ours.durable)
            met = "yes" if passed else "NO"
        rates = (f"{ours.per_second:,.0f}", f"{theirs.per_second:,.0f}")
        rows.append((label, *rates, f"{ratio:.1f}x", target, met))
    return rows


def _details(results: list[Result]) -> list[str]:
    lines = []
    for r in results:
        low, high = r.spread
        spread = f"{low:,.0f}" if len(r.runs) == 1 else f"{low:,.0f}-{high:,.0f}"
        runs = "1 run" if len(r.runs) == 1 else f"{len(r.runs)} runs"
        line = f"{r.library} {r.backend}: {r.n_trials:,} trials per run, {runs}, {spread} trials/s"
        if r.durable is not None:
            line += (
                "; every trial read back COMPLETE by a separate connection"
                if r.durable
                else "; TRIALS MISSING when read back by a separate connection"
            )
        lines.append(line)
    return lines


def print_table(console: Console, results: list[Result]) -> None:
    table = Table(title="optimize() overhead, trivial objective (median run)", min_width=60)
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("storage", "target") else "right",
                         no_wrap=header in ("storage", "target"))
    for row in _rows(results):
        table.add_row(*row)
    console.print(table)
    for line in _details(results):
        console.print(f"  {line}", highlight=False, soft_wrap=True)


def markdown(results: list[Result]) -> str:
    """The figures as a Markdown table plus one line per measurement."""
    return "\n".join([
        f"| {' | '.join(HEADERS)} |",
        "|" + "|".join(["---", "--:", "--:", "--:", "---", "---"]) + "|",
        *(f"| {' | '.join(row)} |" for row in _rows(results)),
        "",
        *(f"- {line}" for line in _details(results)),
        f"- each run follows a {WARMUP_TRIALS}-trial warm-up study on the same storage",
    ])


def profile(backend: str, n_trials: int, top: int = 30) -> str:
    """cProfile of one shoal run (tottime and cumulative), as text."""
    logging.getLogger("shoal").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="shoal-profile-") as tmp:
        url = None if backend == "memory" else f"sqlite:///{Path(tmp) / 'p.db'}"
        if backend == "sqlite-full":
            url += "?synchronous=full"
        study = shoal.Study("profile", SPACE, storage=url, sampler=Random(seed=0))
        study.optimize(shoal_objective, WARMUP_TRIALS, show_progress=False)
        profiler = cProfile.Profile()
        profiler.enable()
        study.optimize(shoal_objective, n_trials, show_progress=False)
        profiler.disable()
        if url is not None:
            study.storage.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown block to paste")
    parser.add_argument("--quick", action="store_true", help="1/20 of the trials, one run (a smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (default: %(default)s)")
    parser.add_argument("--profile", choices=tuple(ROWS), help="profile one shoal run instead")
    args = parser.parse_args(argv)
    console = Console()
    if args.profile:
        print(profile(args.profile, TRIALS[("shoal", args.profile)]))
        return 0
    trials = QUICK_TRIALS if args.quick else TRIALS
    repeats = 1 if args.quick else max(1, args.repeats)
    console.print(f"machine: {machine()}", highlight=False)
    load_before = load_average()
    results = run_all(trials, repeats)
    load_after = load_average()
    print_table(console, results)
    console.print(f"  1-minute load average: {load_before} before, {load_after} after", highlight=False)
    if args.markdown:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        print(f"\n<!-- benchmarks/overhead.py --markdown, {stamp} -->")
        print(f"machine: {machine()}; 1-minute load average {load_before} before, {load_after} after")
        print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

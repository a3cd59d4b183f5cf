"""Parallel efficiency of ``Study.optimize``: sleeping trials on several workers, next to Optuna.

Every run does the same 64 trials of an objective that sleeps 0.5 s (so it uses no CPU and the
cores of a small machine are not the limit) on a fresh SQLite file:

- shoal with ``n_workers`` 1 (in process), 2 and 4 (local worker processes);
- shoal on a Dask cluster (``executor=client``): a ``LocalCluster`` of 2 worker processes with one
  thread each, started in a separate process as a real cluster would be, so the driver's CPU
  figure is the driver's alone;
- Optuna's ``study.optimize(n_jobs=2 and 4)`` (threads);
- Optuna's multi-process mode: 2 and 4 processes, each running
  ``optuna.load_study(...).optimize(...)`` on the same SQLite storage and stopping with
  ``MaxTrialsCallback`` once the study holds 64 trials.

Parallel efficiency is the ideal wall time (trials x 0.5 s / workers) over the measured one, from
the ``optimize`` call (or the launch of the processes) to its return; worker start-up is counted.
Driver CPU is ``time.process_time()`` of the process that calls ``optimize`` during the run, over
the wall time, as a percentage of one core. Each measurement runs 3 times (interleaved, so drift
hits all alike) and the median-wall run is shown, with the range in a note. For shoal, the lost
slot-time is split using the trials' own timestamps: before the first trial, inside trials (worker
start-up and dispatch), between trials and after the last one. ``--profile`` times the local pool's
start, each worker's start-up and the pool's close, and profiles the driver.

    .venv/bin/python benchmarks/parallel.py [--markdown] [--quick] [--repeats N] [--no-optuna] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import platform
import pstats
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _machine import cpu_model

import shoal

TRIALS = 64
QUICK_TRIALS = 16
SLEEP = 0.5
LOCAL_WORKERS = (1, 2, 4)
DASK_WORKERS = 2
OPTUNA_WORKERS = (2, 4)
#: The issue's targets.
TARGET_LOCAL = 0.90  # efficiency at 2 and 4 local workers
TARGET_DASK = 0.85
TARGET_DRIVER_CPU = 5.0  # % of one core


def objective(config: dict[str, Any]) -> float:
    """Sleeps: the trial costs time but no CPU."""
    time.sleep(SLEEP)
    return config["x"] ** 2


def optuna_objective(trial: Any) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    time.sleep(SLEEP)
    return x**2


@dataclass
class Breakdown:
    """Where a shoal run's slot-seconds went (workers x wall = sleeping + the rest)."""

    head: float  # slot-seconds before each slot's first trial was created
    inside: float  # trial durations beyond the sleep: worker start-up, dispatch, result transfer
    first_round: float  # mean excess duration of the first trial of each slot (start-up included)
    later: float  # median excess duration of the other trials
    between: float  # slot-seconds between one trial's end and the next one's creation
    tail: float  # slot-seconds after each slot's last trial finished, until optimize returned


@dataclass
class Row:
    system: str
    mode: str
    workers: int
    trials: int
    wall: float
    driver_cpu: float | None  # % of one core
    target: float | None = None
    breakdown: Breakdown | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ideal(self) -> float:
        return self.trials * SLEEP / self.workers

    @property
    def efficiency(self) -> float:
        return self.ideal / self.wall


# -- shoal -------------------------------------------------------------------------------------
def _breakdown(trials: list[shoal.Trial], workers: int, began: float, ended: float) -> Breakdown:
    starts = sorted(t.started_at.timestamp() for t in trials)
    ends = sorted(t.finished_at.timestamp() for t in trials)
    durations = [t.finished_at.timestamp() - t.started_at.timestamp() for t in trials]
    by_number = sorted(trials, key=lambda t: t.number)
    first = [t.finished_at.timestamp() - t.started_at.timestamp() - SLEEP for t in by_number[:workers]]
    later = [t.finished_at.timestamp() - t.started_at.timestamp() - SLEEP for t in by_number[workers:]]
    head = sum(s - began for s in starts[:workers])
    tail = sum(ended - e for e in ends[-workers:])
    inside = sum(durations) - len(trials) * SLEEP
    idle = workers * (ended - began) - sum(durations)
    return Breakdown(
        head=head,
        inside=inside,
        first_round=statistics.mean(first),
        later=statistics.median(later) if later else 0.0,
        between=idle - head - tail,
        tail=tail,
    )


def run_shoal(
    n_trials: int, workdir: Path, label: str, *, n_workers: int = 1, executor: Any = None,
    slots: int | None = None, profiler: cProfile.Profile | None = None,
) -> Row:
    study = shoal.Study(
        "parallel", {"x": shoal.Float(-1.0, 1.0)}, storage=f"sqlite:///{workdir / label}.db", seed=0
    )
    began, cpu, clock = time.time(), time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    study.optimize(objective, n_trials, n_workers=n_workers, executor=executor, show_progress=False)
    if profiler is not None:
        profiler.disable()
    wall, cpu, ended = time.perf_counter() - clock, time.process_time() - cpu, time.time()
    trials = study.trials
    done = sum(t.state == shoal.TrialState.COMPLETE for t in trials)
    if done != n_trials:
        raise RuntimeError(f"shoal {label}: {done} of {n_trials} trials completed")
    workers = slots or n_workers
    mode = "Dask LocalCluster" if executor is not None else (
        "in process" if n_workers == 1 else "local processes (n_workers)"
    )
    target = TARGET_DASK if executor is not None else (TARGET_LOCAL if n_workers > 1 else None)
    study.storage.close()
    return Row("shoal", mode, workers, n_trials, wall, 100 * cpu / wall, target,
               _breakdown(trials, workers, began, ended))


def serve_dask_cluster() -> None:
    """(In a child process.) Start a LocalCluster, print its address, run until stdin closes."""
    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = LocalCluster(
        n_workers=DASK_WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
    )
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()
    cluster.close()


def run_shoal_dask(n_trials: int, workdir: Path, tag: str = "") -> Row | str:
    try:
        from distributed import Client
    except ImportError:
        return "dask not installed (pip install 'shoal[dask]'): Dask row left out"
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-dask-cluster"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        address = server.stdout.readline().strip()
        if not address:
            return "the Dask cluster did not start: Dask row left out"
        with Client(address, set_as_default=False) as client:
            client.wait_for_workers(DASK_WORKERS, timeout=60)
            return run_shoal(n_trials, workdir, f"dask-{tag}", executor=client, slots=DASK_WORKERS)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# -- Optuna ------------------------------------------------------------------------------------
def _optuna_storage(workdir: Path, label: str) -> str:
    return f"sqlite:///{workdir / label}.db"


def _optuna_complete(url: str) -> tuple[int, float]:
    """Completed trials, and the first trial's start (a UTC timestamp), read with sqlite3."""
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        done = connection.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
        first = connection.execute("SELECT MIN(datetime_start) FROM trials").fetchone()[0]
    finally:
        connection.close()
    # Optuna stores naive local times
    return int(done), datetime.fromisoformat(first).timestamp()


def run_optuna_threads(n_trials: int, workdir: Path, n_jobs: int, tag: str = "") -> Row:
    import optuna

    url = _optuna_storage(workdir, f"optuna-threads-{n_jobs}-{tag}")
    study = optuna.create_study(study_name="parallel", storage=url,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    cpu, clock = time.process_time(), time.perf_counter()
    study.optimize(optuna_objective, n_trials, n_jobs=n_jobs)
    wall, cpu = time.perf_counter() - clock, time.process_time() - cpu
    done, _ = _optuna_complete(url)
    return Row("Optuna", "threads (n_jobs)", n_jobs, done, wall, 100 * cpu / wall)


def optuna_process(url: str, n_trials: int) -> None:
    """(In a child process.) One of several Optuna workers sharing a study and its budget."""
    import optuna
    from optuna.study import MaxTrialsCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="parallel", storage=url)
    study.optimize(optuna_objective, callbacks=[MaxTrialsCallback(n_trials, states=None)])


def run_optuna_processes(n_trials: int, workdir: Path, n_processes: int, tag: str = "") -> Row:
    import optuna

    url = _optuna_storage(workdir, f"optuna-processes-{n_processes}-{tag}")
    optuna.create_study(study_name="parallel", storage=url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began, clock = time.time(), time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, __file__, "--optuna-process", url, str(n_trials)])
        for _ in range(n_processes)
    ]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if any(codes):
        raise RuntimeError(f"Optuna processes exited with {codes}")
    done, first = _optuna_complete(url)
    children_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Row(
        "Optuna", "processes (load_study)", n_processes, done, wall, None,
        notes=[
            f"{done} trials completed (MaxTrialsCallback({n_trials}) is checked after each trial)",
            f"first trial started {first - began:.2f} s after launch (Python and Optuna import)",
            f"the {n_processes} processes used {children_cpu:.2f} s CPU "
            f"({100 * children_cpu / wall:.1f}% of a core over the run)",
        ],
    )


# -- report ------------------------------------------------------------------------------------
HEADERS = ("library", "mode", "workers", "trials", "ideal s", "wall s", "efficiency",
           "driver CPU", "target", "met")


def _cells(row: Row) -> tuple[str, ...]:
    target, met = "", ""
    if row.target is not None:
        target = f">={row.target:.2f}, CPU<{TARGET_DRIVER_CPU:g}%"
        ok = row.efficiency >= row.target and row.driver_cpu is not None and \
            row.driver_cpu < TARGET_DRIVER_CPU
        met = "yes" if ok else "NO"
    elif row.system == "shoal":
        target = f"CPU<{TARGET_DRIVER_CPU:g}%"
        met = "yes" if (row.driver_cpu or 0) < TARGET_DRIVER_CPU else "NO"
    return (
        row.system, row.mode, str(row.workers), str(row.trials), f"{row.ideal:.1f}", f"{row.wall:.2f}",
        f"{row.efficiency:.3f}", "" if row.driver_cpu is None else f"{row.driver_cpu:.1f}%", target, met,
    )


def _details(rows: list[Row]) -> list[str]:
    lines = []
    for row in rows:
        where = f"{row.system}, {row.mode}, {row.workers} worker{'s' * (row.workers != 1)}"
        b = row.breakdown
        if b is not None:
            lost = row.workers * row.wall - row.trials * SLEEP
            lines.append(
                f"{where}: {lost:.2f} slot-seconds lost = {b.head:.2f} before the first trials + "
                f"{b.inside:.2f} inside trials (first trial of a slot {1000 * b.first_round:.0f} ms over "
                f"0.5 s, later ones {1000 * b.later:.1f} ms) + {b.between:.2f} between trials + "
                f"{b.tail:.2f} after the last"
            )
        lines.extend(f"{where}: {note}" for note in row.notes)
    return lines


def print_table(rows: list[Row]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    table = Table(title=f"{rows[0].trials if rows else TRIALS} trials of a {SLEEP} s sleep, SQLite storage")
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("library", "mode", "target") else "right")
    for row in rows:
        table.add_row(*_cells(row))
    console.print(table)
    for line in _details(rows):
        console.print(f"  {line}", soft_wrap=True)


def markdown(rows: list[Row]) -> str:
    align = ["---", "---", "--:", "--:", "--:", "--:", "--:", "--:", "---", "---"]
    return "\n".join([
        f"| {' | '.join(HEADERS)} |",
        "|" + "|".join(align) + "|",
        *(f"| {' | '.join(_cells(row))} |" for row in rows),
        "",
        *(f"- {line}" for line in _details(rows)),
    ])


def machine() -> str:
    cpu = cpu_model()
    versions = [f"Python {platform.python_version()}", f"shoal {shoal.__version__}"]
    for name in ("optuna", "dask", "distributed"):
        try:
            module = __import__(name)
            versions.append(f"{name} {module.__version__}")
        except ImportError:
            versions.append(f"{name} not installed")
    versions.append(f"SQLite {sqlite3.sqlite_version}")
    return f"{os.cpu_count()} cores ({cpu}), " + ", ".join(versions)


def _time_pool(events: dict[str, list[float]]) -> list[tuple[Any, str, Any]]:
    """Wrap LocalPool's start, worker spawn, first 'ready' and close to time them; returns undo info."""
    from shoal.execution import local

    pool = local.LocalPool
    originals = [(pool, name, getattr(pool, name)) for name in ("start", "_spawn", "_drain", "close")]
    start, spawn, drain, close = (fn for _, _, fn in originals)
    born: dict[int, float] = {}

    def timed_start(self, job, on_report):
        began = time.perf_counter()
        start(self, job, on_report)
        events["start"].append(time.perf_counter() - began)

    def timed_spawn(self):
        worker = spawn(self)
        born[id(worker)] = time.perf_counter()
        return worker

    def timed_drain(self, worker):
        was_ready = worker.ready
        drain(self, worker)
        if not was_ready and worker.ready and id(worker) in born:
            events["ready"].append(time.perf_counter() - born.pop(id(worker)))

    def timed_close(self):
        began = time.perf_counter()
        close(self)
        events["close"].append(time.perf_counter() - began)

    pool.start, pool._spawn, pool._drain, pool.close = timed_start, timed_spawn, timed_drain, timed_close
    return originals


def profile(n_trials: int) -> str:
    """Where a 4-worker local run loses time: pool start, worker start-up, close; and the driver's CPU."""
    events: dict[str, list[float]] = {"start": [], "ready": [], "close": []}
    originals = _time_pool(events)
    profiler = cProfile.Profile()
    try:
        with tempfile.TemporaryDirectory(prefix="shoal-parallel-profile-") as tmp:
            row = run_shoal(n_trials, Path(tmp), "profile", n_workers=4, profiler=profiler)
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)
    out = io.StringIO()
    out.write(f"wall {row.wall:.2f} s (ideal {row.ideal:.1f} s, efficiency {row.efficiency:.3f}), "
              f"driver CPU {row.driver_cpu:.2f}% of a core (with the profiler on)\n")
    out.write("\n".join(_details([row])) + "\n")
    out.write(f"LocalPool.start (cloudpickle the job, Popen 4 workers): {1000 * events['start'][0]:.0f} ms\n")
    out.write("worker start-up, Popen to its 'ready' message being read: "
              + ", ".join(f"{1000 * t:.0f} ms" for t in events["ready"]) + "\n")
    closed = 1000 * events["close"][0]
    out.write(f"LocalPool.close (exit message, wait for the processes): {closed:.0f} ms\n\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def run_once(n_trials: int, workdir: Path, tag: str, *, with_optuna: bool) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    skipped: list[str] = []
    for n_workers in LOCAL_WORKERS:
        rows.append(run_shoal(n_trials, workdir, f"local-{n_workers}-{tag}", n_workers=n_workers))
    dask_row = run_shoal_dask(n_trials, workdir, tag)
    if isinstance(dask_row, str):
        skipped.append(dask_row)
    else:
        rows.append(dask_row)
    if with_optuna:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        for n_jobs in OPTUNA_WORKERS:
            rows.append(run_optuna_threads(n_trials, workdir, n_jobs, tag))
        for n_processes in OPTUNA_WORKERS:
            rows.append(run_optuna_processes(n_trials, workdir, n_processes, tag))
    return rows, skipped


def run_all(n_trials: int, repeats: int, *, with_optuna: bool = True) -> tuple[list[Row], list[str]]:
    """Everything ``repeats`` times, interleaved so drift hits all alike; the median-wall run of each."""
    runs: dict[tuple[str, str, int], list[Row]] = {}
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="shoal-parallel-") as tmp:
        for repeat in range(repeats):
            rows, skipped = run_once(n_trials, Path(tmp), str(repeat), with_optuna=with_optuna)
            for row in rows:
                runs.setdefault((row.system, row.mode, row.workers), []).append(row)
    chosen = []
    for found in runs.values():
        found.sort(key=lambda r: r.wall)
        row = found[len(found) // 2]
        if len(found) > 1:
            cpu = [r.driver_cpu for r in found if r.driver_cpu is not None]
            row.notes.insert(0, (
                f"{len(found)} runs: efficiency {found[-1].efficiency:.3f}-{found[0].efficiency:.3f}"
                + (f", driver CPU {min(cpu):.1f}-{max(cpu):.1f}%" if cpu else "")
                + "; the median run is shown"
            ))
        chosen.append(row)
    return chosen, skipped


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--optuna-process"]:
        optuna_process(argv[1], int(argv[2]))
        return 0
    if argv[:1] == ["--serve-dask-cluster"]:
        serve_dask_cluster()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown block to paste")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_TRIALS} trials (a smoke run)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each measurement, median shown (default: %(default)s; 1 with --quick)")
    parser.add_argument("--no-optuna", action="store_true", help="leave out the Optuna rows")
    parser.add_argument("--profile", action="store_true",
                        help="profile the driver of a 4-worker local run instead")
    args = parser.parse_args(argv)
    logging.getLogger("shoal").setLevel(logging.WARNING)
    n_trials = QUICK_TRIALS if args.quick else TRIALS
    if args.profile:
        print(profile(n_trials))
        return 0
    print(f"machine: {machine()}")
    load_before = os.getloadavg()[0]
    repeats = 1 if args.quick else max(1, args.repeats)
    rows, skipped = run_all(n_trials, repeats, with_optuna=not args.no_optuna)
    load_after = os.getloadavg()[0]
    print_table(rows)
    for line in skipped:
        print(f"  {line}")
    print(f"  1-minute load average: {load_before:.2f} before, {load_after:.2f} after")
    if args.markdown:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        print(f"\n<!-- benchmarks/parallel.py --markdown, {stamp} -->")
        print(f"machine: {machine()}; 1-minute load average {load_before:.2f} before, {load_after:.2f} after")
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

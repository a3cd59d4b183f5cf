"""Objectives (and spying samplers) for the parallel, fault and driver tests.

Worker processes import these by reference (cloudpickle pickles a module-level function by its module
and name), so they live here, not inside test functions. Tests bind their arguments with
``functools.partial`` (a directory for markers and logs, which trial misbehaves).

Most objectives that take ``trial`` report the process they run in first: step 0 is the worker's pid,
step 1 its parent's (the driver's, in a worker process). Reports are stored by the driver before the
worker goes on, so a test that sees a marker file can already read them from storage.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path
from typing import Any

import shoal
from shoal.samplers import Grid, QuasiRandom, SamplingContext

#: The space of the driver tests: tests and driver processes open one study with it.
SPACE = {"x": shoal.Float(0.0, 1.0), "y": shoal.Float(-1.0, 1.0)}

PID_STEP = 0
PARENT_STEP = 1
RSS_BEFORE_STEP = 2
RSS_AFTER_STEP = 3

#: Set to a number of seconds, importing this module (as every worker does to unpickle an objective)
#: takes that long: a worker slow to start, as one importing a large framework is.
SLOW_IMPORT_ENV = "SHOAL_TEST_SLOW_IMPORT"
if os.environ.get(SLOW_IMPORT_ENV):
    time.sleep(float(os.environ[SLOW_IMPORT_ENV]))

#: The leaky objective's garbage: it grows by LEAK_BYTES per call in every process that runs it.
_LEAKED: list[bytes] = []
LEAK_BYTES = 2 * 1024 * 1024


class Fatal(Exception):
    """An error the tests keep outside ``catch``: it must stop the run."""


def report_process(trial: shoal.RunningTrial) -> None:
    trial.report(os.getpid(), PID_STEP)
    trial.report(os.getppid(), PARENT_STEP)


def wait_for(path: Path, seconds: float = 60.0) -> bool:
    """Wait until ``path`` exists (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped by whoever adopted it counts as gone)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until_gone(pid: int, seconds: float) -> bool:
    """Wait until process ``pid`` is gone (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _first_time(directory: str, name: str) -> bool:
    """True for exactly one caller across processes: the one that creates the marker ``name``."""
    try:
        fd = os.open(os.path.join(directory, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _log_run(directory: str, trial: shoal.RunningTrial) -> None:
    """Append one line per call (small O_APPEND writes do not interleave between processes)."""
    line = f"{trial.number} {os.getpid()} {os.getppid()}\n".encode()
    fd = os.open(os.path.join(directory, "runs.log"), os.O_CREAT | os.O_APPEND | os.O_WRONLY)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_runs(directory: str | Path) -> list[tuple[int, int, int]]:
    """The ``(trial number, pid, parent pid)`` of every call logged by ``_log_run``."""
    path = Path(directory) / "runs.log"
    if not path.exists():
        return []
    return [tuple(int(x) for x in line.split()) for line in path.read_text().splitlines()]  # type: ignore[misc]


# -- parallel basics ---------------------------------------------------------------------------
def pid_reporter(config: dict[str, Any], trial: shoal.RunningTrial, *, seconds: float = 0.0) -> float:
    report_process(trial)
    if seconds:
        time.sleep(seconds)
    return config["x"]


def slow_at_one(config: dict[str, Any], trial: shoal.RunningTrial) -> float:
    """x == 1.0 (only ever enqueued; Random never draws it) takes 1.5 s, every other config 0.05 s."""
    report_process(trial)
    time.sleep(1.5 if config["x"] == 1.0 else 0.05)
    return config["x"]


def report_then_block(config: dict[str, Any], trial: shoal.RunningTrial, *, directory: str) -> float:
    """Report 0.5 at step 7, say so with the marker ``reported``, then wait for ``release``."""
    trial.report(0.5, 7)
    Path(directory, "reported").write_text(str(trial.number))
    wait_for(Path(directory, "release"))
    return config["x"]


# -- faults ------------------------------------------------------------------------------------
def die_once(config: dict[str, Any], trial: shoal.RunningTrial, *, directory: str, how: str) -> float:
    """The first call anywhere kills its own process (``how``); every other call returns."""
    report_process(trial)
    if _first_time(directory, "died"):
        if how == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif how == "exit3":
            os._exit(3)
        elif how == "segfault":
            ctypes.string_at(0)
        raise AssertionError(f"still alive after {how}")
    time.sleep(0.02)
    return config["x"]


def hang_once(config: dict[str, Any], trial: shoal.RunningTrial, *, directory: str) -> float:
    """The first call sleeps 60 s (for ``timeout_per_trial`` to stop); the others return."""
    report_process(trial)
    if _first_time(directory, "hung"):
        time.sleep(60)
    return config["x"]


def instant(config: dict[str, Any]) -> float:
    return config["x"]


def leaky(config: dict[str, Any], trial: shoal.RunningTrial) -> float:
    """Keep LEAK_BYTES more per call (touched, so it counts in RSS); report RSS before and after."""
    import psutil

    process = psutil.Process()
    trial.report(process.memory_info().rss, RSS_BEFORE_STEP)
    _LEAKED.append(b"\x01" * LEAK_BYTES)
    trial.report(process.memory_info().rss, RSS_AFTER_STEP)
    trial.report(os.getpid(), PID_STEP)
    return config["x"]


def fails_first_attempt(config: dict[str, Any], *, directory: str, failures: int = 1) -> float:
    """Raise ValueError on the first ``failures`` attempts of each config; one counter file per config."""
    path = Path(directory, f"attempts-{config['x']!r}")
    attempts = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(attempts))
    if attempts <= failures:
        raise ValueError(f"attempt {attempts} of {config['x']!r} fails")
    return config["x"]


def fatal_at(config: dict[str, Any], trial: shoal.RunningTrial, *, number: int) -> float:
    """Raise ``Fatal`` (kept outside ``catch``) on trial ``number``, ValueError on ``number + 1``."""
    if trial.number == number:
        raise Fatal(f"trial {number} cannot go on")
    if trial.number == number + 1:
        raise ValueError("caught and recorded")
    time.sleep(0.02)
    return config["x"]


# -- drivers -----------------------------------------------------------------------------------
def block_from(
    config: dict[str, Any], trial: shoal.RunningTrial, *, directory: str, first_blocking: int
) -> float:
    """Trials numbered below ``first_blocking`` return at once; later ones mark ``started-<n>`` and
    wait for ``release`` (for at most 60 s)."""
    report_process(trial)
    _log_run(directory, trial)
    if trial.number >= first_blocking:
        Path(directory, f"started-{trial.number}").write_text(f"{os.getpid()} {os.getppid()}")
        wait_for(Path(directory, "release"))
    return config["x"]


def sleeps(config: dict[str, Any], trial: shoal.RunningTrial, *, directory: str, seconds: float) -> float:
    """Mark ``started-<n>``, then sleep ``seconds``."""
    report_process(trial)
    Path(directory, f"started-{trial.number}").write_text(f"{os.getpid()} {os.getppid()}")
    time.sleep(seconds)
    return config["x"]


def spins(config: dict[str, Any], trial: shoal.RunningTrial, *, directory: str, seconds: float) -> float:
    """Like ``sleeps`` but busy: pure Python holding the GIL (the heartbeat thread must still beat)."""
    report_process(trial)
    Path(directory, f"started-{trial.number}").write_text(f"{os.getpid()} {os.getppid()}")
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        total += sum(range(1000))
    return config["x"]


def logged(config: dict[str, Any], trial: shoal.RunningTrial, *, directory: str, drivers: int = 0) -> float:
    """Log the call (trial number, pid, driver pid) and return after a short sleep.

    With ``drivers=n`` (workers of n driver processes), no call returns before workers of n distinct
    drivers have started one: the drivers' trials overlap, however late a driver starts.
    """
    report_process(trial)
    _log_run(directory, trial)
    if drivers:
        Path(directory, f"arrived-{os.getppid()}").touch()
        deadline = time.monotonic() + 60
        while len(list(Path(directory).glob("arrived-*"))) < drivers and time.monotonic() < deadline:
            time.sleep(0.01)
    time.sleep(0.01)
    return float(config["x"])


class _Spying:
    """Records, per proposal, the trial number asked for and the numbers of the finished and the
    running trials the sampler was handed; with ``directory``, also appends them to
    ``history-<driver pid>.log`` (one line: ``number | finished ... | running ...``)."""

    def _spy_init(self, directory: str | None) -> None:
        self.seen: list[tuple[int, list[int], list[int]]] = []
        self._path = None if directory is None else os.path.join(directory, f"history-{os.getpid()}.log")

    def propose(self, context: SamplingContext):
        finished = [t.number for t in context.history]
        running = [t.number for t in context.running]
        self.seen.append((context.trial_number, finished, running))
        if self._path is not None:
            with open(self._path, "a") as out:
                out.write(f"{context.trial_number} | {' '.join(map(str, finished))} | "
                          f"{' '.join(map(str, running))}\n")
        return super().propose(context)  # type: ignore[misc]


class SpyGrid(_Spying, Grid):
    def __init__(self, resolution: int = 5, *, directory: str | None = None, **kwargs: Any) -> None:
        super().__init__(resolution, **kwargs)
        self._spy_init(directory)


class SpyQuasiRandom(_Spying, QuasiRandom):
    def __init__(self, method: str = "sobol", *, directory: str | None = None, **kwargs: Any) -> None:
        super().__init__(method, **kwargs)
        self._spy_init(directory)


def read_history(directory: str | Path) -> dict[int, list[tuple[int, set[int], set[int]]]]:
    """What ``_Spying`` samplers logged: per driver pid, ``(trial number, finished, running)``."""
    out: dict[int, list[tuple[int, set[int], set[int]]]] = {}
    for path in Path(directory).glob("history-*.log"):
        pid = int(path.stem.split("-")[1])
        rows = []
        for line in path.read_text().splitlines():
            number, finished, running = line.split("|")
            rows.append((int(number), {int(n) for n in finished.split()}, {int(n) for n in running.split()}))
        out[pid] = rows
    return out


def die_leaving_a_child(
    config: dict[str, Any], trial: shoal.RunningTrial, *, directory: str, seconds: float
) -> float:
    """The first call forks a child (as ``multiprocessing`` with fork, or a data loader, does: it
    inherits every descriptor, the worker's socket too), then SIGKILLs its own worker. The child
    waits for ``release`` or ``seconds``, writing ``child-gave-up`` in the second case."""
    report_process(trial)
    if _first_time(directory, "died"):
        child = os.fork()
        if child == 0:
            released = wait_for(Path(directory, "release"), seconds)
            if not released:
                Path(directory, "child-gave-up").write_text("")
            os._exit(0)
        Path(directory, "child").write_text(str(child))
        os.kill(os.getpid(), signal.SIGKILL)
    return config["x"]

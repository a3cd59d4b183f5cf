"""Drivers that die, stall or share a study: separate driver processes (``driver_process.py``) on real
SQLite files and, when ``SHOAL_TEST_POSTGRES_URL`` is set, a real PostgreSQL database.

The objectives (``fault_objectives``) report the pid of the worker running them (step 0) and of its
parent, the driver (step 1); blocking ones write ``started-<trial number>`` and wait for ``release``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import fault_objectives as fo
import psutil
import pytest
from conftest import wait_for

import shoal
from shoal.storage import SQLStorage
from shoal.trial import TrialState

HERE = Path(__file__).parent
HEARTBEAT = 0.2
STALE_AFTER = 1.0


class Drivers:
    """Starts driver processes; whatever is still running at the end of the test is killed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[subprocess.Popen] = []

    def start(self, url: str, study: str, *args: str, session: bool = False) -> subprocess.Popen:
        """Start a driver; ``session=True`` gives it (and its workers) a process group of their own,
        as a terminal's foreground job has."""
        path = os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
        log = open(self.directory / f"driver-{len(self.started)}.err", "w")
        try:
            process = subprocess.Popen(
                [sys.executable, str(HERE / "driver_process.py"), url, study, str(self.directory), *args],
                env={**os.environ, "PYTHONPATH": path},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=session,
            )
        finally:
            log.close()
        process.log = self.directory / f"driver-{len(self.started)}.err"  # type: ignore[attr-defined]
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()  # a stopped process dies of SIGKILL too
                process.wait()


@pytest.fixture
def drivers(tmp_path: Path) -> Iterator[Drivers]:
    started = Drivers(tmp_path)
    try:
        yield started
    finally:
        (tmp_path / "release").write_text("go")
        started.stop_all()


def still_running(*processes: subprocess.Popen) -> Callable[[], None]:
    """A ``wait_for`` check: give up at once, with its log, when one of the drivers has exited."""

    def check() -> None:
        for process in processes:
            assert process.poll() is None, f"driver exited ({process.returncode}) during the wait: " + Path(
                process.log  # type: ignore[attr-defined]
            ).read_text()[-3000:]

    return check


def finish(process: subprocess.Popen, seconds: float = 90) -> str:
    """Wait for a driver to exit; return its log after checking it exited cleanly."""
    process.wait(timeout=seconds)
    log = Path(process.log).read_text()  # type: ignore[attr-defined]
    assert process.returncode == 0, log[-3000:]
    return log


gone = fo.gone


def report(trial: shoal.Trial, step: int) -> int:
    return int(dict(trial.reports)[step])


_OPENED: list[SQLStorage] = []


@pytest.fixture(autouse=True)
def _close_storages() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def open_storage(url: str) -> SQLStorage:
    storage = SQLStorage(url)
    _OPENED.append(storage)
    return storage


def load(url: str, name: str, **kwargs) -> shoal.Study:
    """A fresh driver on the study (its own storage object: a restart, or another machine)."""
    return shoal.Study.load(name, open_storage(url), **kwargs)


# -- a driver killed with SIGKILL -------------------------------------------------------------
@pytest.mark.parametrize("requeue", [True, False], ids=["requeue", "leave-stale"])
def test_a_sigkilled_driver_takes_its_workers_along_and_loses_nothing_finished(
    sql_url: str, tmp_path: Path, drivers: Drivers, requeue: bool
) -> None:
    url = sql_url
    # trials 0 and 1 finish at once; 2 and 3 block in the two workers until the driver is killed
    driver = drivers.start(url, "crash", "--objective", "block_from", "--kw", "first_blocking=2",
                           "--n-workers", "2", "--total-trials", "6", "--seed", "3")
    started = [tmp_path / "started-2", tmp_path / "started-3"]
    wait_for(lambda: all(p.exists() for p in started), "two trials run in the two workers",
             check=still_running(driver))
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)

    study = load(url, "crash", requeue_stale=requeue)  # the restart: running trials are judged now
    trials = study.trials
    assert [t.state for t in trials[:2]] == [TrialState.COMPLETE] * 2
    assert [t.value for t in trials[:2]] == [t.config["x"] for t in trials[:2]]
    stale = trials[2:4]
    assert [t.state for t in stale] == [TrialState.STALE] * 2
    assert all("process gone" in t.error and str(driver.pid) in t.error for t in stale)
    assert {report(t, fo.PARENT_STEP) for t in trials[:4]} == {driver.pid}
    workers = {report(t, fo.PID_STEP) for t in stale}
    assert len(workers) == 2
    wait_for(lambda: all(gone(pid) for pid in workers), "the dead driver's workers to die", timeout=10)
    if requeue:
        queued = trials[4:]
        assert [t.state for t in queued] == [TrialState.QUEUED] * 2
        assert [t.requeued_from for t in queued] == [2, 3]
        assert [t.config for t in queued] == [t.config for t in stale]
    else:
        assert len(trials) == 4

    study.optimize(partial(fo.logged, directory=str(tmp_path)), total_trials=6, n_workers=2,
                   show_progress=False)
    trials = study.trials
    originals = [t for t in trials if t.requeued_from is None]
    assert len(originals) == 6  # the study-wide budget, counted in configurations
    assert [t.state for t in trials[2:4]] == [TrialState.STALE] * 2  # finished states never change
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if requeue:
        assert len(trials) == 8 and len(done) == 6
        assert {tuple(t.config.items()) for t in done} == {tuple(t.config.items()) for t in originals}
    else:
        assert len(trials) == 6 and len(done) == 4
        assert not any(t.requeued_from is not None for t in trials)
    # every call that finished ran once: two before the crash, the rest after it
    runs = Counter(number for number, _, _ in fo.read_runs(tmp_path))
    assert all(runs[t.number] == 1 for t in done)


def test_ctrl_c_leaves_running_trials_stale_and_requeued_and_stops_quietly(
    tmp_path: Path, sqlite_url: str, drivers: Drivers
) -> None:
    url = sqlite_url
    driver = drivers.start(url, "ctrlc", "--objective", "block_from", "--kw", "first_blocking=2",
                           "--n-workers", "2", "--total-trials", "6", "--seed", "6", session=True)
    wait_for(lambda: (tmp_path / "started-2").exists() and (tmp_path / "started-3").exists(),
             "two trials run in the two workers", check=still_running(driver))
    os.killpg(driver.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group
    driver.wait(timeout=30)
    output = Path(driver.log).read_text()  # type: ignore[attr-defined]
    assert driver.returncode != 0 and "KeyboardInterrupt" in output
    trials = load(url, "ctrlc").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.STALE] * 2 + [
        TrialState.QUEUED
    ] * 2
    assert all(t.error == "interrupted (KeyboardInterrupt)" for t in trials[2:4])
    assert [t.requeued_from for t in trials[4:]] == [2, 3]
    workers = {report(t, fo.PID_STEP) for t in trials[2:4]}
    wait_for(lambda: all(gone(pid) for pid in workers), "the workers to stop", timeout=10)
    # one traceback, the driver's: the workers leave Ctrl-C to their driver
    assert output.count("Traceback (most recent call last)") == 1, output


def test_requeued_trials_run_on_resume_even_when_the_study_budget_is_started(sqlite_url: str) -> None:
    # Ctrl-C while trial 3 runs leaves it STALE and re-queued; all 4 configurations of
    # total_trials=4 have been started, but one has no result: resuming must run its re-queued copy.
    url = sqlite_url
    study = shoal.Study("budget", fo.SPACE, storage=url, seed=0)

    def interrupted_at_3(config: dict, trial: shoal.RunningTrial) -> float:
        if trial.number == 3:
            raise KeyboardInterrupt
        return config["x"]

    with pytest.raises(KeyboardInterrupt):
        study.optimize(interrupted_at_3, total_trials=4, show_progress=False)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3 + [TrialState.STALE, TrialState.QUEUED]
    assert trials[4].requeued_from == 3

    study.optimize(lambda config: config["x"], total_trials=4, show_progress=False)
    trials = study.trials
    assert trials[4].state == TrialState.COMPLETE, "the re-queued trial was never run"
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4


# -- a driver that stops heartbeating, and one that is slow but alive -------------------------
def test_a_silent_driver_loses_its_trials_only_after_stale_after(
    tmp_path: Path, sqlite_url: str, drivers: Drivers
) -> None:
    url = sqlite_url
    driver = drivers.start(url, "silent", "--objective", "block_from", "--kw", "first_blocking=0",
                           "--n-workers", "2", "--n-trials", "2", "--seed", "4",
                           "--heartbeat", str(HEARTBEAT), "--stale-after", str(STALE_AFTER))
    wait_for(lambda: (tmp_path / "started-0").exists() and (tmp_path / "started-1").exists(),
             "both trials to start", check=still_running(driver))
    # another driver, opened while the first still beats (opening also looks for stale trials)
    other = load(url, "silent", heartbeat_seconds=HEARTBEAT, stale_after=STALE_AFTER)
    assert [t.state for t in other.trials] == [TrialState.RUNNING] * 2
    os.kill(driver.pid, signal.SIGSTOP)  # alive, but silent
    try:
        study_id = other.storage.get_study("silent").study_id
        deadline = time.monotonic() + 30
        checks = 0
        while True:
            beats = {d.heartbeat_at for _, d in other.storage.running_with_drivers(study_id)}
            [last_beat] = beats
            marked = other.recover_stale()
            silence = (datetime.now(timezone.utc) - last_beat).total_seconds()
            checks += 1
            if marked:
                break
            assert time.monotonic() < deadline, "the silent driver's trials were never taken back"
            time.sleep(0.05)
        assert silence >= STALE_AFTER  # never taken back sooner
        assert psutil.Process(driver.pid).status() == psutil.STATUS_STOPPED
        assert sorted(t.number for t in marked) == [0, 1]
        assert all("no heartbeat for" in t.error for t in marked)
    finally:
        (tmp_path / "release").write_text("go")
        os.kill(driver.pid, signal.SIGCONT)
    # woken up, the driver's late results are refused: its trials stay STALE
    finish(driver)
    trials = other.trials
    assert [t.state for t in trials[:2]] == [TrialState.STALE] * 2
    assert [t.value for t in trials[:2]] == [None, None]
    assert [(t.state, t.requeued_from) for t in trials[2:]] == [
        (TrialState.QUEUED, 0),
        (TrialState.QUEUED, 1),
    ]
    other.optimize(partial(fo.logged, directory=str(tmp_path)), n_trials=2, show_progress=False)
    trials = other.trials
    assert [t.state for t in trials[2:]] == [TrialState.COMPLETE] * 2 and len(trials) == 4
    assert [t.config for t in trials[2:]] == [t.config for t in trials[:2]]


@pytest.mark.parametrize("objective, n_workers", [("sleeps", 2), ("spins", 1)],
                         ids=["sleeping-in-a-worker", "spinning-in-process"])
def test_a_slow_but_live_driver_never_loses_its_trial(
    tmp_path: Path, sqlite_url: str, drivers: Drivers, objective: str, n_workers: int
) -> None:
    url = sqlite_url
    seconds = 3 * STALE_AFTER
    driver = drivers.start(url, "slow", "--objective", objective, "--kw", f"seconds={seconds}",
                           "--n-workers", str(n_workers), "--n-trials", "1", "--seed", "5",
                           "--heartbeat", str(HEARTBEAT), "--stale-after", str(STALE_AFTER))
    wait_for(lambda: (tmp_path / "started-0").exists(), "the trial to start", check=still_running(driver))
    other = load(url, "slow", heartbeat_seconds=HEARTBEAT, stale_after=STALE_AFTER)
    oldest = 0.0
    while driver.poll() is None:
        [running] = [t for t in other.trials if t.number == 0]
        marked = other.recover_stale()
        assert marked == [], f"a live driver's trial was taken: {marked[0].error}"
        if running.state == TrialState.RUNNING:
            oldest = max(oldest, (datetime.now(timezone.utc) - running.started_at).total_seconds())
        time.sleep(0.05)
    finish(driver)
    assert oldest > STALE_AFTER  # the check ran while the trial was older than stale_after
    [trial] = other.trials
    assert trial.state == TrialState.COMPLETE and trial.value == trial.config["x"]


# -- several drivers on one study -------------------------------------------------------------
ENQUEUED = [{"x": 0.123, "y": 0.0}, {"x": 0.234, "y": 0.1}, {"x": 0.345, "y": -0.1},
            {"x": 0.456, "y": 0.2}, {"x": 0.567, "y": -0.2}, {"x": 0.678, "y": 0.3}]


def test_two_drivers_share_one_study_budget_and_history(
    sql_url: str, tmp_path: Path, drivers: Drivers
) -> None:
    total, n_drivers = 40, 2
    setup = shoal.Study("shared", fo.SPACE, storage=open_storage(sql_url))
    for config in ENQUEUED:
        setup.enqueue(config)
    args = ["--objective", "logged", "--kw", f"drivers={n_drivers}", "--n-workers", "2",
            "--total-trials", str(total),
            "--sampler", "spygrid", "--seed", "0"]  # the same grid order: the drivers collide
    pair = [drivers.start(sql_url, "shared", *args) for _ in range(n_drivers)]
    for driver in pair:
        finish(driver)

    trials = load(sql_url, "shared").trials
    assert [t.number for t in trials] == list(range(len(trials)))  # no number twice, none skipped
    assert all(t.state == TrialState.COMPLETE for t in trials)
    # Study._ask_within stops a driver once the study holds `total` configurations; a driver may pass
    # that check while another is creating the last one, so each other driver adds at most one.
    assert all(t.requeued_from is None for t in trials)
    assert total <= len(trials) <= total + n_drivers - 1
    # queued trials were claimed (run) exactly once each, before any sampled one
    assert [t.config for t in trials[:6]] == ENQUEUED and all(t.claim is None for t in trials[:6])
    runs = fo.read_runs(tmp_path)
    assert sorted(number for number, _, _ in runs) == [t.number for t in trials]
    run_by = {number: parent for number, _, parent in runs}  # trial -> the driver that ran it
    assert set(run_by.values()) == {d.pid for d in pair}
    assert {report(t, fo.PARENT_STEP) for t in trials} == {d.pid for d in pair}
    # the grid never repeats a point, across drivers
    sampled = trials[6:]
    assert len({t.claim for t in sampled}) == len(sampled)
    assert len({tuple(sorted(t.config.items())) for t in sampled}) == len(sampled)
    # each driver's sampler had the other driver's finished trials in its history
    history = fo.read_history(tmp_path)
    assert set(history) == {d.pid for d in pair}
    for pid, proposals in history.items():
        seen = set().union(*(finished for _, finished, _ in proposals))
        assert {n for n in seen if run_by[n] != pid}, f"driver {pid} never saw the other's trials"


def test_four_drivers_on_one_sqlite_file(tmp_path: Path, sqlite_url: str, drivers: Drivers) -> None:
    url = sqlite_url
    n_drivers, n_trials = 4, 25
    started = [
        drivers.start(url, "crowd", "--objective", "logged", "--n-trials", str(n_trials))
        for _ in range(n_drivers)
    ]  # they race to create the study, then to write trials
    logs = [finish(driver) for driver in started]
    assert not any("database is locked" in log for log in logs)
    trials = load(url, "crowd").trials
    assert [t.number for t in trials] == list(range(n_drivers * n_trials))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    runs = fo.read_runs(tmp_path)
    assert sorted(number for number, _, _ in runs) == list(range(n_drivers * n_trials))
    # in process (n_workers=1): each driver ran its own n_trials
    assert Counter(pid for _, pid, _ in runs) == {d.pid: n_trials for d in started}

"""Faults inside workers: deaths, hangs, leaks, flaky and fatal objectives. The study always goes on.

Real worker processes on real SQLite files; the misbehaving objectives live in ``fault_objectives``.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from functools import partial
from pathlib import Path

import fault_objectives as fo
import psutil
import pytest
from conftest import sqlite_url_for

import shoal
from shoal.storage import SQLStorage
from shoal.trial import TrialState

SPACE = {"x": shoal.Float(0.0, 1.0)}
MB = 1024 * 1024


def pid_of(trial: shoal.Trial) -> int:
    return int(dict(trial.reports)[fo.PID_STEP])


gone = fo.gone


def by_state(trials: list[shoal.Trial]) -> dict[TrialState, list[shoal.Trial]]:
    out: dict[TrialState, list[shoal.Trial]] = {}
    for trial in trials:
        out.setdefault(trial.state, []).append(trial)
    return out


@pytest.mark.parametrize(
    "how, cause",
    [
        ("sigkill", "worker died: signal 9 (SIGKILL)"),
        ("exit3", "worker died: exit code 3"),
        ("segfault", "worker died: signal 11 (SIGSEGV)"),
    ],
)
def test_a_dead_worker_fails_its_trial_with_the_cause_and_the_pool_refills(
    tmp_path: Path, how: str, cause: str, sqlite_url: str
) -> None:
    study = shoal.Study("deaths", SPACE, storage=sqlite_url, seed=0)
    study.optimize(partial(fo.die_once, directory=str(tmp_path), how=how), n_trials=10, n_workers=2,
                   show_progress=False)
    trials = study.trials
    states = by_state(trials)
    assert len(trials) == 10  # the budget is reached
    [dead] = states[TrialState.FAILED]
    assert dead.error == cause
    assert len(states[TrialState.COMPLETE]) == 9
    dead_pid = pid_of(dead)
    assert gone(dead_pid)
    later = [t for t in trials if t.number > dead.number]
    assert later and dead_pid not in {pid_of(t) for t in later}
    # two first workers, and a fresh one in the dead one's slot
    assert len({pid_of(t) for t in trials}) == 3


def test_a_dead_worker_is_noticed_while_a_process_it_forked_still_holds_its_socket(
    tmp_path: Path, sqlite_url: str
) -> None:
    # The worker forks a child (which inherits its socket to the driver) and is killed; the child
    # lives on. The driver must see the death from the process, not wait for the socket to close.
    study = shoal.Study("orphan", SPACE, storage=sqlite_url, seed=0)
    try:
        study.optimize(partial(fo.die_leaving_a_child, directory=str(tmp_path), seconds=15), n_trials=4,
                       n_workers=2, show_progress=False)
        gave_up = (tmp_path / "child-gave-up").exists()
    finally:
        (tmp_path / "release").write_text("go")
    child = int((tmp_path / "child").read_text())
    if not fo.wait_until_gone(child, 10):
        os.kill(child, signal.SIGKILL)
    assert not gave_up, "optimize only noticed the dead worker once the child holding its socket exited"
    trials = study.trials
    states = by_state(trials)
    assert len(trials) == 4 and len(states[TrialState.COMPLETE]) == 3
    [dead] = states[TrialState.FAILED]
    assert dead.error == "worker died: signal 9 (SIGKILL)"


def test_timeout_per_trial_stops_a_hung_trial_and_kills_its_worker(tmp_path: Path, sqlite_url: str) -> None:
    study = shoal.Study("hang", SPACE, storage=sqlite_url, seed=0)
    study.optimize(partial(fo.hang_once, directory=str(tmp_path)), n_trials=6, n_workers=2,
                   timeout_per_trial=1, show_progress=False)
    trials = study.trials
    states = by_state(trials)
    assert len(trials) == 6
    [hung] = states[TrialState.FAILED]
    assert hung.error == "timed out after 1s (timeout_per_trial)"
    assert len(states[TrialState.COMPLETE]) == 5
    hung_pid = pid_of(hung)
    assert gone(hung_pid), "the worker of the timed-out trial is still running"
    assert hung_pid not in {pid_of(t) for t in trials if t.number != hung.number}


def test_timeout_per_trial_counts_from_the_start_of_the_call_not_the_start_of_its_worker(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    # Workers that take 1.5 s to start (a heavy import) run an instant objective under a 1 s limit:
    # no trial ran too long, so none may time out.
    monkeypatch.setenv(fo.SLOW_IMPORT_ENV, "1.5")
    study = shoal.Study("slowstart", SPACE, storage=sqlite_url, seed=0)
    study.optimize(fo.instant, n_trials=3, n_workers=2, timeout_per_trial=1, show_progress=False)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3, [t.error for t in trials]


def test_max_trials_per_worker_recycles_worker_processes(sqlite_url: str) -> None:
    study = shoal.Study("recycle", SPACE, storage=sqlite_url, seed=0)
    study.optimize(fo.pid_reporter, n_trials=20, n_workers=2, max_trials_per_worker=5, show_progress=False)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 20, [t.error for t in trials]
    per_worker = Counter(pid_of(t) for t in trials)
    assert max(per_worker.values()) == 5
    # each slot runs workers of 5 trials; only each slot's last worker may have run fewer
    assert 20 // 5 <= len(per_worker) <= 20 // 5 + 1
    assert sum(1 for n in per_worker.values() if n < 5) <= 2


def test_a_retiring_worker_is_never_handed_a_trial(sqlite_url: str) -> None:
    # One call per worker: each worker exits right after its answer, and the next trial must go to
    # its fresh replacement, not to the exiting process (which would fail it, "exit code 0").
    study = shoal.Study("retire", SPACE, storage=sqlite_url, seed=0)
    study.optimize(fo.pid_reporter, n_trials=24, n_workers=2, max_trials_per_worker=1, show_progress=False)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 24, [t.error for t in trials]
    assert len({pid_of(t) for t in trials}) == 24


def _worker_growth(trials: list[shoal.Trial]) -> dict[int, float]:
    """Per worker process: how far its RSS rose above where it was before its first call."""
    low: dict[int, float] = {}
    high: dict[int, float] = {}
    for trial in trials:
        reports = dict(trial.reports)
        pid = int(reports[fo.PID_STEP])
        low[pid] = min(low.get(pid, float("inf")), reports[fo.RSS_BEFORE_STEP])
        high[pid] = max(high.get(pid, 0.0), reports[fo.RSS_AFTER_STEP])
    return {pid: high[pid] - low[pid] for pid in low}


def test_recycling_keeps_a_leaky_objective_from_growing_workers_and_driver(
    tmp_path: Path, sqlite_url: str
) -> None:
    # Each call keeps 2 MB. A worker recycled every 5 calls grows by about 10 MB at most.
    bound = 25 * MB
    # Without recycling, 40 trials on 2 workers put about 20 calls, 40 MB, on each: past the bound.
    leaking = shoal.Study("norecycle", SPACE, storage=sqlite_url_for(tmp_path / "leak.db"), seed=0)
    leaking.optimize(fo.leaky, n_trials=40, n_workers=2, show_progress=False)
    growth = _worker_growth(leaking.trials)
    assert len(growth) == 2 and max(growth.values()) > bound, growth

    driver = psutil.Process()
    before = driver.memory_info().rss
    study = shoal.Study("recycled", SPACE, storage=sqlite_url, seed=0)
    study.optimize(fo.leaky, n_trials=200, n_workers=2, max_trials_per_worker=5, show_progress=False)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 200, [t.error for t in trials]
    growth = _worker_growth(trials)
    assert len(growth) >= 200 // 5
    assert max(growth.values()) < bound, sorted(growth.values())[-5:]
    # the objective never runs in the driver: 200 calls would have cost it 400 MB
    assert driver.memory_info().rss - before < 40 * MB
    assert len(fo._LEAKED) == 0


def test_retries_rerun_a_failed_config_as_a_new_trial_that_names_the_failed_one(
    tmp_path: Path, sqlite_url: str
) -> None:
    study = shoal.Study("retry", SPACE, storage=sqlite_url, seed=0)
    objective = partial(fo.fails_first_attempt, directory=str(tmp_path))
    study.optimize(objective, n_trials=5, n_workers=2, retries=2, show_progress=False)
    trials = study.trials
    by_number = {t.number: t for t in trials}
    states = by_state(trials)
    assert len(trials) == 10  # five configs, each failed once and then done
    assert len(states[TrialState.FAILED]) == 5 and len(states[TrialState.COMPLETE]) == 5
    for done in states[TrialState.COMPLETE]:
        first = by_number[done.requeued_from]
        assert first.state == TrialState.FAILED and first.requeued_from is None
        assert first.config == done.config and done.value == done.config["x"]
        assert "ValueError: attempt 1 of" in first.error
    for config in {t.config["x"] for t in trials}:
        assert (tmp_path / f"attempts-{config!r}").read_text() == "2"  # one failure, one success


def test_retries_stop_after_the_given_number_of_attempts(tmp_path: Path, sqlite_url: str) -> None:
    study = shoal.Study("retry-all", SPACE, storage=sqlite_url, seed=0)
    objective = partial(fo.fails_first_attempt, directory=str(tmp_path), failures=99)
    study.optimize(objective, n_trials=2, n_workers=2, retries=2, show_progress=False)
    trials = study.trials
    assert len(trials) == 6 and all(t.state == TrialState.FAILED for t in trials)
    by_number = {t.number: t for t in trials}
    for first in [t for t in trials if t.requeued_from is None]:
        chain = [first]
        while nexts := [t for t in trials if t.requeued_from == chain[-1].number]:
            [follow] = nexts
            chain.append(follow)
        assert len(chain) == 3 and all(t.config == first.config for t in chain)
        assert [by_number[t.number].error.splitlines()[-1] for t in chain] == [
            f"ValueError: attempt {k} of {first.config['x']!r} fails" for k in (1, 2, 3)
        ]


def test_an_exception_outside_catch_stops_the_run_and_keeps_the_finished_trials(sqlite_url: str) -> None:
    study = shoal.Study("fatal", SPACE, storage=sqlite_url, seed=0)
    with pytest.raises(fo.Fatal, match="trial 3 cannot go on"):
        study.optimize(partial(fo.fatal_at, number=3), n_trials=20, n_workers=2, catch=(ValueError,),
                       show_progress=False)
    storage = SQLStorage(sqlite_url)  # what is on disk, read afresh
    try:
        trials = shoal.Study.load("fatal", storage).trials
    finally:
        storage.close()
    # no new trial starts once the fatal one is back; only the other slot's trial may follow it
    assert 4 <= len(trials) <= 5
    assert all(t.state.finished for t in trials)
    assert [t.state for t in trials[:3]] == [TrialState.COMPLETE] * 3
    assert trials[3].state == TrialState.FAILED and "Fatal: trial 3 cannot go on" in trials[3].error
    if len(trials) == 5:  # the caught error was recorded, not raised
        assert trials[4].state == TrialState.FAILED and "ValueError: caught and recorded" in trials[4].error

"""Parallel optimize on local worker processes: real processes, real SQLite files, no barrier.

The objectives live in ``fault_objectives`` (workers import them by reference). Each reports the pid
of the process it runs in (step 0) and of that process's parent (step 1).
"""

from __future__ import annotations

import os
import threading
from functools import partial
from pathlib import Path

import fault_objectives as fo
import pytest
from conftest import sqlite_url_for, wait_for

import shoal
from shoal.samplers import Random
from shoal.storage import SQLStorage
from shoal.trial import TrialState

SPACE = {"x": shoal.Float(0.0, 1.0), "y": shoal.Float(-1.0, 1.0)}


def pid_of(trial: shoal.Trial) -> int:
    return int(dict(trial.reports)[fo.PID_STEP])


def parent_of(trial: shoal.Trial) -> int:
    return int(dict(trial.reports)[fo.PARENT_STEP])


gone = fo.gone


def test_four_workers_run_trials_in_four_processes_other_than_the_driver(sqlite_url: str) -> None:
    study = shoal.Study("par", SPACE, storage=sqlite_url, seed=0)
    study.optimize(partial(fo.pid_reporter, seconds=0.2), n_trials=12, n_workers=4, show_progress=False)
    trials = study.trials
    assert len(trials) == 12 and all(t.state == TrialState.COMPLETE for t in trials)
    pids = {pid_of(t) for t in trials}
    # the first four trials are handed out before any finishes, one to each worker
    assert len({pid_of(t) for t in trials[:4]}) == 4
    assert len(pids) == 4
    assert os.getpid() not in pids
    assert {parent_of(t) for t in trials} == {os.getpid()}  # workers are this driver's children
    assert all(gone(pid) for pid in pids), "optimize returned with worker processes still alive"


def test_a_slow_trial_does_not_hold_back_the_other_slots(sqlite_url: str) -> None:
    n_workers = 4
    study = shoal.Study("nobarrier", {"x": shoal.Float(0.0, 1.0)}, storage=sqlite_url, seed=1)
    slow = study.enqueue({"x": 1.0})  # 1.5 s; every sampled config takes 0.05 s
    study.optimize(fo.slow_at_one, n_trials=24, n_workers=n_workers, show_progress=False)
    trials = study.trials
    assert len(trials) == 24 and all(t.state == TrialState.COMPLETE for t in trials)
    slow = trials[slow.number]
    assert slow.config == {"x": 1.0} and slow.duration >= 1.5
    overtaking = [
        t for t in trials
        if t.number != slow.number and t.started_at > slow.started_at and t.finished_at < slow.finished_at
    ]
    # A batch barrier would let only the slow trial's batch mates (n_workers - 1 trials) start after it
    # and finish before it; with no barrier the three free slots keep going the whole time.
    assert len(overtaking) > 2 * (n_workers - 1), [(t.number, t.started_at, t.finished_at) for t in trials]
    assert len({pid_of(t) for t in overtaking}) >= 2  # more than one slot kept working


def test_reports_from_a_worker_are_readable_by_another_study_while_the_trial_runs(
    tmp_path: Path, sqlite_url: str
) -> None:
    study = shoal.Study("live", {"x": shoal.Float(0.0, 1.0)}, storage=sqlite_url, seed=2)
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            study.optimize(partial(fo.report_then_block, directory=str(tmp_path)), n_trials=1,
                           n_workers=2, show_progress=False)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    try:
        wait_for((tmp_path / "reported").exists, "the worker to report")
        reader_storage = SQLStorage(sqlite_url)  # its own engine and connection: a second reader of the file
        try:
            reader = shoal.Study.load("live", reader_storage)
            [trial] = reader.trials
            assert trial.state == TrialState.RUNNING
            assert trial.reports == [(7, 0.5)]
        finally:
            reader_storage.close()
    finally:
        (tmp_path / "release").write_text("go")
        thread.join(60)
    assert not thread.is_alive() and not errors, errors
    [trial] = study.trials
    assert trial.state == TrialState.COMPLETE and trial.reports == [(7, 0.5)]


@pytest.mark.parametrize(
    "make, n_trials, expected",
    [
        # a 3 x 3 grid: asked for more than it has, it runs each point once and stops
        (lambda: fo.SpyGrid(3, seed=0), 20, 9),
        (lambda: fo.SpyQuasiRandom("sobol", seed=0), 12, 12),
    ],
    ids=["grid", "quasirandom"],
)
def test_samplers_see_running_trials_and_never_hand_out_a_point_twice(
    make, n_trials: int, expected: int, sqlite_url: str
) -> None:
    sampler = make()
    study = shoal.Study("claims", SPACE, storage=sqlite_url, sampler=sampler)
    study.optimize(partial(fo.pid_reporter, seconds=0.1), n_trials=n_trials, n_workers=4,
                   show_progress=False)
    trials = study.trials
    assert len(trials) == expected and all(t.state == TrialState.COMPLETE for t in trials)
    claims = [t.claim for t in trials]
    assert None not in claims and len(set(claims)) == expected
    if isinstance(sampler, fo.SpyQuasiRandom):
        assert sorted(claims, key=lambda c: int(c.split(":")[1])) == [f"qmc:{k}" for k in range(expected)]
    assert len({tuple(sorted(t.config.items())) for t in trials}) == expected
    # every proposal was handed every earlier trial, finished or still running
    proposals = [(number, set(done), set(running)) for number, done, running in sampler.seen]
    for number, done, running in proposals:
        assert done | running == set(range(number)) and not done & running
        assert len(running) <= 3
    # the fourth trial is proposed while the first three run: they are in its context
    assert proposals[3] == (3, set(), {0, 1, 2})


def test_random_draws_differ_per_trial_and_a_seeded_parallel_run_repeats_the_sequential_one(
    tmp_path: Path,
) -> None:
    def run(n_workers: int, db: str) -> dict[int, dict]:
        study = shoal.Study("seeded", SPACE, storage=sqlite_url_for(tmp_path / db), sampler=Random(seed=7))
        study.optimize(fo.pid_reporter, n_trials=16, n_workers=n_workers, show_progress=False)
        trials = study.trials
        assert all(t.state == TrialState.COMPLETE for t in trials)
        return {t.number: t.config for t in trials}

    parallel = run(4, "parallel.db")
    sequential = run(1, "sequential.db")
    assert parallel == sequential
    assert sorted(parallel) == list(range(16))
    for name in SPACE:  # every trial drew its own value of every dimension
        assert len({config[name] for config in parallel.values()}) == 16

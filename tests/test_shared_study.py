"""Several drivers on one study each see the whole study (issue 12, part 1).

A driver's view must equal storage: every trial, every state change, at each ask and after
``optimize``, whatever the order in which drivers insert trials. Trial numbers are dense, so a
driver that missed another driver's trial has a gap in its view; the stress test looks for gaps
after every trial of every driver, on SQLite and PostgreSQL, with queued trials mixed in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import shoal
from shoal.samplers import Random
from shoal.storage import get_storage
from shoal.trial import TrialState

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import shared_driver  # noqa: E402

SPACE = {"x": shoal.Float(0.0, 1.0)}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_url")


def test_a_driver_reads_trials_another_driver_inserted_below_its_newest(url: str) -> None:
    """The issue's example: b's trial 0 is inserted before a's trials 1 and 2; a must see it."""
    a = shoal.Study("s", SPACE, "maximize", storage=url, sampler=Random(seed=0))
    b = shoal.Study("s", SPACE, "maximize", storage=url, sampler=Random(seed=1))
    b.tell(b.ask(), 0.99)  # trial 0, by b, before a read anything
    a.enqueue({"x": 0.5})  # trial 1, by a
    a.tell(a.ask(), 0.1)
    assert [t.number for t in a.trials] == [0, 1]
    assert a.best.value == 0.99
    stored = shoal.Study.load("s", url).trials
    assert [(t.number, t.state) for t in a.trials] == [(t.number, t.state) for t in stored]


def test_a_paused_trial_another_driver_moves_is_seen_moving(url: str) -> None:
    """State changes of trials this driver no longer runs (here: another driver finishes a trial
    this driver queued) reach its view at the next look."""
    a = shoal.Study("p", SPACE, storage=url, sampler=Random(seed=0))
    b = shoal.Study("p", SPACE, storage=url, sampler=Random(seed=1))
    queued = a.enqueue({"x": 0.25})
    taken = b.ask()
    assert taken.number == queued.number
    b.tell(taken, 0.3)
    [seen] = [t for t in a.trials if t.number == queued.number]
    assert seen.state == TrialState.COMPLETE and seen.value == 0.3


def _run_drivers(url: str, name: str, out: Path, sampler: str, total: int | None) -> list[dict]:
    n_drivers, workers = 4, [1, 1, 2, 2]  # 1-2 workers per driver: 6 running slots in all
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    extra = [] if total is None else ["--total-trials", str(total)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "shared_driver.py"), url, name, str(out), str(i), str(n_drivers),
             "--sampler", sampler, "--n-workers", str(workers[i]), *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for i in range(n_drivers)
    ]
    for proc in procs:
        output, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, output
    return [json.loads((out / f"view-{i}.json").read_text()) for i in range(n_drivers)]


@pytest.mark.parametrize("sampler", ["random", "grid", "quasi", "default"])
def test_four_drivers_each_see_every_trial_and_share_the_budget(
    url: str, sampler: str, tmp_path: Path
) -> None:
    name, total = f"stress-{sampler}", (None if sampler == "grid" else 40)
    views = _run_drivers(url, name, tmp_path, sampler, total)
    stored = get_storage(url)
    try:
        trials = stored.read_trials(stored.get_study(name).study_id)
    finally:
        stored.close()
    truth = [[t.number, t.state.value, t.claim, t.requeued_from] for t in trials]
    for i, view in enumerate(views):
        assert view["gaps"] == [], f"driver {i} missed trials of other drivers at some ask"
        assert view["view"] == truth, f"driver {i}'s view differs from storage after optimize"
    states = Counter(t.state for t in trials)
    assert set(states) == {TrialState.COMPLETE}, states  # every queued trial ran, none left behind
    assert sum(1 for t in trials if t.claim is None and t.requeued_from is None) >= 8  # the enqueued
    fresh = [t for t in trials if t.requeued_from is None]
    if sampler == "grid":  # every grid point exactly once, whatever the drivers and workers
        claims = Counter(t.claim for t in fresh if t.claim is not None)
        assert len(claims) == shared_driver.GRID_POINTS and set(claims.values()) == {1}
    else:  # the study-wide budget, overshot by at most the running slots (6)
        assert 40 <= len(fresh) <= 40 + 6

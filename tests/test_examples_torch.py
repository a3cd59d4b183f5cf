"""examples/pytorch_digits.py: a PyTorch loop tuned in parallel, stopped early, resumed from checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import sqlite_url_for

pytest.importorskip("torch")

import shoal  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "pytorch_digits.py"
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'examples'}"}


def _study(db: Path) -> shoal.Study:
    from pytorch_digits import SPACE  # noqa: F401 - the example's space, for loading the study

    return shoal.Study.load("pytorch-digits", sqlite_url_for(db), space=SPACE)


@pytest.fixture(autouse=True)
def _example_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))


def test_example_tunes_in_parallel_and_stops_poor_trials(tmp_path):
    db = tmp_path / "t.db"
    done = subprocess.run([sys.executable, str(EXAMPLE), "--small", "--db", str(db)], capture_output=True,
                          text=True, env=ENV, cwd=tmp_path, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "best validation accuracy" in done.stdout
    trials = _study(db).trials
    assert len(trials) == 6 and all(t.state.finished for t in trials)
    states = [t.state for t in trials]
    assert shoal.TrialState.PRUNED in states and shoal.TrialState.COMPLETE in states
    for t in trials:  # every epoch reported (steps 1, 2, ...), a pruned trial stops before the last
        assert [s for s, _ in t.reports] == list(range(1, len(t.reports) + 1))
        assert len(t.reports) == 3 if t.state == shoal.TrialState.COMPLETE else len(t.reports) < 3
    assert max(t.value for t in trials if t.state == shoal.TrialState.COMPLETE) > 0.5
    # two worker processes: some trial started before the one before it had finished
    assert any(b.started_at < a.finished_at for a, b in zip(trials, trials[1:], strict=False))
    checkpoints = list((tmp_path / "checkpoints").rglob("*.pkl"))
    assert checkpoints, "every epoch saves a checkpoint"


CRASHING_DRIVER = """
import os, sys
import pytorch_digits as ex

class Crash(ex._Objective):  # the driver dies (SIGKILL-like) right after trial 0 reports epoch 2
    def __call__(self, config, trial):
        report = trial.report
        def report_then_die(value, step):
            report(value, step)
            if step == 2:
                os._exit(3)
        trial.report = report_then_die
        return super().__call__(config, trial)

ex.run(sys.argv[1], n_trials=1, epochs=4, workers=1, objective=Crash(4))
"""


def test_a_killed_trial_resumes_from_its_checkpoint(tmp_path):
    db = tmp_path / "t.db"
    crashed = subprocess.run([sys.executable, "-c", CRASHING_DRIVER, str(db)], env=ENV, cwd=tmp_path,
                             capture_output=True, text=True, timeout=240)
    assert crashed.returncode == 3, crashed.stderr[-3000:]
    (running,) = _study_raw(db)
    assert running.state == shoal.TrialState.RUNNING and [s for s, _ in running.reports] == [1, 2]
    # running the example again takes the dead driver's trial back and goes on from epoch 3
    again = [sys.executable, str(EXAMPLE), "--trials", "1", "--epochs", "4", "--workers", "1",
             "--db", str(db)]
    done = subprocess.run(again, env=ENV, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = _study(db).trials
    stale, resumed = trials[0], trials[1]
    assert stale.state == shoal.TrialState.STALE and resumed.requeued_from == stale.number
    assert resumed.state.finished and resumed.config == stale.config
    assert [s for s, _ in resumed.reports][0] == 3, resumed.reports  # epochs 1-2 came from the checkpoint


def _study_raw(db: Path) -> list[shoal.Trial]:
    from shoal.storage import get_storage

    storage = get_storage(sqlite_url_for(db))
    return list(storage.read_trials(storage.get_study("pytorch-digits").study_id))

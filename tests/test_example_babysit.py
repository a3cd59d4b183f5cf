"""examples/babysit.py: a person lowers a running model's learning rate and forks it from a checkpoint."""

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
EXAMPLE = ROOT / "examples" / "babysit.py"
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'examples'}"}


def test_the_babysat_run_follows_its_tweaks_and_the_fork_starts_from_its_checkpoint(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    from babysit import BABYSAT, SPACE, START, UNTOUCHED

    db = tmp_path / "b.db"
    done = subprocess.run([sys.executable, str(EXAMPLE), "--epochs", "12", "--db", str(db)],
                          capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)
    assert "schedules" in done.stdout and "final validation accuracy" in done.stdout
    trials = shoal.Study.load("babysit", sqlite_url_for(db), space=SPACE).trials
    assert [t.state for t in trials] == [shoal.TrialState.COMPLETE] * 3
    untouched, babysat, fork = trials[UNTOUCHED], trials[BABYSAT], trials[2]
    assert untouched.changes == [] and untouched.schedule == [(0, START)]
    # the person's tweaks: each lowers lr, in force from the epoch after the report that delivered it
    tweaks = [c for c in babysat.changes if c.kind == "tweak"]
    assert tweaks and all(c.source == "person" and c.name == "lr" and c.new < c.old for c in tweaks)
    delivered = [c.step for c in tweaks if c.step is not None]  # one made at the very end may not be
    assert delivered and all(1 < step <= 13 for step in delivered), [(c.step, c.new) for c in tweaks]
    first = delivered[0]
    # identical runs until the tweak took effect, then apart
    assert babysat.reports[: first - 1] == untouched.reports[: first - 1]
    assert babysat.excluded_from_models and untouched.excluded_from_models is None
    # the fork: from the babysat run's checkpoint at epoch 12 // 3 = 4, momentum changed, reports 5..12
    assert fork.config == {**babysat.schedule_at(4), "momentum": 0.5}
    got = [(c.name, c.old, c.new, c.step, c.kind) for c in fork.changes]
    assert got == [("momentum", 0.9, 0.5, 5, "fork")]
    assert [s for s, _ in fork.reports] == list(range(5, 13))
    assert f"trial {BABYSAT} at epoch" in done.stdout  # the objective printed trial.changes()

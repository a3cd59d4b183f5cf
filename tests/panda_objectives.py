"""Objectives for tests/test_panda.py (tweaks and forks of running trials), at module level so local
worker processes, Dask workers and the driver processes of ``panda_driver.py`` can all run them.

An objective that sees something it should not raises ``AssertionError`` with what it saw: the
trial then FAILS with that text as its error, which the test shows when it checks the trial's state.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import shoal

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "width": shoal.Int(1, 8),
    "seed": shoal.Fixed(7),
}
#: the value the tests tweak ``lr`` to (a sampled lr is never exactly this)
NEW_LR = 0.75


def expect(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(what)


def tweaked_at_next_report(config: dict[str, Any], trial: Any) -> float:
    """The driver tweaks lr once step 0's report is stored; step 1's report brings the tweak."""
    initial = dict(config)
    trial.report(0.0, 0)
    expect(config == initial and trial.changes() == {}, f"changed before the next report: {config}")
    trial.report(1.0, 1)
    expect(trial.config is config, "trial.config is not the dict the objective was called with")
    expect(config == {**initial, "lr": NEW_LR}, f"after the next report config is {config}")
    seen = trial.changes()
    expect(seen == {"lr": (initial["lr"], NEW_LR)}, f"changes() after the next report: {seen}")
    expect(trial.changes() == {}, "changes() gave the same change twice")
    trial.report(2.0, 2)
    return config["lr"]


def tweaked_between_reports(config: dict[str, Any], trial: Any) -> float:
    """The driver tweaks lr once step 0's report is stored; the objective reports no more but asks
    ``should_stop`` twice: the first answers from the report, the second asks the driver."""
    initial = dict(config)
    trial.report(0.0, 0)
    expect(not trial.should_stop() and config == initial, f"changed before the next look: {config}")
    expect(not trial.should_stop(), "asked to stop")
    seen = trial.changes()
    expect(config == {**initial, "lr": NEW_LR} and seen == {"lr": (initial["lr"], NEW_LR)},
           f"after should_stop: config {config}, changes {seen}")
    trial.report(1.0, 1)
    return config["lr"]


def stops_with_tweak(config: dict[str, Any], trial: Any) -> float:
    """The driver tweaks lr and asks the trial to stop once step 0's report is stored: at step 1 it
    must hear both."""
    initial = dict(config)
    for step in range(10):
        trial.report(float(step), step)
        if trial.should_stop():
            seen = trial.changes()
            expect(step == 1 and config["lr"] == NEW_LR and seen == {"lr": (initial["lr"], NEW_LR)},
                   f"stopped at step {step} with config {config} and changes {seen}")
            raise shoal.TrialPruned()
    raise AssertionError("never asked to stop")


def ends_by_number(config: dict[str, Any], trial: Any) -> float:
    """Trial 0 completes, trial 1 fails, trial 2 is pruned (for tweaks of finished trials)."""
    trial.report(0.5, 0)
    if trial.number == 1:
        raise ValueError("trial 1 fails")
    if trial.number == 2:
        raise shoal.TrialPruned()
    return 1.0


def trains_from_checkpoint(
    config: dict[str, Any], trial: Any, *, directory: str, steps: int = 6, fails: int | None = None
) -> float:
    """Train ``steps`` steps from where ``trial.load()`` says, saving at even steps; write what it
    loaded to ``loaded-<number>.json``. The state is the path of (trial, step, lr, width) trained.
    Trial number ``fails`` raises ``ValueError`` once it has trained."""
    loaded = trial.load()
    Path(directory, f"loaded-{trial.number}.json").write_text(
        json.dumps({"state": loaded, "start_step": trial.start_step, "config": config})
    )
    state = loaded or {"step": -1, "path": []}
    for step in range(state["step"] + 1, steps):
        state = {"step": step, "path": [*state["path"], [trial.number, step, config["lr"], config["width"]]]}
        if step % 2 == 0:
            trial.save(state, step)
        trial.report(float(len(state["path"])), step)
    if trial.number == fails:
        raise ValueError(f"trial {fails} fails")
    return config["lr"]


def trains_until_killed(
    config: dict[str, Any], trial: Any, *, directory: str, checkpoints: bool, deliver: bool,
    wait_at: int | None = 2, steps: int = 5,
) -> float:
    """Train from the last checkpoint (when ``checkpoints``), saving every step; at step ``wait_at``
    write ``ready`` and wait to be killed: asking ``should_stop`` over and over when ``deliver`` (a
    tweak then arrives, written to ``heard.json``), else never asking. ``start-<number>.json``
    says what the trial started from."""
    loaded = trial.load() if checkpoints else None
    Path(directory, f"start-{trial.number}.json").write_text(json.dumps({"config": config, "loaded": loaded}))
    first = 0 if loaded is None else loaded["step"] + 1
    for step in range(first, steps):
        if checkpoints:
            trial.save({"step": step, "lr": config["lr"]}, step)
        trial.report(config["lr"], step)
        if step == wait_at:
            Path(directory, "ready").write_text(str(trial.number))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the test kills this process meanwhile
                if deliver:
                    trial.should_stop()
                    heard = trial.changes()
                    if heard:
                        Path(directory, "heard.json").write_text(json.dumps(heard))
                        deliver = False
                time.sleep(0.02)
            raise TimeoutError("never killed")
    return config["lr"]


def waits_for_tweak(config: dict[str, Any], trial: Any, *, directory: str) -> float:
    """Report step 0, write ``ready-<number>``, then ask ``should_stop`` until a tweak arrives (at
    most 60 s); write what arrived, with this process's and its parent's pid, to ``heard-<number>.json``."""
    trial.report(0.0, 0)
    Path(directory, f"ready-{trial.number}").write_text(json.dumps(config))
    deadline = time.monotonic() + 60
    heard: dict[str, Any] = {}
    while not heard and time.monotonic() < deadline:
        trial.should_stop()
        heard = trial.changes()
        if not heard:
            time.sleep(0.02)
    expect(bool(heard), "no tweak arrived")
    Path(directory, f"heard-{trial.number}.json").write_text(
        json.dumps({"heard": heard, "config": config, "pid": os.getpid(), "ppid": os.getppid()})
    )
    trial.report(1.0, 1)
    return config["lr"]

"""One reader for schedules (``shoal.schedules``): the hyperparameters behind a model, read from stored
trials, lineage and change rows, whether the model came from PBT segments, forks of forks, re-runs, or
one plain trial with tweaks.

The whole runs train an objective that keeps, in its checkpoint, the hyperparameters it actually
trained each step with; a schedule is right when it replays exactly that list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import shoal
from shoal.checkpoints import CheckpointStore
from shoal.records import ConfigChange, LineageRecord
from shoal.schedulers import Schedule, schedule_of
from shoal.schedulers.pbt import schedule_from as schedule_from_pbt
from shoal.schedules import lineage_events, schedule_from
from shoal.storage import Storage
from shoal.trial import Trial, TrialState

SPACE = {"lr": shoal.Float(1e-4, 1.0, scale="log"), "units": shoal.Int(8, 64)}
STEPS = 8


def _study(name: str, storage: Storage | None, tmp_path: Path) -> shoal.Study:
    store = CheckpointStore(tmp_path / "ck", keep=1000)  # every step's checkpoint stays, to fork from
    return shoal.Study(name, SPACE, storage=storage, checkpoints=store, seed=0)


def _objective(study: shoal.Study, trained: dict[int, list[list[Any]]],
               tweaks: dict[int, tuple[int, dict[str, Any]]], fail_at: dict[int, int] | None = None):
    """Trains ``STEPS`` steps from its checkpoint, remembering the (lr, units) of every step since
    scratch; ``tweaks``: trial -> (after the report of this step, tweak its own hyperparameters);
    ``fail_at``: trial -> raise before it saves that step."""
    def objective(config: dict[str, Any], trial: shoal.RunningTrial) -> float:
        state = trial.load() or {"step": 0, "trained": []}
        step, history = state["step"], state["trained"]
        while step < STEPS:
            step += 1
            history = [*history, [config["lr"], config["units"]]]
            if fail_at and fail_at.get(trial.number) == step:
                raise RuntimeError("the node went away")
            trial.save({"step": step, "trained": history}, step)
            trial.report(config["lr"], step)
            if trial.number in tweaks and tweaks[trial.number][0] == step:
                study.tweak(trial.number, tweaks[trial.number][1])
            if trial.should_stop():
                break
        trained[trial.number] = history
        return config["lr"]
    return objective


def _replayed(schedule: Schedule, steps: int = STEPS) -> list[list[Any]]:
    return [[schedule.config_at(s)["lr"], schedule.config_at(s)["units"]] for s in range(1, steps + 1)]


def test_a_plain_trial_is_its_own_schedule_from_step_0_with_its_tweaks(
    storage: Storage, tmp_path: Path
) -> None:
    study = _study("plain", storage, tmp_path)
    trained: dict[int, list[list[Any]]] = {}
    study.optimize(_objective(study, trained, {0: (3, {"lr": 0.5})}), n_trials=1, show_progress=False)
    trial = study.trials[0]
    [tweak] = trial.changes
    schedule = schedule_of(study, 0)
    assert schedule.trial == 0 and schedule.value == trial.value
    assert schedule.steps == [(0, trial.config), (tweak.step, {**trial.config, "lr": 0.5})]
    assert schedule.steps == [(step, {**trial.config, **changed}) for step, changed in trial.schedule]
    assert _replayed(schedule) == trained[0]
    # the tweak's step is the first step trained with it
    assert trained[0][tweak.step - 2][0] != 0.5 and trained[0][tweak.step - 1][0] == 0.5


def test_a_fork_of_a_fork_replays_the_parents_tweaks_up_to_the_fork_step_then_its_own(
    storage: Storage, tmp_path: Path
) -> None:
    study = _study("forks", storage, tmp_path)
    trained: dict[int, list[list[Any]]] = {}
    # trial 0 is tweaked after step 2, its fork (trial 1) after step 5: each in force by the next fork
    tweaks = {0: (2, {"lr": 0.5}), 1: (5, {"units": 32})}
    objective = _objective(study, trained, tweaks)
    study.optimize(objective, n_trials=1, show_progress=False)
    first = study.trials[0]
    child = study.fork(0, step=4, changes={"lr": 0.01})
    study.optimize(objective, n_trials=1, show_progress=False)
    grandchild = study.fork(child.number, step=7, changes={"lr": 0.002})
    study.optimize(objective, n_trials=1, show_progress=False)
    child, grandchild = study.trials[child.number], study.trials[grandchild.number]
    [tweak] = first.changes
    [child_tweak] = [c for c in child.changes if c.kind == "tweak"]
    assert tweak.step <= 4 < child_tweak.step <= 7  # both in force before the next fork's step
    schedule = schedule_of(study, grandchild.number)
    base = first.config
    assert schedule.changes() == [
        (0, base),
        (tweak.step, {**base, "lr": 0.5}),  # the parent's tweak, before the fork step
        (5, {**base, "lr": 0.01}),  # the fork's change
        (child_tweak.step, {**base, "lr": 0.01, "units": 32}),  # the fork's own tweak
        (8, {**base, "lr": 0.002, "units": 32}),  # the fork of the fork
    ]
    assert _replayed(schedule) == trained[grandchild.number]
    assert _replayed(schedule_of(study, child.number)) == trained[child.number]
    # the fork rows the schedule reads: the old value is the parent's in force at the fork step
    [row] = grandchild.changes
    assert (row.name, row.old, row.new) == ("lr", 0.01, 0.002)
    assert (row.kind, row.source, row.step) == ("fork", "person", 8)
    events = {r["trial"]: r for r in lineage_events(study.trials, study.storage.read_lineage(study.id))}
    assert events[child.number]["changed"] == {"lr": [0.5, 0.01]}
    assert events[grandchild.number]["changed"] == {"lr": [0.01, 0.002]}


def test_a_rerun_takes_over_where_it_resumed_with_the_tweak_in_force(tmp_path: Path) -> None:
    study = _study("rerun", None, tmp_path)
    trained: dict[int, list[list[Any]]] = {}
    objective = _objective(study, trained, {0: (1, {"lr": 0.5})}, fail_at={0: 5})
    study.optimize(objective, n_trials=1, retries=1, show_progress=False)
    failed, rerun = study.trials
    assert (failed.state, rerun.state, rerun.requeued_from) == (TrialState.FAILED, TrialState.COMPLETE, 0)
    assert rerun.config["lr"] == 0.5 and rerun.reports[0][0] == 5  # it resumed from step 4
    schedule = schedule_of(study, rerun.number)
    [tweak] = failed.changes
    assert schedule.changes() == [(0, failed.config), (tweak.step, rerun.config)]
    assert _replayed(schedule) == trained[rerun.number]


# -- on fabricated records -----------------------------------------------------------------------


def _t(number: int, lr: float, reports: list[int], changes: list[ConfigChange] = (),
       requeued_from: int | None = None, state: TrialState = TrialState.COMPLETE) -> Trial:
    return Trial(number, state, {"lr": lr}, reports=[(s, lr) for s in reports], changes=list(changes),
                 requeued_from=requeued_from, value=lr)


def test_each_trial_is_cut_where_the_next_took_over() -> None:
    # segment 0 (tweaked at 3 and at 7), its successor took over at 5 from its checkpoint at 4
    tweaked = _t(0, 0.1, [1, 2, 3, 4, 5, 6], [ConfigChange(0, "lr", 0.1, 0.2, "person", 3),
                                              ConfigChange(0, "lr", 0.2, 0.3, "person", 7)])
    after = _t(1, 0.2, [5, 6, 7, 8])
    lineage = [LineageRecord(0, 0, 0), LineageRecord(1, 0, 1, parent=0, checkpoint="c", step=4)]
    schedule = schedule_from([tweaked, after], lineage, 1)
    assert schedule.steps == [(0, {"lr": 0.1}), (3, {"lr": 0.2}), (5, {"lr": 0.2})]
    assert schedule.changes() == [(0, {"lr": 0.1}), (3, {"lr": 0.2})]
    assert [schedule.config_at(s)["lr"] for s in range(0, 9)] == [0.1] * 3 + [0.2] * 6


def test_a_rerun_that_restarted_before_its_predecessor_began_replaces_it() -> None:
    # trial 1 went on from trial 0's checkpoint at 4 and died before it saved; its re-run 2 started
    # from that same checkpoint (first report 5): nothing of trial 1 lasts
    first, died = _t(0, 0.1, [1, 2, 3, 4]), _t(1, 0.4, [5, 6], state=TrialState.FAILED)
    rerun = _t(2, 0.3, [5, 6, 7], requeued_from=1)
    lineage = [LineageRecord(0, 0, 0), LineageRecord(1, 0, 1, parent=0, checkpoint="c", step=4)]
    schedule = schedule_from([first, died, rerun], lineage, 2)
    assert schedule.steps == [(0, {"lr": 0.1}), (5, {"lr": 0.3})]
    # a re-run that reported nothing yet takes over after the last step its predecessor reported
    waiting = _t(3, 0.3, [], requeued_from=1, state=TrialState.RUNNING)
    assert schedule_from([first, died, waiting], lineage, 3).steps == [
        (0, {"lr": 0.1}), (5, {"lr": 0.4}), (7, {"lr": 0.3})]


def test_schedule_from_names_a_missing_trial_and_keeps_its_old_home() -> None:
    assert schedule_from_pbt is schedule_from  # shoal.schedulers.pbt re-exports the one reader
    with pytest.raises(ValueError, match="no trial number 9"):
        schedule_from([_t(0, 0.1, [1])], [], 9)

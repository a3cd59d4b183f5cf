"""Study behaviour: ask/tell, optimize, failures, resume, crash recovery, reproducibility."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_for

import shoal
from shoal.samplers import Random
from shoal.trial import TrialState

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "beta": shoal.Float(0.9, 0.999, scale="reverse_log"),
    "units": shoal.Int(32, 256, step=32),
    "opt": shoal.Choice(["adam", "sgd"]),
    "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
}


def score(config: dict) -> float:
    return -((math.log10(config["lr"]) + 2) ** 2) + config["units"] / 1000


def test_optimize_records_every_trial_and_finds_best(sqlite_url: str) -> None:
    study = shoal.Study("s", SPACE, "maximize", sqlite_url, sampler=Random(seed=0))
    study.optimize(score, n_trials=40, show_progress=False)
    trials = study.trials
    assert [t.number for t in trials] == list(range(40))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert study.best.value == max(t.value for t in trials)
    assert study.best.config == max(trials, key=lambda t: t.value).config
    assert all(("beta1" in t.config) == (t.config["opt"] == "adam") for t in trials)


def test_seed_repeats_a_run_exactly_and_different_seeds_differ() -> None:
    def configs(seed: int) -> list[dict]:
        study = shoal.Study("s", SPACE, "maximize", seed=seed)
        study.optimize(score, n_trials=10, show_progress=False)
        return [t.config for t in study.trials]

    assert configs(7) == configs(7)
    assert configs(7) != configs(8)


def test_random_tries_a_distinct_value_of_every_dimension_per_trial() -> None:
    study = shoal.Study("s", SPACE, "maximize", sampler=Random(seed=1))
    study.optimize(score, n_trials=25, show_progress=False)
    assert len({t.config["lr"] for t in study.trials}) == 25
    assert len({t.config["beta"] for t in study.trials}) == 25


def test_ask_tell_and_enqueue(sqlite_url: str) -> None:
    study = shoal.Study("s", SPACE, "maximize", sqlite_url, seed=0)
    queued = study.enqueue({"lr": 1e-3, "beta": 0.99, "units": 64, "opt": "sgd"})
    assert queued.state == TrialState.QUEUED
    first = study.ask()
    assert first.number == queued.number and first.config["lr"] == 1e-3
    assert first.config["units"] == 64 and isinstance(first.config["units"], int)
    second = study.ask()
    assert second.number == 1
    study.tell(first, 0.5)
    study.tell(second.number, state="PRUNED")
    reloaded = shoal.Study.load("s", sqlite_url)
    assert [t.state for t in reloaded.trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    assert reloaded.best.number == 0
    with pytest.raises(ValueError, match="finished trials never change"):
        study.tell(first, 0.7)


def test_enqueue_refuses_bad_configs_naming_the_dimension() -> None:
    study = shoal.Study("s", SPACE, "maximize")
    with pytest.raises(ValueError, match="'lr'"):
        study.enqueue({"lr": 5.0, "beta": 0.99, "units": 64, "opt": "sgd"})
    with pytest.raises(ValueError, match="'beta1' is inactive"):
        study.enqueue({"lr": 1e-3, "beta": 0.99, "units": 64, "opt": "sgd", "beta1": 0.9})
    with pytest.raises(ValueError, match="'units': 0.5 is not a legal value"):  # a partial one too
        study.enqueue({"units": 0.5})
    with pytest.raises(ValueError, match="unknown dimension"):
        study.enqueue({"lr": 1e-3, "beta": 0.99, "units": 64, "opt": "sgd", "typo": 1})


def test_failures_are_recorded_and_the_study_goes_on() -> None:
    def objective(config: dict) -> float:
        if config["units"] == 32:
            raise RuntimeError("boom in the model")
        if config["opt"] == "sgd" and config["units"] == 64:
            return float("nan")
        return score(config)

    study = shoal.Study("s", SPACE, "maximize", seed=2)
    study.optimize(objective, n_trials=40, show_progress=False)
    failed = [t for t in study.trials if t.state == TrialState.FAILED]
    assert failed, "the seed should produce some failing configs"
    for trial in failed:
        if trial.config["units"] == 32:
            assert "RuntimeError: boom in the model" in trial.error
            assert "Traceback" in trial.error
        else:
            assert "nan" in trial.error
    assert len(study.trials) == 40


def test_exceptions_outside_catch_are_recorded_then_raised() -> None:
    def objective(config: dict) -> float:
        raise KeyError("not caught")

    study = shoal.Study("s", SPACE, "maximize")
    with pytest.raises(KeyError):
        study.optimize(objective, n_trials=5, catch=(ValueError,), show_progress=False)
    assert [t.state for t in study.trials] == [TrialState.FAILED]


def test_non_numeric_results_fail_the_trial_with_a_reason() -> None:
    study = shoal.Study("s", SPACE)
    study.optimize(lambda c: "0.5", n_trials=1, show_progress=False)
    assert study.trials[0].state == TrialState.FAILED
    assert "return a number" in study.trials[0].error


def test_reports_and_pruning() -> None:
    def objective(config: dict, trial: shoal.RunningTrial) -> float:
        for step in range(3):
            trial.report(step / 10, step)
        if config["opt"] == "sgd":
            raise shoal.TrialPruned()
        return 1.0

    study = shoal.Study("s", SPACE, "maximize", seed=0)
    study.optimize(objective, n_trials=12, show_progress=False)
    for trial in study.trials:
        assert trial.reports == [(0, 0.0), (1, 0.1), (2, 0.2)]
        expected = TrialState.PRUNED if trial.config["opt"] == "sgd" else TrialState.COMPLETE
        assert trial.state == expected
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned and all(t.value == 0.2 for t in pruned)


def test_keyboard_interrupt_keeps_finished_trials_and_requeues_the_running_one(sqlite_url: str) -> None:
    calls = []

    def objective(config: dict) -> float:
        calls.append(config)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return score(config)

    study = shoal.Study("s", SPACE, "maximize", sqlite_url, seed=0)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=10, show_progress=False)
    resumed = shoal.Study.load("s", sqlite_url, seed=0)
    states = [t.state for t in resumed.trials]
    assert states == [TrialState.COMPLETE] * 3 + [TrialState.STALE, TrialState.QUEUED]
    resumed.optimize(score, n_trials=2, show_progress=False)
    trials = resumed.trials
    assert trials[4].config == trials[3].config and trials[4].requeued_from == 3
    assert trials[4].state == TrialState.COMPLETE


def test_resume_with_a_changed_space(sqlite_url: str) -> None:
    study = shoal.Study("s", SPACE, "maximize", sqlite_url, seed=0)
    study.optimize(score, n_trials=5, show_progress=False)
    widened = {
        **SPACE,
        "lr": shoal.Float(1e-5, 1.0, scale="log"),
        "dropout": shoal.Float(0, 0.5, default=0.0),
    }
    resumed = shoal.Study("s", widened, "maximize", sqlite_url)
    resumed.optimize(score, n_trials=3, show_progress=False)
    assert len(resumed.trials) == 8
    assert all("dropout" in t.config for t in resumed.trials[5:])
    assert shoal.Study.load("s", sqlite_url).space == shoal.Space(widened)
    narrowed = {**SPACE, "lr": shoal.Float(1e-2, 1.0, scale="log")}
    with pytest.raises(shoal.SpaceMismatch, match="'lr'"):
        shoal.Study("s", narrowed, "maximize", sqlite_url)
    without_default = {**SPACE, "dropout": shoal.Float(0, 0.5)}
    with pytest.raises(shoal.SpaceMismatch, match="'dropout'.*default"):
        shoal.Study("s", without_default, "maximize", sqlite_url)


def test_resume_continues_and_may_change_the_sampler(sqlite_url: str) -> None:
    shoal.Study("s", SPACE, "maximize", sqlite_url, seed=0).optimize(score, n_trials=4, show_progress=False)
    resumed = shoal.Study.load("s", sqlite_url, sampler=Random(seed=9))
    resumed.optimize(score, n_trials=4, show_progress=False)
    assert len(resumed.trials) == 8
    with pytest.raises(ValueError, match="direction='maximize'"):
        shoal.Study("s", SPACE, "minimize", sqlite_url)
    with pytest.raises(shoal.StudyNotFound, match="'s'"):
        shoal.Study.load("missing", sqlite_url)


def test_types_survive_storage(sqlite_url: str) -> None:
    space = {
        "n": shoal.Int(1, 9),
        "c": shoal.Choice([1, "1", 1.5, True, None]),
        "f": shoal.Fixed(3),
        "x": shoal.Float(0.0, 1.0, step=0.25),
    }
    study = shoal.Study("types", space, storage=sqlite_url, seed=0)
    study.optimize(lambda c: c["n"], n_trials=30, show_progress=False)
    for trial in shoal.Study.load("types", sqlite_url).trials:
        assert type(trial.config["n"]) is int
        assert type(trial.config["f"]) is int
        assert type(trial.config["x"]) is float
        assert any(trial.config["c"] is v or (type(v) is type(trial.config["c"]) and v == trial.config["c"])
                   for v in (1, "1", 1.5, True, None))
    seen = {json.dumps(t.config["c"]) for t in study.trials}
    assert {"1", '"1"'} <= seen


def test_two_studies_on_one_file_see_each_others_trials(sqlite_url: str) -> None:
    a = shoal.Study("shared", SPACE, "maximize", sqlite_url, seed=1)
    b = shoal.Study("shared", SPACE, "maximize", sqlite_url, seed=2)
    ta = a.ask()
    tb = b.ask()
    assert ta.number != tb.number
    a.tell(ta, 1.0)
    b.tell(tb, 2.0)
    assert [t.state for t in a.trials] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert a.best.value == 2.0


def test_optimize_validates_its_arguments() -> None:
    study = shoal.Study("s", SPACE)
    with pytest.raises(ValueError, match="n_trials"):
        study.optimize(score, n_trials=0)
    with pytest.raises(ValueError, match="timeout"):
        study.optimize(score, n_trials=1, timeout=-1)
    with pytest.raises(ValueError, match="objective"):
        study.optimize(42, n_trials=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="direction"):
        shoal.Study("s", SPACE, "up")
    with pytest.raises(ValueError, match="sampler"):
        shoal.Study("t", SPACE, sampler="random")  # type: ignore[arg-type]


def test_to_dataframe_has_one_row_per_trial() -> None:
    study = shoal.Study("s", SPACE, "maximize", seed=0)
    study.optimize(score, n_trials=6, show_progress=False)
    frame = study.to_dataframe()
    assert list(frame["number"]) == list(range(6))
    assert {"value", "state", "config_lr", "config_units", "config_beta1"} <= set(frame.columns)
    assert frame["config_units"].dtype.kind == "i"


def test_sigkilled_driver_loses_no_finished_trial(tmp_path: Path, sqlite_url: str) -> None:
    marker = tmp_path / "running"
    driver = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("crash_driver.py")), sqlite_url, str(marker), "7"],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )

    def driver_alive() -> None:
        assert driver.poll() is None, "the driver exited before reaching the hanging trial"

    try:
        wait_for(marker.exists, "the driver to reach the hanging trial", check=driver_alive)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    space = {"x": shoal.Float(0.0, 1.0), "n": shoal.Int(1, 9), "opt": shoal.Choice(["adam", "sgd"])}
    study = shoal.Study.load("crash", sqlite_url, space=space)
    trials = study.trials
    assert [t.state for t in trials[:7]] == [TrialState.COMPLETE] * 7
    assert trials[7].state == TrialState.STALE and "process gone" in trials[7].error
    assert trials[7].reports == [(1, 0.25)]
    assert trials[8].state == TrialState.QUEUED and trials[8].config == trials[7].config
    study.optimize(lambda c: c["x"], n_trials=3, show_progress=False)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 10


def test_public_names_and_submodules_resolve_lazily() -> None:
    import importlib

    fresh = importlib.reload(shoal)
    for name in fresh.__all__:
        assert getattr(fresh, name) is not None
    assert fresh.storage.get_storage(None).url == "memory"
    assert fresh.samplers.Grid.__name__ == "Grid"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fresh.nope  # noqa: B018


def test_load_takes_every_option_study_takes(sqlite_url: str, tmp_path) -> None:
    """One spelling per idea: reopening a study accepts what creating it accepts (the direction, or
    the objectives and constraints, and unless given the space come from storage)."""
    import inspect

    from_storage = {"name", "direction", "objectives", "constraints"}
    created = set(inspect.signature(shoal.Study).parameters) - from_storage
    loaded = set(inspect.signature(shoal.Study.load).parameters) - {"name"}
    assert created == loaded
    shoal.Study("opts", {"x": shoal.Float(0, 1)}, storage=sqlite_url)
    store = tmp_path / "ckpt"
    study = shoal.Study.load("opts", sqlite_url, checkpoints=str(store), requeue_stale=False)
    trial = study.ask()
    trial.save({"w": 1}, step=0)
    assert str(store) in study.storage.read_checkpoints(study.id)[0].uri

"""Several objectives and constraints (issue 13) through a real study: what objectives return, what
storage keeps, the Pareto front, ``best`` with constraints, ``tell`` with a dict, reopening, samplers'
and schedulers' view, executors (in process and on local workers; Dask in test_dask.py)."""

from __future__ import annotations

import math
import random
import statistics
import warnings
from functools import partial
from pathlib import Path

import multi_objectives as mo
import pytest
import sqlalchemy as sa

import shoal
from shoal.objectives import Objectives
from shoal.samplers import Random
from shoal.samplers.base import SamplingContext
from shoal.schedulers import PBT, MedianStopping
from shoal.schedulers.base import Decision, Scheduler
from shoal.storage import Storage
from shoal.trial import FailureKind, TrialState

COMPLETE, FAILED, PRUNED = TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED
RUNNING = TrialState.RUNNING


def new_study(storage: Storage | str | None = None, name: str = "mlp", **kwargs) -> shoal.Study:
    kwargs.setdefault("objectives", mo.OBJECTIVES)
    kwargs.setdefault("constraints", mo.CONSTRAINTS)
    kwargs.setdefault("sampler", Random(seed=0))
    return shoal.Study(name, mo.SPACE, storage=storage, **kwargs)


def check_against_expected(study: shoal.Study) -> None:
    for trial in study.trials:
        state, values, feasible = mo.expected(trial.config)
        assert (trial.state.value, trial.values or None, trial.feasible) == (state, values, feasible)
        if state == "COMPLETE":
            assert trial.value == values["accuracy"]  # the first objective's value
        else:
            assert trial.value is None and trial.failure is FailureKind.OBJECTIVE


# -- the whole path through storage ----------------------------------------------------------------


def test_several_objectives_and_constraints_through_storage(storage: Storage) -> None:
    study = new_study(storage)
    study.optimize(mo.tradeoff, n_trials=40, show_progress=False)
    trials = study.trials
    assert len(trials) == 40 and {t.state for t in trials} >= {COMPLETE, FAILED}
    check_against_expected(study)
    assert {t.feasible for t in trials if t.state == COMPLETE} == {True, False}
    front = study.pareto_front
    assert [t.number for t in front] == mo.brute_front(trials, mo.OBJECTIVES) != []
    with pytest.raises(ValueError, match=r"several objectives \(accuracy, latency_ms\).*study.pareto_front"):
        study.best  # noqa: B018
    assert study.direction == "maximize" and study.objectives == Objectives.build(
        objectives=mo.OBJECTIVES, constraints=mo.CONSTRAINTS)
    failed = [t for t in trials if t.state == FAILED]
    assert any("'accuracy' = nan, which is not a finite number" in t.error for t in failed)
    assert any("returned no 'latency_ms'" in t.error for t in failed)
    # reopened, from storage alone
    again = shoal.Study.load("mlp", storage)
    assert again.objectives == study.objectives and again.direction == "maximize"
    assert [(t.values, t.feasible) for t in again.trials] == [(t.values, t.feasible) for t in trials]
    assert [t.number for t in again.pareto_front] == [t.number for t in front]
    again.optimize(mo.tradeoff, n_trials=5, show_progress=False)
    assert len(study.trials) == 45
    check_against_expected(study)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_pareto_front_is_exactly_the_non_dominated_feasible_set(storage: Storage, seed: int) -> None:
    """Random returned values (with ties) on three objectives of mixed directions and a constraint."""
    objectives = {"a": "minimize", "b": "maximize", "c": "minimize"}
    draws: dict[tuple, dict[str, float]] = {}

    def objective(config: dict) -> dict[str, float]:
        rng = random.Random(f"{seed}-{config['x']}-{config['y']}")
        values = {k: float(rng.randint(0, 6)) for k in ("a", "b", "c", "load")}
        draws[(config["x"], config["y"])] = values
        return values

    study = shoal.Study(f"front{seed}", mo.SPACE, storage=storage, sampler=Random(seed=seed),
                        objectives=objectives, constraints=["load <= 4"])
    study.optimize(objective, n_trials=60, show_progress=False)
    trials = study.trials
    assert all(t.values == draws[(t.config["x"], t.config["y"])] for t in trials)
    assert all(t.feasible == (t.values["load"] <= 4) for t in trials)
    expected = mo.brute_front(trials, objectives)
    assert [t.number for t in study.pareto_front] == expected
    assert 0 < len(expected) < sum(1 for t in trials if t.feasible)


def test_a_one_number_study_writes_no_values(sql_url: str) -> None:
    study = shoal.Study("plain", mo.SPACE, "maximize", sql_url, sampler=Random(seed=0))
    study.optimize(mo.accuracy, n_trials=5, show_progress=False)
    study.optimize(mo.tradeoff, n_trials=2, show_progress=False)  # a dict in a one-number study fails
    assert [t.state for t in study.trials] == [COMPLETE] * 5 + [FAILED] * 2
    assert all((t.values, t.feasible) == ({}, None) for t in study.trials)
    assert "return a number (a dict of named values is for a study created with objectives=" in (
        study.trials[-1].error)
    assert study.best.value == max(t.value for t in study.trials[:5])
    assert study.storage.get_study("plain").objectives is None
    engine = sa.create_engine(sql_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM shoal_metrics")).scalar() == 0
            assert conn.execute(sa.text("SELECT COUNT(*) FROM shoal_trials WHERE feasible IS NOT NULL")
                                ).scalar() == 0
    finally:
        engine.dispose()
    with pytest.raises(ValueError, match="no completed trial yet"):
        shoal.Study("empty", mo.SPACE, "maximize", sql_url).best  # noqa: B018


# -- one objective with constraints ------------------------------------------------------------------


def test_best_is_the_best_feasible_trial_or_none_with_a_warning(storage: Storage) -> None:
    study = shoal.Study("c", mo.SPACE, "maximize", storage, constraints=["memory_mb <= 300"])
    assert study.objectives.names == ("value",) and study.direction == "maximize"
    with pytest.warns(UserWarning, match=r"no trial meets the constraints \(memory_mb <= 300\) yet \(0 "):
        assert study.best is None
    heavy = study.ask()
    study.tell(heavy, {"value": 0.99, "memory_mb": 900})
    with pytest.warns(UserWarning, match=r"\(1 completed\); study.best is None until one does"):
        assert study.best is None
    light, lighter = study.ask(), study.ask()
    study.tell(light, {"value": 0.5, "memory_mb": 300})
    study.tell(lighter, {"value": 0.4, "memory_mb": 10, "loss": 1.5})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert study.best.number == light.number
    assert [t.number for t in study.pareto_front] == [light.number]
    assert study.trials[lighter.number].values == {"value": 0.4, "memory_mb": 10.0, "loss": 1.5}
    assert [t.feasible for t in study.trials] == [False, True, True]
    (summary,) = study.storage.list_studies()
    assert summary.best_value == 0.5  # the best feasible value, not 0.99


def test_a_constrained_study_needs_a_dict_and_says_so() -> None:
    study = shoal.Study("c", mo.SPACE, constraints=["memory_mb <= 512"], sampler=Random(seed=0))
    study.optimize(mo.accuracy, n_trials=1, show_progress=False)
    study.optimize(lambda c: {"value": c["x"]}, n_trials=1, show_progress=False)
    study.optimize(lambda c: {"value": c["x"], "memory_mb": 64}, n_trials=1, show_progress=False)
    first, second, third = study.trials
    assert first.state == FAILED and first.failure is FailureKind.OBJECTIVE
    assert "a study with constraints needs a dict: return one such as {'value': ..., 'memory_mb': ...}" in (
        first.error)
    assert "(the objective under 'value'" in first.error
    assert second.state == FAILED and "returned no 'memory_mb', which the constraint 'memory_mb <= 512'" in (
        second.error)
    assert (third.state, third.value, third.values, third.feasible) == (
        COMPLETE, third.config["x"], {"value": third.config["x"], "memory_mb": 64.0}, True)


def test_bad_returned_values_fail_their_trial_with_the_reason() -> None:
    returned = iter([
        {"accuracy": 0.5},
        {"accuracy": "high", "latency_ms": 1.0, "memory_mb": 1.0},
        {"accuracy": 0.5, "latency_ms": math.inf, "memory_mb": 1.0},
        {"accuracy": 0.5, "latency_ms": 1.0, "memory_mb": 1.0, "x" * 256: 1.0},
        {"accuracy": 0.5, "latency_ms": 1.0, "memory_mb": 1.0, 7: 1.0},
        0.5,
        "0.5",
        {"accuracy": 0.5, "latency_ms": 1.0, "memory_mb": None},
    ])
    study = new_study()
    study.optimize(lambda c: next(returned), n_trials=8, show_progress=False)
    errors = [t.error for t in study.trials]
    assert all(t.state == FAILED and t.failure is FailureKind.OBJECTIVE for t in study.trials)
    assert "returned no 'latency_ms'" in errors[0]
    assert "'accuracy' = 'high', which is not a finite number" in errors[1]
    assert "'latency_ms' = inf" in errors[2]
    assert "a string of 1 to 255 characters" in errors[3]
    assert "keys must be strings, got 7" in errors[4]
    assert "several objectives needs a dict: return one such as {'accuracy': ..." in errors[5]
    assert "objective returned '0.5' (str); return a dict such as {'accuracy': ..." in errors[6]
    assert "'memory_mb' = None" in errors[7]


# -- tell --------------------------------------------------------------------------------------------


def test_tell_takes_a_dict(storage: Storage) -> None:
    study = new_study(storage)
    a, b, c, d, e = (study.ask() for _ in range(5))
    done = study.tell(a, {"accuracy": 0.9, "latency_ms": 10, "memory_mb": 100})
    assert (done.state, done.value, done.feasible) == (COMPLETE, 0.9, True)
    assert done.values == {"accuracy": 0.9, "latency_ms": 10.0, "memory_mb": 100.0}
    assert study.tell(b, {"accuracy": 0.95, "latency_ms": 30, "memory_mb": 100}).feasible is False
    nan = study.tell(c, {"accuracy": math.nan, "latency_ms": 1, "memory_mb": 1})
    assert (nan.state, nan.failure, nan.values) == (FAILED, FailureKind.OBJECTIVE, {})
    assert "'accuracy' = nan" in nan.error
    for value, message in [
        (0.5, r"tell: a study with several objectives needs a dict: return one such as \{'accuracy': "),
        (math.nan, "tell: a study with several objectives needs a dict"),
        ("0.5", r"this study's objectives are accuracy \(maximize\), latency_ms \(minimize\); memory_mb"),
        ({"accuracy": 0.5, "latency_ms": 1.0}, "returned no 'memory_mb'"),
        ({"accuracy": 0.5, "memory_mb": 1.0}, "returned no 'latency_ms'"),
        ({"accuracy": "0.5", "latency_ms": 1.0, "memory_mb": 1.0}, "values must map names to numbers"),
        (None, "tell needs a value"),
    ]:
        with pytest.raises(ValueError, match=message):
            study.tell(d, value)
    assert study.trials[d.number].state == RUNNING  # nothing was stored
    with pytest.raises(ValueError, match="a FAILED trial keeps no values"):
        study.tell(d, {"accuracy": 0.5, "latency_ms": 1.0, "memory_mb": 1.0}, state="FAILED")
    pruned = study.tell(d, {"accuracy": 0.2, "latency_ms": 1, "memory_mb": 1}, state="PRUNED")
    assert (pruned.state, pruned.value, pruned.feasible) == (PRUNED, 0.2, True)
    failed = study.tell(e, state="FAILED", error="out of memory")
    assert (failed.state, failed.values, failed.feasible, failed.error) == (FAILED, {}, None, "out of memory")
    assert [t.number for t in study.pareto_front] == [a.number]
    reread = shoal.Study.load("mlp", storage).trials
    assert [(t.state, t.values, t.feasible) for t in reread] == [
        (t.state, t.values, t.feasible) for t in study.trials]


def test_one_named_objective_takes_a_number_or_a_dict() -> None:
    """``objectives={"loss": "minimize"}`` without constraints: a bare number is the loss, as
    ``Objectives.read`` reads it, from the objective and in tell alike."""
    study = shoal.Study("one", mo.SPACE, objectives={"loss": "minimize"}, sampler=Random(seed=0))
    study.optimize(lambda c: c["x"], n_trials=2, show_progress=False)
    study.optimize(lambda c: {"loss": c["x"], "epochs": 2}, n_trials=1, show_progress=False)
    told = study.tell(study.ask(), 0.25)
    losses = [t.config["x"] for t in study.trials[:3]] + [0.25]
    assert [(t.state, t.values, t.feasible) for t in study.trials] == [
        (COMPLETE, {"loss": losses[0]}, True), (COMPLETE, {"loss": losses[1]}, True),
        (COMPLETE, {"loss": losses[2], "epochs": 2.0}, True), (COMPLETE, {"loss": 0.25}, True)]
    assert told.value == 0.25 and study.best.value == min(t.value for t in study.trials)
    assert study.tell(study.ask(), math.inf).state == FAILED


def test_tell_in_a_one_number_study_is_as_before() -> None:
    study = shoal.Study("plain", mo.SPACE, "maximize")
    a, b, c = study.ask(), study.ask(), study.ask()
    with pytest.raises(ValueError, match="tell: value must be a number.*a dict of named values is for"):
        study.tell(a, {"value": 0.5})
    with pytest.raises(ValueError, match="tell: value must be a number, got '0.5'"):
        study.tell(a, "0.5")
    assert study.tell(a, 0.5).value == 0.5
    assert study.tell(b, math.nan).state == FAILED
    assert study.tell(c, 0.25, state="PRUNED").value == 0.25
    assert all((t.values, t.feasible) == ({}, None) for t in study.trials)


# -- arguments, reopening ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"objectives": {}}, "objectives must be a non-empty mapping"),
    ({"objectives": ["accuracy"]}, "objectives must be a non-empty mapping"),
    ({"objectives": {"accuracy": "up"}}, "'accuracy' must be 'minimize' or 'maximize', got 'up'"),
    ({"objectives": {"": "minimize"}}, "every name must be a non-empty string"),
    ({"objectives": {"a": "minimize"}, "direction": "maximize"}, "either direction= .* not both"),
    ({"constraints": "memory_mb <= 512"}, "constraints must be a list of strings"),
    ({"constraints": ["memory_mb < 512"]}, r"'memory_mb < 512' is not '<metric> <= <number>'"),
    ({"constraints": ["memory_mb <= lots"]}, "'lots' is not a number"),
    ({"constraints": ["memory_mb <= inf"]}, "the bound must be a finite number"),
    ({"constraints": [512]}, "constraint 512 must be a string"),
    ({"direction": "up"}, "direction must be 'minimize' or 'maximize'"),
    ({"objectives": mo.OBJECTIVES, "report_metric": "loss"}, r"report_metric must name one of the objec"),
    ({"report_metric": "accuracy"}, r"report_metric must name one of the objectives \('value'\)"),
    ({"objectives": mo.OBJECTIVES, "scheduler": PBT(population=2)}, r"PBT.*ranks trials by one value.*sever"),
])
def test_bad_arguments_raise_before_anything_is_stored(tmp_path: Path, kwargs: dict, message: str) -> None:
    path = tmp_path / "never.db"
    with pytest.raises(ValueError, match=message):
        shoal.Study("s", mo.SPACE, storage=f"sqlite:///{path}", **kwargs)
    assert not path.exists()


def test_reopening_with_other_objectives_names_the_stored_ones(sqlite_url: str) -> None:
    new_study(sqlite_url)
    with pytest.raises(ValueError, match=r"created with objectives=\{'accuracy': 'maximize', 'latency_ms': "
                       r"'minimize'\} and constraints=\['memory_mb <= 512', 'latency_ms <= 20'\]"):
        new_study(sqlite_url, objectives={"accuracy": "maximize", "latency_ms": "maximize"})
    with pytest.raises(ValueError, match="created with objectives="):
        new_study(sqlite_url, constraints=["memory_mb <= 256"])
    with pytest.raises(ValueError, match="created with objectives="):
        shoal.Study("mlp", mo.SPACE, "maximize", sqlite_url)
    assert new_study(sqlite_url).objectives.names == ("accuracy", "latency_ms")  # the same: reopened
    shoal.Study("plain", mo.SPACE, "minimize", sqlite_url)
    with pytest.raises(ValueError, match=r"created with direction='minimize' \(one number, no constraints\)"):
        shoal.Study("plain", mo.SPACE, "minimize", sqlite_url, constraints=["m <= 1"])
    with pytest.raises(ValueError, match="created with direction='minimize'"):
        shoal.Study("plain", mo.SPACE, storage=sqlite_url, objectives={"value": "maximize"})
    # objectives={"value": direction} is the one-number study itself
    assert shoal.Study("plain", mo.SPACE, storage=sqlite_url, objectives={"value": "minimize"}).direction == (
        "minimize")
    loaded = shoal.Study.load("mlp", sqlite_url)
    assert loaded.objectives.describe() == (
        "accuracy (maximize), latency_ms (minimize); memory_mb <= 512, latency_ms <= 20")
    assert "objectives='accuracy (maximize)" in repr(loaded)
    constrained = shoal.Study("c", mo.SPACE, storage=sqlite_url, constraints=["m <= 0.1234567"])
    assert shoal.Study.load("c", sqlite_url).objectives == constrained.objectives


def test_to_dataframe_has_a_column_per_returned_value_and_feasible() -> None:
    study = new_study()
    study.optimize(mo.tradeoff, n_trials=12, show_progress=False)
    frame = study.to_dataframe()
    assert list(frame.columns[:9]) == ["number", "state", "value", "values_accuracy", "values_latency_ms",
                                       "values_memory_mb", "values_epochs", "feasible", "config_x"]
    for row, trial in zip(frame.itertuples(), study.trials, strict=True):
        assert row.values_accuracy == trial.values.get("accuracy") or (
            math.isnan(row.values_accuracy) and not trial.values)
    plain = shoal.Study("plain", mo.SPACE)
    plain.optimize(mo.accuracy, n_trials=2, show_progress=False)
    assert not any(c.startswith("values_") or c == "feasible" for c in plain.to_dataframe().columns)


# -- what samplers and schedulers see -----------------------------------------------------------------


class Spy(Random):
    def __init__(self, seed: int | None = 0) -> None:
        super().__init__(seed)
        self.seen: list[SamplingContext] = []

    def propose(self, context: SamplingContext):
        self.seen.append(context)
        return super().propose(context)


def test_the_sampling_context_carries_the_objectives_of_a_study_with_several() -> None:
    plain, several, constrained = Spy(), Spy(), Spy()
    shoal.Study("p", mo.SPACE, "maximize", sampler=plain).optimize(mo.accuracy, 3, show_progress=False)
    new_study(sampler=several).optimize(mo.tradeoff, 3, show_progress=False)
    study = shoal.Study("c", mo.SPACE, sampler=constrained, constraints=["memory_mb <= 1"])
    study.optimize(lambda c: {"value": 1.0, "memory_mb": 0.0}, 3, show_progress=False)
    assert all(c.objectives is None and c.direction == "maximize" for c in plain.seen)
    assert plain.seen[-1].spec == Objectives.single("maximize")
    assert all(c.objectives == new_study().objectives and c.direction == "maximize" for c in several.seen)
    assert all(c.objectives is not None and c.objectives.constraints for c in constrained.seen)
    assert [t.values for t in several.seen[-1].history] == [t.values for t in several.seen[-1].trials
                                                             if t.state.finished]


class DirectionSpy(Scheduler):
    def __init__(self) -> None:
        super().__init__(None)
        self.directions: set[str] = set()

    def decide(self, context, trial, step, value) -> Decision:
        self.directions.add(context.direction)
        return Decision.CONTINUE


def reporting(config: dict, trial) -> dict[str, float]:
    trial.report(config["x"], 0)
    return {"loss": 1 - config["x"], "accuracy": config["x"]}


@pytest.mark.parametrize("report_metric, direction", [(None, "minimize"), ("loss", "minimize"),
                                                      ("accuracy", "maximize")])
def test_schedulers_use_the_direction_of_the_reported_objective(report_metric, direction) -> None:
    spy = DirectionSpy()
    study = shoal.Study("s", mo.SPACE, objectives={"loss": "minimize", "accuracy": "maximize"},
                        report_metric=report_metric, scheduler=spy, sampler=Random(seed=0))
    study.optimize(reporting, n_trials=3, show_progress=False)
    assert spy.directions == {direction}
    assert study.report_metric == (report_metric or "loss")


def stopping(config: dict, trial) -> dict[str, float]:
    for step in range(3):
        trial.report(config["x"], step)  # accuracy: higher is better
        if trial.should_stop():
            raise shoal.TrialPruned()
    return {"loss": 1 - config["x"], "accuracy": config["x"]}


@pytest.mark.parametrize("report_metric", ["accuracy", "loss"])
def test_median_stopping_prunes_by_the_direction_of_the_report_metric(report_metric: str) -> None:
    """The objective reports x; reported as accuracy (maximize) the low ones are pruned, as loss
    (minimize) the high ones."""
    study = shoal.Study("s", mo.SPACE, objectives={"loss": "minimize", "accuracy": "maximize"},
                        report_metric=report_metric, scheduler=MedianStopping(n_startup=3),
                        sampler=Random(seed=3))
    study.optimize(stopping, n_trials=30, show_progress=False)
    trials = study.trials
    pruned = [t for t in trials if t.state == PRUNED]
    assert pruned and all(t.values == {} and t.feasible is None for t in pruned)
    kept = statistics.mean(t.config["x"] for t in trials if t.state == COMPLETE)
    stopped = statistics.mean(t.config["x"] for t in pruned)
    assert stopped < kept if report_metric == "accuracy" else stopped > kept
    assert {t.feasible for t in trials if t.state == COMPLETE} == {True}


# -- executors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_workers", [1, 2])
def test_named_values_travel_from_worker_processes(sql_url: str, n_workers: int) -> None:
    study = new_study(sql_url)
    study.optimize(mo.tradeoff, n_trials=24, n_workers=n_workers, show_progress=False)
    assert len(study.trials) == 24
    check_against_expected(study)
    assert [t.number for t in study.pareto_front] == mo.brute_front(study.trials, mo.OBJECTIVES)
    plain = shoal.Study("plain", mo.SPACE, "maximize", sql_url, sampler=Random(seed=0))
    plain.optimize(partial(mo.tradeoff), n_trials=2, n_workers=n_workers, show_progress=False)
    assert all(t.state == FAILED and "return a number" in t.error for t in plain.trials)

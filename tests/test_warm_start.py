"""Warm starts: a partial ``enqueue`` (missing values sampled as the trial starts), ``add_trial`` (a
result obtained elsewhere), and ``Study(warm_start_from=[...])`` (older studies' finished trials that
fit the space seed the model, once)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shoal
from shoal.samplers import GP, TPE, Grid, Random
from shoal.storage import InMemoryStorage, Storage
from shoal.trial import TrialState

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "units": shoal.Int(16, 256, default=64),
    "opt": shoal.Choice(["adam", "sgd", "rmsprop"]),
    "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
    "momentum": shoal.Float(0.0, 0.99, when={"opt": ["sgd", "rmsprop"]}),
    "nesterov": shoal.Choice([True, False], when={"momentum": [0.0]}),
    "batch": shoal.Fixed(32),
}


def stored(storage: Storage, name: str) -> list:
    return storage.read_trials(storage.get_study(name).study_id)


# -- partial enqueue ----------------------------------------------------------------------------


def test_missing_values_are_sampled_when_the_trial_starts_and_given_ones_kept(sqlite_url: str) -> None:
    study = shoal.Study("p", SPACE, storage=sqlite_url, sampler=TPE(), seed=0)
    queued = study.enqueue({"lr": 3e-3, "opt": "adam"})
    assert queued.state == TrialState.QUEUED and queued.config == {"lr": 3e-3, "opt": "adam"}
    assert queued.unit == {"lr": pytest.approx((math.log10(3e-3) + 4) / 4), "opt": pytest.approx(1 / 6)}
    started = study.ask()
    assert started.number == queued.number
    config = started.config
    assert config["lr"] == 3e-3 and config["opt"] == "adam" and config["batch"] == 32
    assert config["units"] == 64  # a default, as before
    assert 0.8 <= config["beta1"] <= 0.99 and "momentum" not in config  # the given parent decides
    assert study.space.validate(config) == config
    # another driver reads the filled trial, its coordinates placed where the values lie
    [again] = shoal.Study.load("p", sqlite_url).trials
    assert again.config == config and again.state == TrialState.RUNNING
    assert again.unit["beta1"] == pytest.approx((config["beta1"] - 0.8) / 0.19)
    assert again.proposed_by.startswith("enqueued with lr, opt; the rest by TPE")


def test_a_given_child_makes_its_missing_parents_take_a_value_that_keeps_it_active() -> None:
    study = shoal.Study("c", SPACE, sampler=Random(), seed=1)
    study.enqueue({"nesterov": True})  # needs momentum 0.0, which needs opt sgd or rmsprop
    config = study.ask().config
    assert config["nesterov"] is True and config["momentum"] == 0.0 and config["opt"] in ("sgd", "rmsprop")
    for seed in range(6):  # the sampled parent is kept when it keeps the child active
        study = shoal.Study("c", SPACE, sampler=Random(), seed=seed)
        study.enqueue({"beta1": 0.9})
        assert study.ask().config["opt"] == "adam"


def test_the_same_seed_fills_the_same_values() -> None:
    filled = []
    for _ in range(2):
        study = shoal.Study("s", SPACE, sampler=TPE(), seed=7)
        for x in (0.1, 0.01):
            study.tell(study.ask(), x)
        study.enqueue({"units": 128})
        filled.append(study.ask().config)
    assert filled[0] == filled[1] and filled[0]["units"] == 128


def test_a_finished_grid_fills_at_random() -> None:
    space = {"a": shoal.Choice(["x", "y"]), "b": shoal.Float(0.0, 1.0)}
    study = shoal.Study("g", space, sampler=Grid(2), seed=0)
    for _ in range(4):
        study.tell(study.ask(), 1.0)
    with pytest.raises(shoal.SearchExhausted):
        study.ask()
    study.enqueue({"a": "y"})
    config = study.ask().config
    assert config["a"] == "y" and 0.0 <= config["b"] <= 1.0


@pytest.mark.parametrize(("config", "message"), [
    ({"lr": 5.0}, r"dimension 'lr': 5\.0 is not a legal value"),
    ({"opt": "adamw"}, r"dimension 'opt': 'adamw' is not a legal value"),
    ({"lr": 0.1, "typo": 1}, r"unknown dimension\(s\) \['typo'\]"),
    ({"opt": "sgd", "beta1": 0.9}, r"dimension 'beta1' is inactive for this config"),
    ({"opt": "adam", "nesterov": True}, r"'nesterov' needs 'momentum', which is inactive"),
    ({"beta1": 0.9, "momentum": 0.5}, r"'momentum' and 'beta1' need different values of 'opt'"),
    ({"batch": 64}, r"dimension 'batch': 64 is not a legal value"),
    (["lr"], "a config must be a mapping"),
])
def test_bad_names_and_values_are_refused_before_anything_is_stored(config, message: str) -> None:
    storage = InMemoryStorage()
    study = shoal.Study("b", SPACE, storage=storage)
    with pytest.raises(ValueError, match=message):
        study.enqueue(config)
    assert stored(storage, "b") == []


def test_a_full_config_is_stored_and_run_exactly_as_before(sqlite_url: str) -> None:
    study = shoal.Study("f", SPACE, storage=sqlite_url, seed=0)
    full = {"lr": 0.01, "units": 32, "opt": "sgd", "momentum": 0.0, "nesterov": False}
    queued = study.enqueue(full)
    expected = study.space.validate(full, fill_defaults=True)
    assert queued.config == expected and list(queued.config) == list(expected)
    encoded = study.space.encode(expected)
    assert queued.unit == {n: float(u) for n, u in zip(study.space.names, encoded, strict=True)
                           if not math.isnan(u)}
    started = study.ask()
    assert started.config == expected
    [trial] = shoal.Study.load("f", sqlite_url).trials
    assert trial.config == expected and trial.unit == queued.unit and trial.proposed_by is None
    # a config whose missing dimensions all have defaults is full too: the defaults, as before
    defaulted = study.enqueue({"lr": 0.5, "opt": "sgd", "momentum": 0.5})
    assert defaulted.config == {"lr": 0.5, "units": 64, "opt": "sgd", "momentum": 0.5, "batch": 32}


def test_optimize_runs_partial_configs_first_on_worker_processes(sqlite_url: str) -> None:
    study = shoal.Study("w", SPACE, storage=sqlite_url, sampler=Random(), seed=3)
    study.enqueue({"opt": "rmsprop"})
    study.enqueue({"lr": 1e-4})
    study.optimize(_score, 3, n_workers=2, show_progress=False)
    trials = study.trials
    assert trials[0].config["opt"] == "rmsprop" and trials[1].config["lr"] == 1e-4
    assert all(t.state == TrialState.COMPLETE and study.space.validate(t.config) == t.config for t in trials)


def _score(config: dict) -> float:
    return config["lr"] + config["units"] / 1000


VALID = shoal.Space(SPACE)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(point=st.lists(st.floats(0.0, 1.0), min_size=len(VALID), max_size=len(VALID)),
       keep=st.lists(st.booleans(), min_size=len(VALID), max_size=len(VALID)),
       seed=st.integers(0, 2**16))
def test_any_part_of_a_valid_config_starts_a_valid_trial_that_contains_it(point, keep, seed) -> None:
    full, _ = VALID.decode(point)
    part = {name: value for (name, value), k in zip(full.items(), keep[: len(full)], strict=True) if k}
    study = shoal.Study("h", VALID, sampler=Random(), seed=seed)
    study.enqueue(part)
    config = study.ask().config
    assert VALID.validate(config) == config
    assert all(config[name] == value and type(config[name]) is type(value) for name, value in part.items())


# -- add_trial ----------------------------------------------------------------------------------

LINE = {"x": shoal.Float(0.0, 1.0)}


def peak(x: float) -> float:
    return -((x - 0.7) ** 2)


@pytest.mark.parametrize("sampler", [GP(n_startup=2), TPE(n_startup=4)], ids=["gp", "tpe"])
def test_added_results_teach_the_model(sampler) -> None:
    taught = shoal.Study("t", LINE, "maximize", sampler=sampler, seed=5)
    for x in (0.05, 0.2, 0.35, 0.5, 0.62, 0.7, 0.78, 0.9, 0.99):
        taught.add_trial({"x": x}, peak(x))
    assert len(taught._context(None).history) == 9
    proposals = []
    for _ in range(3):
        trial = taught.ask()
        proposals.append(trial.config["x"])
        taught.tell(trial, peak(trial.config["x"]))
    assert all(abs(x - 0.7) < 0.15 for x in proposals), proposals
    naive = shoal.Study("t", LINE, "maximize", sampler=type(sampler)(), seed=5)
    assert naive.ask().config["x"] != proposals[0]  # without them it starts elsewhere


def test_add_trial_keeps_what_it_is_given(sqlite_url: str) -> None:
    study = shoal.Study("a", SPACE, "maximize", storage=sqlite_url)
    added = study.add_trial({"lr": 0.1, "opt": "adam", "beta1": 0.9}, 0.75, reports=[(0, 0.5), (3, 0.7)])
    pruned = study.add_trial({"lr": 0.2, "opt": "sgd", "momentum": 0.1}, 0.4, state="PRUNED")
    failed = study.add_trial({"lr": 0.3, "opt": "sgd", "momentum": 0.1}, state="FAILED", error="OOM")
    [a, p, f] = shoal.Study.load("a", sqlite_url).trials
    assert (a.state, a.value, a.reports, a.proposed_by) == (TrialState.COMPLETE, 0.75, [(0, 0.5), (3, 0.7)],
                                                            "add_trial")
    assert a.config == {"lr": 0.1, "units": 64, "opt": "adam", "beta1": 0.9, "batch": 32}
    assert a.unit["lr"] == pytest.approx(0.75) and a.started_at is None and a.finished_at is not None
    assert (p.state, p.value) == (TrialState.PRUNED, 0.4)
    assert (f.state, f.error, f.failure) == (TrialState.FAILED, "OOM", shoal.FailureKind.OBJECTIVE)
    assert [added.number, pruned.number, failed.number] == [0, 1, 2]
    assert study.best.number == 0


def test_add_trial_judges_named_values_against_the_constraints() -> None:
    study = shoal.Study("m", LINE, objectives={"acc": "maximize", "ms": "minimize"}, constraints=["mem <= 4"])
    ok = study.add_trial({"x": 0.5}, values={"acc": 0.9, "ms": 20.0, "mem": 3.0})
    over = study.add_trial({"x": 0.6}, values={"acc": 0.95, "ms": 10.0, "mem": 8.0})
    assert (ok.feasible, over.feasible) == (True, False) and ok.values["mem"] == 3.0 and ok.value == 0.9
    assert [t.number for t in study.pareto_front] == [0]
    with pytest.raises(ValueError, match="add_trial: .*'mem'"):
        study.add_trial({"x": 0.7}, values={"acc": 0.9, "ms": 20.0})
    assert len(study.trials) == 2


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: s.add_trial({"x": 2.0}, 1.0), r"dimension 'x': 2\.0 is not a legal value"),
    (lambda s: s.add_trial({}, 1.0), "missing dimension 'x'"),
    (lambda s: s.add_trial({"x": 0.5}), "add_trial: a COMPLETE trial needs a finite value"),
    (lambda s: s.add_trial({"x": 0.5}, float("nan")), "add_trial: .*nan"),
    (lambda s: s.add_trial({"x": 0.5}, 1.0, values={"value": 1.0}), "value= .* or values= .*, not both"),
    (lambda s: s.add_trial({"x": 0.5}, {"value": 1.0}), "add_trial: value must be a number"),
    (lambda s: s.add_trial({"x": 0.5}, 1.0, state="RUNNING"), "state must be 'COMPLETE', 'FAILED' or"),
    (lambda s: s.add_trial({"x": 0.5}, 1.0, reports=[(-1, 0.5)]), "step must be an int >= 0"),
    (lambda s: s.add_trial({"x": 0.5}, 1.0, reports=[0.5]), r"\(step, value\) pairs"),
    (lambda s: s.add_trial({"x": 0.5}, 1.0, reports=[(0, float("inf"))]), "finite number"),
])
def test_add_trial_refuses_bad_input_before_anything_is_stored(call, message: str) -> None:
    study = shoal.Study("bad", LINE)
    with pytest.raises(ValueError, match=message):
        call(study)
    assert study.trials == []


def test_added_trials_do_not_spend_the_study_wide_budget() -> None:
    study = shoal.Study("b", LINE, sampler=Random(), seed=0)
    for x in (0.1, 0.2, 0.3):
        study.add_trial({"x": x}, x)
    study.optimize(lambda c: c["x"], total_trials=3, show_progress=False)
    assert len(study.trials) == 6 and sum(t.started_at is not None for t in study.trials) == 3


# -- warm_start_from ----------------------------------------------------------------------------

OLD = {"x": shoal.Float(0.0, 2.0), "n": shoal.Int(1, 8)}
NEW = {"x": shoal.Float(0.0, 1.0), "n": shoal.Int(1, 8),
       "act": shoal.Choice(["relu", "gelu"], default="relu")}


def old_study(storage, name: str = "old") -> shoal.Study:
    """Eight trials: x = 0.25 * k for k = 0..7 (the last three do not fit [0, 1]), one failed."""
    study = shoal.Study(name, OLD, storage=storage, sampler=Random(), seed=0)
    for k in range(8):
        study.enqueue({"x": 0.25 * k, "n": k + 1})
        trial = study.ask()
        if k == 2:
            study.tell(trial, state="FAILED", error="diverged")
        else:
            study.tell(trial, (0.25 * k - 0.6) ** 2)
    return study


def test_a_warm_start_takes_the_finished_trials_that_fit_and_counts_the_rest(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    old_study(sqlite_url)
    with caplog.at_level(logging.INFO, logger="shoal"):
        new = shoal.Study("new", NEW, storage=sqlite_url, sampler=TPE(), warm_start_from=["old"], seed=1)
    [summary] = new.warm_starts
    assert (summary.source, summary.taken, summary.before) == ("old", 4, 0)
    assert summary.skipped == {"its 'x' does not fit this space": 3, "failed": 1}
    assert "warm start from 'old': 4 trials taken, 4 skipped" in caplog.text
    trials = new.trials
    assert [t.config["x"] for t in trials] == [0.0, 0.25, 0.75, 1.0]
    assert all(t.config["act"] == "relu" and t.state == TrialState.COMPLETE for t in trials)
    assert [t.unit["x"] for t in trials] == [0.0, 0.25, 0.75, 1.0]  # placed by value in the new range
    assert [t.proposed_by for t in trials] == [f"warm start from 'old' trial {k}" for k in (0, 1, 3, 4)]
    assert [t.value for t in trials] == pytest.approx([0.36, 0.1225, 0.0225, 0.16])
    assert len(new._context(None).history) == 4  # the model learns from them
    new.optimize(lambda c: (c["x"] - 0.6) ** 2, total_trials=2, show_progress=False)
    assert len(new.trials) == 6  # they do not spend the study-wide budget


def test_reopening_takes_nothing_twice(sqlite_url: str) -> None:
    old_study(sqlite_url)
    first = shoal.Study("new", NEW, storage=sqlite_url, warm_start_from=["old"])
    again = shoal.Study("new", NEW, storage=sqlite_url, warm_start_from=["old"])
    loaded = shoal.Study.load("new", sqlite_url, warm_start_from=["old"])
    assert first.warm_starts[0].taken == 4
    assert [(w.taken, w.before) for w in again.warm_starts + loaded.warm_starts] == [(0, 4), (0, 4)]
    assert len(loaded.trials) == 4


def test_a_missing_dimension_without_default_is_skipped_and_a_study_elsewhere_can_be_the_source(
    tmp_path: Path,
) -> None:
    old = old_study(InMemoryStorage())
    wider = {"x": shoal.Float(0.0, 2.0), "n": shoal.Int(1, 8), "depth": shoal.Int(1, 4)}
    new = shoal.Study("new", wider, storage=f"sqlite:///{tmp_path / 'n.db'}", warm_start_from=[old])
    assert new.warm_starts[0].taken == 0
    assert new.warm_starts[0].skipped == {"its 'depth' does not fit this space": 7, "failed": 1}
    assert new.trials == []


def test_a_warm_start_judges_old_values_with_the_new_constraints() -> None:
    storage = InMemoryStorage()
    old = shoal.Study("old", NEW, objectives={"acc": "maximize"}, storage=storage, sampler=Random(), seed=0)
    old.optimize(lambda c: {"acc": c["x"], "mem": 10 * c["x"]}, 4, show_progress=False)
    plain = shoal.Study("plain-old", NEW, storage=storage)
    plain.tell(plain.ask(), 1.0)
    new = shoal.Study("new", NEW, objectives={"acc": "maximize"}, constraints=["mem <= 5"], storage=storage,
                      warm_start_from=["old"])
    assert new.warm_starts[0].taken == 4
    assert [t.feasible for t in new.trials] == [t.values["mem"] <= 5 for t in old.trials]
    with pytest.raises(ValueError, match="this study maximizes 'acc', but study 'plain-old' does not"):
        shoal.Study("other", NEW, objectives={"acc": "maximize"}, storage=storage,
                    warm_start_from=["plain-old"])


@pytest.mark.parametrize(("sources", "error", "message"), [
    (["nope"], shoal.StudyNotFound, "no study named 'nope'"),
    (["new"], ValueError, "names study 'new' itself"),
    ([3], ValueError, "warm_start_from must be a list of study names"),
])
def test_bad_sources_are_refused_before_anything_is_stored(sources, error, message: str) -> None:
    storage = InMemoryStorage()
    old_study(storage)
    with pytest.raises(error, match=message):
        shoal.Study("new", NEW, storage=storage, warm_start_from=sources)
    with pytest.raises(ValueError, match="maximizes 'value', but study 'old' minimizes it"):
        shoal.Study("max", NEW, "maximize", storage=storage, warm_start_from=["old"])
    assert [s.record.name for s in storage.list_studies()] == ["old"]

"""Rules (``shoal.rules``): ReduceOnPlateau's decision on report sequences, its checks, and a study
that runs it on the in-process executor and on local workers, down to the stored change rows and
the ``trial.config`` the objective sees."""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

import pytest
import rule_objectives as ro
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal
from shoal.records import ConfigChange
from shoal.rules import ReduceOnPlateau, Rule
from shoal.space import Space
from shoal.trial import Trial, TrialState

SPACE = Space({
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "units": shoal.Int(1, 64),
    "width": shoal.Int(8, 64, step=8),
    "drop": shoal.Float(0.0, 0.5, step=0.1),
    "opt": shoal.Choice(["adam", "sgd"]),
    "epochs": shoal.Fixed(10),
})
CONFIG = {"lr": 0.1, "units": 16, "width": 32, "drop": 0.3, "opt": "adam", "epochs": 10}


def running(values: list[float], changes: list[ConfigChange] = (), config: dict | None = None,
            first_step: int = 0) -> Trial:
    """A RUNNING trial record that reported ``values`` at steps first_step, first_step + 1, ..."""
    return Trial(0, TrialState.RUNNING, dict(config or CONFIG),
                 reports=[(first_step + k, float(v)) for k, v in enumerate(values)], changes=list(changes))


def lr_change(step: int | None, old: float = 0.1, new: float = 0.05, name: str = "lr",
              kind: str = "tweak") -> ConfigChange:
    return ConfigChange(0, name, old, new, "rule", step, kind)


def rule(name: str = "lr", **options) -> ReduceOnPlateau:
    return ReduceOnPlateau(name, **options).bind(SPACE)


# -- detecting a plateau ----------------------------------------------------------------------------
def test_fires_after_patience_reports_without_improvement_when_minimizing() -> None:
    r = rule(patience=3)
    assert r.decide(running([3, 2, 1, 1, 1]), "minimize") is None  # 2 reports since the best
    assert r.decide(running([3, 2, 1, 1, 1, 1]), "minimize") == {"lr": 0.05}
    assert r.decide(running([3, 2, 1, 1.5, 2, 9]), "minimize") == {"lr": 0.05}  # worse counts too
    assert r.decide(running([1, 1, 1]), "minimize") is None  # fewer than patience + 1 reports
    assert r.decide(running([1, 1, 1, 1]), "minimize") == {"lr": 0.05}


def test_an_improvement_starts_the_count_again() -> None:
    r = rule(patience=3)
    assert r.decide(running([5, 5, 5, 4, 4, 4]), "minimize") is None
    assert r.decide(running([5, 5, 5, 4, 4, 4, 4]), "minimize") == {"lr": 0.05}


def test_maximize_reads_higher_as_better() -> None:
    r = rule(patience=2)
    rising = [0.1, 0.2, 0.3, 0.4]
    assert r.decide(running(rising), "maximize") is None
    assert r.decide(running(rising), "minimize") == {"lr": 0.05}  # for a loss it got worse
    assert r.decide(running([0.1, 0.5, 0.4, 0.45]), "maximize") == {"lr": 0.05}


def test_threshold_is_relative_to_the_best_value() -> None:
    creeping = [100.0, 99.7, 99.4, 99.1]  # each 0.3% lower than the one before: under 1% in all
    assert rule(patience=3, threshold=0.01).decide(running(creeping), "minimize") == {"lr": 0.05}
    assert rule(patience=3, threshold=0.001).decide(running(creeping), "minimize") is None
    negative = [-100.0, -100.3, -100.6, -100.9]  # |best| scales the margin for negative values too
    assert rule(patience=3, threshold=0.01).decide(running(negative), "minimize") == {"lr": 0.05}
    assert rule(patience=3, threshold=0.001).decide(running(negative), "minimize") is None
    # a gain within the threshold does not move the best: the count since it keeps running
    bumpy = running([100, 99.5, 200, 99.9])
    assert rule(patience=3, threshold=0.01).decide(bumpy, "minimize") == {"lr": 0.05}
    assert rule(patience=3, threshold=0).decide(bumpy, "minimize") is None


def test_only_reports_since_the_last_change_of_the_dimension_count() -> None:
    r = rule(patience=3)
    flat = [1.0] * 8
    # lr changed at step 5 (first step trained with 0.05): reports 5, 6, 7 are the window: 2 after the best
    config = dict(CONFIG)
    changed = running(flat, [lr_change(5)], config)
    assert changed.current_config["lr"] == 0.05
    assert r.decide(changed, "minimize") is None
    assert r.decide(running([1.0] * 9, [lr_change(5)], config), "minimize") == {"lr": 0.025}
    # a change of another dimension does not reset the window
    other = ConfigChange(0, "units", 16, 8, "person", 5)
    assert r.decide(running(flat, [other], config), "minimize") == {"lr": 0.05}
    # a fork's change row counts as the last change; its reports begin after the checkpoint
    fork = lr_change(11, 0.2, 0.1, kind="fork")
    assert r.decide(running([1.0] * 3, [fork], first_step=11), "minimize") is None
    assert r.decide(running([1.0] * 4, [fork], first_step=11), "minimize") == {"lr": 0.05}


def test_no_decision_while_a_change_of_the_dimension_waits_to_be_delivered() -> None:
    r = rule(patience=2)
    assert r.decide(running([1.0] * 6, [lr_change(None)]), "minimize") is None
    # a pending change of another dimension does not hold the rule back
    other = ConfigChange(0, "units", 16, 8, "person", None)
    assert r.decide(running([1.0] * 6, [other]), "minimize") == {"lr": 0.05}


def test_cooldown_skips_the_first_reports_after_a_change() -> None:
    r = rule(patience=2, cooldown=2)
    # changed at step 4: reports 4 and 5 are skipped, then 6, 7, 8 make the window
    assert r.decide(running([1.0] * 8, [lr_change(4)]), "minimize") is None
    assert r.decide(running([1.0] * 9, [lr_change(4)]), "minimize") == {"lr": 0.025}
    # the skipped reports do not set the best either: a low value there is forgotten
    skipped_low = [1.0] * 4 + [0.1, 0.1] + [1.0] * 3
    assert r.decide(running(skipped_low, [lr_change(4)]), "minimize") == {"lr": 0.025}
    # before any change there is no cooldown
    assert r.decide(running([1.0] * 3), "minimize") == {"lr": 0.05}


# -- the new value --------------------------------------------------------------------------------
def test_clipped_to_the_low_bound_and_no_tweak_once_there() -> None:
    r = rule(patience=1, factor=0.1)
    assert r.decide(running([1, 1], config={**CONFIG, "lr": 5e-4}), "minimize") == {"lr": 1e-4}
    assert r.decide(running([1, 1], config={**CONFIG, "lr": 1e-4}), "minimize") is None


def test_min_value_is_a_floor_and_never_raises_a_value() -> None:
    r = rule(patience=1, min_value=0.01)
    assert r.decide(running([1, 1], config={**CONFIG, "lr": 0.015}), "minimize") == {"lr": 0.01}
    assert r.decide(running([1, 1], config={**CONFIG, "lr": 0.01}), "minimize") is None
    assert r.decide(running([1, 1], config={**CONFIG, "lr": 0.005}), "minimize") is None  # below: kept


def test_int_dimensions_round_down_and_stop_at_their_low_bound() -> None:
    r = rule("units", patience=1)
    assert r.decide(running([1, 1], config={**CONFIG, "units": 15}), "minimize") == {"units": 7}
    decided = r.decide(running([1, 1], config={**CONFIG, "units": 3}), "minimize")
    assert decided == {"units": 1} and type(decided["units"]) is int
    assert r.decide(running([1, 1], config={**CONFIG, "units": 1}), "minimize") is None  # 0 is below 1
    # a value that rounds back to itself is no change
    assert rule("units", patience=1, factor=0.9).decide(
        running([1, 1], config={**CONFIG, "units": 2}), "minimize") == {"units": 1}


def test_stepped_dimensions_land_on_their_grid() -> None:
    width = rule("width", patience=1)  # Int(8, 64, step=8)
    assert width.decide(running([1, 1], config={**CONFIG, "width": 56}), "minimize") == {"width": 24}
    assert width.decide(running([1, 1], config={**CONFIG, "width": 8}), "minimize") is None
    drop = rule("drop", patience=1)  # Float(0, 0.5, step=0.1)
    assert drop.decide(running([1, 1], config={**CONFIG, "drop": 0.5}), "minimize") == {"drop": 0.2}
    assert drop.decide(running([1, 1], config={**CONFIG, "drop": 0.3}), "minimize") == {"drop": 0.1}
    assert drop.decide(running([1, 1], config={**CONFIG, "drop": 0.0}), "minimize") is None
    # min_value between two grid points: the grid point above it
    floor = rule("width", patience=1, min_value=20)
    assert floor.decide(running([1, 1], config={**CONFIG, "width": 56}), "minimize") == {"width": 24}
    assert floor.decide(running([1, 1], config={**CONFIG, "width": 32}), "minimize") == {"width": 24}
    assert floor.decide(running([1, 1], config={**CONFIG, "width": 24}), "minimize") is None


def test_an_inactive_dimension_is_left_alone() -> None:
    config = {k: v for k, v in CONFIG.items() if k != "lr"}
    assert rule(patience=1).decide(running([1, 1], config=config), "minimize") is None


# -- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "message"), [
    ({"name": ""}, "name must be"),
    ({"name": 3}, "name must be"),
    ({"factor": 1.0}, "factor must be a number in (0, 1)"),
    ({"factor": 0}, "factor must be a number in (0, 1)"),
    ({"factor": math.nan}, "factor must be"),
    ({"factor": True}, "factor must be"),
    ({"patience": 0}, "patience must be an int >= 1"),
    ({"patience": 2.0}, "patience must be an int >= 1"),
    ({"threshold": -0.1}, "threshold must be a number >= 0"),
    ({"cooldown": -1}, "cooldown must be an int >= 0"),
    ({"min_value": "0.1"}, "min_value must be a finite number or None"),
    ({"min_value": math.inf}, "min_value must be a finite number or None"),
])
def test_bad_arguments_are_refused_at_construction(options: dict, message: str) -> None:
    arguments = {"name": "lr", **options}
    with pytest.raises(ValueError, match=f"ReduceOnPlateau: {message[:20]}".replace("(", r"\(")):
        ReduceOnPlateau(**arguments)


@pytest.mark.parametrize(("name", "message"), [
    ("nope", "the space has no dimension 'nope'"),
    ("opt", "'opt' is Choice; the rule multiplies its value, so it must be a Float or Int"),
    ("epochs", "'epochs' is Fixed"),
])
def test_the_dimension_is_checked_against_the_space_when_attached(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReduceOnPlateau(name).bind(SPACE)
    with pytest.raises(ValueError, match=message):
        shoal.Study("s", SPACE, rules=[ReduceOnPlateau(name)])


def test_a_min_value_above_the_range_is_refused_when_attached() -> None:
    with pytest.raises(ValueError, match="min_value 2 is above 'lr'"):
        ReduceOnPlateau("lr", min_value=2).bind(SPACE)


def test_a_study_refuses_rules_that_are_not_rules_before_storing_anything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    for bad in (ReduceOnPlateau("lr"), ["lr"], "lr"):
        with pytest.raises(ValueError, match="rules must be"):
            shoal.Study("s", SPACE, storage=url, rules=bad)
    assert not (tmp_path / "shoal.db").exists()


def test_an_unbound_rule_says_how_to_use_it() -> None:
    with pytest.raises(RuntimeError, match=r"not bound to a space: use it in Study\(rules="):
        ReduceOnPlateau("lr").decide(running([1, 1, 1, 1]), "minimize")
    with pytest.raises(ValueError, match="direction must be"):
        rule().decide(running([1, 1, 1, 1]), "down")


def test_binding_copies_so_one_rule_serves_several_spaces() -> None:
    given_rule = ReduceOnPlateau("lr", factor=0.5, patience=2, cooldown=1, min_value=1e-3)
    small = given_rule.bind(Space({"lr": shoal.Float(1e-3, 1e-1, scale="log")}))
    large = given_rule.bind(SPACE)
    assert small is not given_rule and large is not small
    assert small.decide(running([1, 1, 1], config={"lr": 1.5e-3}), "minimize") == {"lr": 1e-3}
    assert repr(given_rule) == "ReduceOnPlateau('lr', factor=0.5, patience=2, cooldown=1, min_value=0.001)"


# -- properties -------------------------------------------------------------------------------------
def _simulate(
    r: ReduceOnPlateau, values: list[float], direction: str, start: float
) -> list[tuple[int, float]]:
    """Report ``values`` one by one; deliver each decision as the study does (its step = the next
    report's). Returns (report index, new value) per firing."""
    trial = running([], config={**CONFIG, "lr": start})
    fired = []
    for step, value in enumerate(values):
        trial.reports.append((step, value))
        decided = r.decide(trial, direction)
        if decided is not None:
            trial.changes.append(lr_change(step + 1, trial.current_config["lr"], decided["lr"]))
            fired.append((step, decided["lr"]))
    return fired


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.sampled_from([0.5, 1.0, 1.0, 1.0, 2.0, 0.99999]), min_size=1, max_size=40),
    patience=st.integers(1, 5),
    cooldown=st.integers(0, 3),
    factor=st.floats(0.05, 0.95),
    start=st.floats(1e-4, 1.0),
    min_value=st.one_of(st.none(), st.floats(1e-4, 0.5)),
    direction=st.sampled_from(["minimize", "maximize"]),
)
def test_property_values_stay_legal_lower_and_firings_are_patience_apart(
    values, patience, cooldown, factor, start, min_value, direction
) -> None:
    r = rule(patience=patience, cooldown=cooldown, factor=factor, min_value=min_value)
    fired = _simulate(r, values, direction, start)
    previous_value, previous_index = start, None
    for index, new in fired:
        assert SPACE.dimensions["lr"].contains(new)  # inside the bounds
        assert new < previous_value  # strictly lower every time
        assert min_value is None or new >= min_value or new == pytest.approx(min_value)
        if previous_index is not None:  # a fresh window: the best, then patience more (after cooldown)
            assert index - previous_index >= cooldown + patience + 1
        else:
            assert index >= patience
        previous_value, previous_index = new, index


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-10, 10), min_size=0, max_size=15), patience=st.integers(1, 4))
def test_property_the_decision_depends_on_the_record_alone(values, patience) -> None:
    """Two rules, or one rule asked twice, decide the same on equal records: no hidden state."""
    first, second = rule(patience=patience), rule(patience=patience)
    for k in range(len(values) + 1):
        record = running(values[:k])
        assert first.decide(record, "minimize") == second.decide(record, "minimize") \
            == first.decide(running(values[:k]), "minimize")


def test_rule_is_an_abstract_base_others_can_write() -> None:
    class StopAdam(Rule):
        def decide(self, trial, direction):
            flipping = len(trial.reports) >= 2 and trial.current_config["opt"] == "adam"
            return {"opt": "sgd"} if flipping else None

    custom = StopAdam()
    assert custom.bind(SPACE) is custom and custom.describe() == "StopAdam"
    assert custom.decide(running([1, 2]), "minimize") == {"opt": "sgd"}
    with pytest.raises(TypeError):
        Rule()  # type: ignore[abstract]


# -- in a study -------------------------------------------------------------------------------------
LR_SPACE = {"lr": shoal.Float(1e-4, 1.0, scale="log")}
STEPS = 12


def _check_plateau_run(study: shoal.Study, log_dir: Path) -> None:
    """ro.plateauing's loss is 3, 2, 1, 1, 1, ...: best at step 2, patience 3 -> the rule fires at
    the report of step 5 (lr halved from step 6), then again 4 reports into the new window (step 9,
    from step 10)."""
    trials = study.trials
    assert trials and all(t.state == TrialState.COMPLETE for t in trials)
    for trial in trials:
        start = trial.config["lr"]
        assert [(c.name, c.source, c.kind, c.step) for c in trial.changes] == \
            [("lr", "rule", "tweak", 6), ("lr", "rule", "tweak", 10)]
        assert [(c.old, c.new) for c in trial.changes] == \
            [(start, start / 2), (start / 2, start / 4)]
        assert trial.schedule == [(0, {"lr": start}), (6, {"lr": start / 2}), (10, {"lr": start / 4})]
        assert trial.excluded_from_models is not None  # tweaked while it trained
        seen = json.loads((log_dir / f"{trial.number}.json").read_text())
        lrs = [row["lr"] for row in seen]
        assert lrs == [start] * 6 + [start / 2] * 4 + [start / 4] * 2  # the objective trained with it
        heard = {row["step"]: row["heard"] for row in seen if row["heard"]}
        assert heard == {5: {"lr": [start, start / 2]}, 9: {"lr": [start / 2, start / 4]}}


def test_a_plateau_halves_lr_in_process(tmp_path: Path) -> None:
    study = shoal.Study("plateau", LR_SPACE, rules=[ReduceOnPlateau("lr", factor=0.5, patience=3)], seed=0)
    assert [r.describe() for r in study.rules] == ["ReduceOnPlateau('lr', factor=0.5, patience=3)"]
    study.optimize(partial(ro.plateauing, steps=STEPS, log_dir=str(tmp_path)), n_trials=2,
                   show_progress=False)
    _check_plateau_run(study, tmp_path)


def test_a_plateau_halves_lr_on_local_workers(tmp_path: Path, sqlite_url: str) -> None:
    study = shoal.Study("plateau", LR_SPACE, storage=sqlite_url, rules=[ReduceOnPlateau("lr")], seed=0)
    study.optimize(partial(ro.plateauing, steps=STEPS, log_dir=str(tmp_path)), n_trials=3, n_workers=2,
                   show_progress=False)
    _check_plateau_run(study, tmp_path)
    # what is stored is what a fresh reader sees
    _check_plateau_run(shoal.Study.load("plateau", sqlite_url), tmp_path)


def test_ask_and_report_hear_the_rule_at_once(sqlite_url: str) -> None:
    study = shoal.Study("ask", LR_SPACE, storage=sqlite_url, rules=[ReduceOnPlateau("lr", patience=2)],
                        seed=1)
    trial = study.ask()
    start = trial.config["lr"]
    for step, loss in enumerate([1.0, 1.0]):
        trial.report(loss, step)
        assert trial.changes() == {} and trial.config["lr"] == start
    trial.report(1.0, 2)
    assert trial.changes() == {"lr": (start, start / 2)} and trial.config["lr"] == start / 2
    assert not trial.should_stop()
    stored = shoal.Study.load("ask", sqlite_url).trials[0]
    assert [(c.source, c.step, c.new) for c in stored.changes] == [("rule", 3, start / 2)]
    # a driver that reopens the study decides from the stored record: two more flat reports are
    # not yet a plateau of the new window, the third is
    reopened = shoal.Study.load("ask", sqlite_url, rules=[ReduceOnPlateau("lr", patience=2)])
    record = reopened.trials[0]
    assert reopened.rules[0].decide(record, "minimize") is None
    record.reports += [(3, 1.0), (4, 1.0), (5, 1.0)]
    assert reopened.rules[0].decide(record, "minimize") == {"lr": start / 4}


def test_a_persons_tweak_delivered_at_the_same_report_restarts_the_window() -> None:
    study = shoal.Study("person", LR_SPACE, rules=[ReduceOnPlateau("lr", patience=2)], seed=2)
    trial = study.ask()
    start = trial.config["lr"]
    trial.report(1.0, 0)
    trial.report(1.0, 1)
    study.tweak(trial.number, {"lr": 0.3})
    trial.report(1.0, 2)  # a plateau, but the person's change arrives with this report
    assert trial.changes() == {"lr": (start, 0.3)}
    assert [c.source for c in study.trials[0].changes] == ["person"]
    for step in (3, 4):
        trial.report(1.0, step)
        assert trial.changes() == {}
    trial.report(1.0, 5)
    assert trial.changes() == {"lr": (0.3, 0.15)}
    assert [c.source for c in study.trials[0].changes] == ["person", "rule"]


def test_rules_follow_the_reported_metric_direction() -> None:
    study = shoal.Study("mo", LR_SPACE, objectives={"loss": "minimize", "accuracy": "maximize"},
                        report_metric="accuracy", rules=[ReduceOnPlateau("lr", patience=2)], seed=3)
    trial = study.ask()
    for step, accuracy in enumerate([0.5, 0.6, 0.7, 0.8]):  # rising accuracy: no plateau
        trial.report(accuracy, step)
    assert trial.changes() == {}
    study2 = shoal.Study("mo2", LR_SPACE, objectives={"loss": "minimize", "accuracy": "maximize"},
                         rules=[ReduceOnPlateau("lr", patience=2)], seed=3)
    trial2 = study2.ask()  # reports are losses here: rising values are a plateau
    for step, loss in enumerate([0.5, 0.6, 0.7]):
        trial2.report(loss, step)
    assert set(trial2.changes()) == {"lr"}


def test_a_config_file_attaches_rules(tmp_path: Path) -> None:
    from shoal.config import RunConfig

    config = RunConfig.from_dict({
        "study": "cfg", "objective": "m:f", "n_trials": 1, "storage": f"sqlite:///{tmp_path / 'c.db'}",
        "space": {"lr": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"}},
        "rules": [{"name": "reduce_on_plateau", "dimension": "lr", "factor": 0.25, "patience": 4}],
    })
    study = config.build_study()
    assert [r.describe() for r in study.rules] == ["ReduceOnPlateau('lr', factor=0.25, patience=4)"]


@pytest.mark.parametrize(("rules", "message"), [
    ({"name": "reduce_on_plateau"}, "rules: must be a list"),
    (["reduce_on_plateau"], r"rules\[0\]: must be a mapping"),
    ([{"name": "nope", "dimension": "lr"}], r"rules\[0\]: unknown name 'nope'; use one of reduce_on_plateau"),
    ([{"name": "reduce_on_plateau"}], "needs a 'dimension' key"),
    ([{"name": "reduce_on_plateau", "dimension": "lr", "pat": 2}],
     "unknown option 'pat'; valid options: dimension, factor, patience"),
    ([{"name": "reduce_on_plateau", "dimension": "lr", "factor": 3}], "factor must be a number in"),
    ([{"name": "reduce_on_plateau", "dimension": "wd"}], "the space has no dimension 'wd'"),
])
def test_a_config_files_bad_rules_are_config_errors(tmp_path: Path, rules, message: str) -> None:
    from shoal.config import ConfigError, RunConfig

    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict({
            "study": "cfg", "objective": "m:f", "n_trials": 1, "storage": f"sqlite:///{tmp_path / 'c.db'}",
            "space": {"lr": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"}}, "rules": rules,
        })
    assert not (tmp_path / "c.db").exists()


def test_the_cli_reference_lists_every_rule_with_real_options() -> None:
    import inspect
    import re

    from shoal import rules
    from shoal.config import RULE_NAMES

    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    for name, cls_name in RULE_NAMES.items():
        [row] = [line for line in text.splitlines() if line.startswith(f"| `{name}`")]
        cells = row.split(" | ")
        assert f"`shoal.rules.{cls_name}`" in cells[1]
        accepted = {"dimension", *inspect.signature(getattr(rules, cls_name)).parameters} - {"name"}
        listed = {o for pair in re.findall(r"^`(\w+)`|, `(\w+)`", cells[2]) for o in pair if o}
        assert listed and listed <= accepted

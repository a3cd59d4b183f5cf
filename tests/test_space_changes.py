"""Reopening a study with a changed space places every old trial by its value (issue 12, part 2).

Before, ``Space.encode`` preferred the stored unit coordinate: after widening x from [0, 1] to
[0, 2] the best old trial, x = 0.924, stayed at u = 0.924 (it lies at 0.462), and the GP learned
the wrong function. Each compatibility rule of the README's table has a test here.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

import shoal
from shoal.samplers import GP, Random
from shoal.storage import get_storage

NARROW = {"x": shoal.Float(0.0, 1.0)}
WIDE = {"x": shoal.Float(0.0, 2.0)}


def peak(config: dict) -> float:
    return -((config["x"] - 0.9) ** 2)


def stored_units(url: str, name: str) -> dict[int, dict[str, float]]:
    storage = get_storage(url)
    try:
        return {t.number: t.unit for t in storage.read_trials(storage.get_study(name).study_id)}
    finally:
        storage.close()


def seed_history(study: shoal.Study, xs: list[float]) -> None:
    for x in xs:
        study.enqueue({"x": x})
        trial = study.ask()
        study.tell(trial, peak(trial.config))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 's.db'}"


def test_a_widened_range_places_old_trials_by_value_in_memory_and_in_storage(url: str) -> None:
    seed_history(shoal.Study("w", NARROW, "maximize", storage=url), [0.1, 0.924, 0.5])
    reopened = shoal.Study("w", WIDE, "maximize", storage=url)
    assert [round(t.unit["x"], 6) for t in reopened.trials] == [0.05, 0.462, 0.25]
    assert [round(u["x"], 6) for u in stored_units(url, "w").values()] == [0.05, 0.462, 0.25]
    # a third driver opening later reads the re-encoded coordinates, not the old ones
    assert [round(t.unit["x"], 6) for t in shoal.Study.load("w", url).trials] == [0.05, 0.462, 0.25]


def test_the_gp_after_widening_proposes_what_it_proposes_for_the_same_history_started_wide(
    tmp_path: Path,
) -> None:
    xs = [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.924, 0.99]
    widened_url, fresh_url = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    seed_history(shoal.Study("gp", NARROW, "maximize", storage=widened_url), xs)
    widened = shoal.Study("gp", WIDE, "maximize", storage=widened_url, sampler=GP(n_startup=2), seed=1)
    fresh = shoal.Study("gp", WIDE, "maximize", storage=fresh_url, sampler=GP(n_startup=2), seed=1)
    seed_history(fresh, xs)
    proposals = {"widened": [], "fresh": []}
    for key, study in (("widened", widened), ("fresh", fresh)):
        for _ in range(4):
            trial = study.ask()
            proposals[key].append(trial.config["x"])
            study.tell(trial, peak(trial.config))
    assert proposals["widened"] == pytest.approx(proposals["fresh"])
    assert min(abs(x - 0.9) for x in proposals["widened"]) < 0.1  # it looks near the true optimum


def test_a_changed_scale_places_old_trials_on_the_new_scale(url: str) -> None:
    seed_history(shoal.Study("s", {"x": shoal.Float(0.001, 1.0)}, storage=url), [0.01, 0.1])
    reopened = shoal.Study("s", {"x": shoal.Float(0.001, 1.0, scale="log")}, storage=url)
    assert [round(t.unit["x"], 6) for t in reopened.trials] == [pytest.approx(1 / 3), pytest.approx(2 / 3)]


def test_reordered_choices_follow_their_values(url: str) -> None:
    study = shoal.Study("c", {"opt": shoal.Choice(["adam", "sgd"])}, storage=url)
    study.enqueue({"opt": "sgd"})
    study.tell(study.ask(), 1.0)
    reopened = shoal.Study("c", {"opt": shoal.Choice(["sgd", "rmsprop", "adam"])}, storage=url)
    assert reopened.trials[0].unit["opt"] == pytest.approx(1 / 6)  # sgd is now the first of three


def test_a_narrowing_that_keeps_every_stored_value_is_accepted_with_a_warning(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    seed_history(shoal.Study("n", WIDE, storage=url), [0.5, 1.0])
    with caplog.at_level(logging.WARNING, logger="shoal"):
        reopened = shoal.Study("n", NARROW, storage=url)
    assert [t.unit["x"] for t in reopened.trials] == [0.5, 1.0]
    assert "dimension 'x' narrowed from [0, 2] to [0, 1]" in caplog.text


def test_a_narrowing_that_excludes_a_stored_value_is_refused_and_changes_nothing(url: str) -> None:
    seed_history(shoal.Study("x", WIDE, storage=url), [1.5])
    with pytest.raises(shoal.SpaceMismatch, match="dimension 'x': stored trial value 1.5 is outside"):
        shoal.Study("x", NARROW, storage=url)
    assert stored_units(url, "x")[0]["x"] == pytest.approx(0.75)
    assert shoal.Study.load("x", url).space.to_dict() == shoal.Space(WIDE).to_dict()


def test_int_to_float_is_accepted_and_placed_by_value(url: str) -> None:
    study = shoal.Study("i", {"n": shoal.Int(0, 3)}, storage=url)
    study.enqueue({"n": 3})
    study.tell(study.ask(), 1.0)
    reopened = shoal.Study("i", {"n": shoal.Float(0.0, 10.0)}, storage=url)
    [trial] = reopened.trials
    assert trial.config["n"] == 3 and isinstance(trial.config["n"], int)  # values keep their type
    assert trial.unit["n"] == pytest.approx(0.3)


def test_float_to_int_is_refused(url: str) -> None:
    seed_history(shoal.Study("f", {"x": shoal.Float(0.0, 3.0)}, storage=url), [2.0])
    with pytest.raises(shoal.SpaceMismatch, match="dimension 'x'"):
        shoal.Study("f", {"x": shoal.Int(0, 3)}, storage=url)


def test_a_custom_value_without_an_inverse_keeps_its_coordinate(url: str) -> None:
    def decay(u: float) -> float:
        return 10 ** (-3 * u) / 10

    study = shoal.Study("cu", {"d": shoal.Custom(decay), "x": shoal.Float(0, 1)}, storage=url,
                        sampler=Random(seed=0))
    study.tell(study.ask(), 1.0)
    before = study.trials[0].unit
    reopened = shoal.Study("cu", {"d": shoal.Custom(decay), "x": shoal.Float(0, 2)}, storage=url)
    after = reopened.trials[0].unit
    assert after["d"] == before["d"]  # no inverse: the stored coordinate is all we know
    assert after["x"] == pytest.approx(before["x"] / 2)
    assert math.isfinite(after["d"])

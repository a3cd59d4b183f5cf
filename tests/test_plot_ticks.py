"""Axis ticks of the plots, read from the figures' dicts: reverse-log axes on the decades of 1 - x
with labels that tell them apart, log axes on decades, integer axes (dimensions, trial numbers,
steps) on whole numbers only."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("plotly")
pytest.importorskip("sklearn")

import shoal  # noqa: E402
from shoal.analysis.ticks import label, labels, nice_values, unit_ticks  # noqa: E402
from shoal.samplers import Random  # noqa: E402
from shoal.space import Space  # noqa: E402

SPACE = {
    "beta": shoal.Float(0.9, 0.9999, scale="reverse_log"),
    "beta2": shoal.Float(0.9, 0.999, scale="reverse_log"),
    "lr": shoal.Float(1e-5, 0.1, scale="log"),
    "wd": shoal.Float(1e-4, 5e-3, scale="log"),
    "layers": shoal.Int(1, 3),
    "units": shoal.Int(16, 512),
}


def curve(config: dict, trial) -> float:
    value = 0.0
    for step in range(3):
        value = (1 - config["beta"]) * 100 + config["layers"] + math.log10(config["lr"]) ** 2 / (step + 1)
        trial.report(value, step)
    return value


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> shoal.Study:
    url = f"sqlite:///{tmp_path_factory.mktemp('ticks') / 'shoal.db'}"
    study = shoal.Study("ticks", SPACE, storage=url, sampler=Random(seed=3))
    study.optimize(curve, 12, show_progress=False)
    return study


def _axes(fig) -> dict[str, dict]:
    """The slice plot's x axes by dimension name (from the figure's JSON)."""
    layout = json.loads(fig.to_json())["layout"]
    titles = [a["text"] for a in layout["annotations"]]
    keys = sorted((k for k in layout if k.startswith("xaxis")), key=lambda k: int(k[5:] or 1))
    return {name: layout[key] for name, key in zip(titles, keys, strict=False)}


def _dims(fig) -> dict[str, dict]:
    return {d["label"]: d for d in json.loads(fig.to_json())["data"][0]["dimensions"]}


def test_reverse_log_ticks_sit_on_the_decades_of_one_minus_x_and_read_apart(study) -> None:
    for axes in (_axes(study.plot.slices()), _dims(study.plot.parallel_coordinates())):
        assert axes["beta"]["ticktext"] == ["0.9", "0.99", "0.999", "0.9999"]
        assert axes["beta2"]["ticktext"] == ["0.9", "0.99", "0.999"]
        beta = study.space["beta"]
        decades = (0.9, 0.99, 0.999, 0.9999)
        assert axes["beta"]["tickvals"] == pytest.approx([beta.to_unit(v) for v in decades])
        assert axes["beta"]["tickvals"] == pytest.approx([0, 1 / 3, 2 / 3, 1])  # evenly: one per decade


def test_log_ticks_sit_on_decades_with_1_2_5_steps_under_two_decades(study) -> None:
    for axes in (_axes(study.plot.slices()), _dims(study.plot.parallel_coordinates())):
        assert axes["lr"]["ticktext"] == ["1e-5", "0.0001", "0.001", "0.01", "0.1"]
        assert axes["lr"]["tickvals"] == pytest.approx([0, 0.25, 0.5, 0.75, 1])
        assert axes["wd"]["ticktext"] == ["0.0001", "0.0002", "0.0005", "0.001", "0.002", "0.005"]


def test_integer_dimensions_have_whole_distinct_ticks(study) -> None:
    for axes in (_axes(study.plot.slices()), _dims(study.plot.parallel_coordinates())):
        assert axes["layers"]["ticktext"] == ["1", "2", "3"]
        layers = study.space["layers"]
        assert axes["layers"]["tickvals"] == pytest.approx([layers.to_unit(v) for v in (1, 2, 3)])
        units = axes["units"]["ticktext"]
        assert len(set(units)) == len(units) >= 3 and all(t.isdigit() for t in units)
        assert [int(t) % 50 for t in units] == [0] * len(units)  # round numbers: 50, 100, ...


def test_step_and_trial_axes_tick_whole_numbers_only(study) -> None:
    for fig in (study.plot.intermediate(), study.plot.history()):
        xaxis = json.loads(fig.to_json())["layout"]["xaxis"]
        assert xaxis["tickmode"] == "linear" and xaxis["dtick"] >= 1 and float(xaxis["dtick"]).is_integer()
        assert xaxis["tickformat"] == "d"


def test_tick_helpers() -> None:
    assert labels([0.999, 0.9999]) == ["0.999", "0.9999"]
    assert labels([0.25, 0.5, 0.75]) == ["0.25", "0.5", "0.75"]
    assert label(1e-5) == "1e-5" and label(2.0) == "2" and label(0.000178) == "0.000178"
    assert nice_values(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_values(0, 3, integer=True) == [0, 1, 2, 3]
    space = Space({"q": shoal.Float(0.0, 1.0, step=0.25), "c": shoal.Choice(["a", "b"]),
                   "n": shoal.Int(1, 1000, scale="log"), "s": shoal.Int(16, 256, step=16)})
    assert unit_ticks(space["q"])[1] == ["0", "0.25", "0.5", "0.75", "1"]
    assert unit_ticks(space["c"]) == ([0.25, 0.75], ["a", "b"])
    assert unit_ticks(space["n"])[1] == ["1", "10", "100", "1000"]
    values = [int(t) for t in unit_ticks(space["s"])[1]]
    assert all((v - 16) % 16 == 0 and 16 <= v <= 256 for v in values) and len(set(values)) == len(values)

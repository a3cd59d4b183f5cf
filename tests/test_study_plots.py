"""The timeline (trials packed onto worker slots), the value distribution and best-so-far curves of
one or several studies, and the learning curves of hundreds of trials at once."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import sqlite_url_for

pytest.importorskip("plotly")

import shoal  # noqa: E402
from shoal.analysis._data import StudyData  # noqa: E402
from shoal.analysis.edf import best_so_far, edf  # noqa: E402
from shoal.analysis.timeline import intervals, slots, timeline  # noqa: E402
from shoal.samplers import Random  # noqa: E402
from shoal.space import Space  # noqa: E402
from shoal.trial import Trial, TrialState  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _trial(number: int, state: TrialState, start: float, end: float | None, steps: int = 0) -> Trial:
    return Trial(number, state, {"x": 0.5}, value=float(number) if state == TrialState.COMPLETE else None,
                 started_at=T0 + timedelta(seconds=start),
                 finished_at=None if end is None else T0 + timedelta(seconds=end),
                 reports=[(s, 1.0 / (s + 1)) for s in range(steps)])


def test_slots_put_each_trial_on_the_lowest_slot_free_at_its_start() -> None:
    trials = [_trial(0, TrialState.COMPLETE, 0, 10), _trial(1, TrialState.PRUNED, 1, 5, steps=2),
              _trial(2, TrialState.COMPLETE, 6, 12), _trial(3, TrialState.FAILED, 11, 13),
              _trial(4, TrialState.COMPLETE, 2, 4), Trial(5, TrialState.QUEUED, {})]
    spans = intervals(trials)
    assert [t.number for t, *_ in spans] == [0, 1, 4, 2, 3]  # by start; the queued one never started
    assert slots(spans) == {0: 0, 1: 1, 4: 2, 2: 1, 3: 0}


def test_timeline_marks_pruned_paused_and_failed_trials_at_their_last_step() -> None:
    trials = [_trial(0, TrialState.COMPLETE, 0, 10, steps=4), _trial(1, TrialState.PRUNED, 1, 5, steps=2),
              _trial(2, TrialState.PAUSED, 6, None, steps=1), _trial(3, TrialState.FAILED, 11, 13)]
    data = StudyData("t", "minimize", Space({"x": shoal.Float(0, 1)}), trials)
    fig = json.loads(timeline(data).to_json())
    bars = {d["name"]: d for d in fig["data"] if d["type"] == "bar"}
    assert set(bars) == {"complete", "pruned", "paused", "failed"}
    assert bars["complete"]["x"] == [10_000.0] and bars["complete"]["base"] == ["2025-01-01 00:00:00.000000"]
    hover = bars["complete"]["hovertext"][0]
    assert "value 0" in hover and "trial 0 (complete)" in hover
    # paused: no finish time; its one step at the median pace (2.5 s a step for trial 0, 2 for trial 1)
    assert bars["paused"]["x"] == [2_250.0] and "end estimated" in bars["paused"]["hovertext"][0]
    marks = {d["name"]: d for d in fig["data"] if d["type"] == "scatter"}
    assert marks["pruned"]["text"] == ["1"] and marks["pruned"]["hovertext"] == ["trial 1 pruned at step 1"]
    assert marks["pruned"]["x"] == ["2025-01-01 00:00:05.000000"]  # where it ended
    assert marks["paused"]["hovertext"] == ["trial 2 paused at step 0"]
    assert marks["failed"]["hovertext"] == ["trial 3 failed"]
    assert fig["layout"]["yaxis"]["ticktext"] == ["1", "2"]  # two slots


def _slow(config: dict, trial) -> float:
    for step in range(3):
        time.sleep(0.02)
        trial.report(config["x"], step)
        if step == 1 and config["x"] > 0.7:
            raise shoal.TrialPruned()
    return config["x"]


def test_timeline_of_a_study_run_by_two_drivers_needs_at_most_two_slots(tmp_path) -> None:
    url = sqlite_url_for(tmp_path / "shoal.db")
    study = shoal.Study("two", {"x": shoal.Float(0, 1)}, storage=url, sampler=Random(seed=1))
    drivers = [threading.Thread(target=shoal.Study.load("two", url, sampler=Random(seed=s)).optimize,
                                args=(_slow, 5), kwargs={"show_progress": False}) for s in (1, 2)]
    for d in drivers:
        d.start()
    for d in drivers:
        d.join()
    data = StudyData.from_storage(study.storage, "two")
    spans = intervals(list(data.trials))
    slot = slots(spans)
    assert len(spans) == 10 and set(slot.values()) <= {0, 1}
    for s in set(slot.values()):  # no two trials on one slot at once
        mine = sorted((start, end) for t, start, end, _ in spans if slot[t.number] == s)
        assert all(a[1] <= b[0] for a, b in zip(mine, mine[1:], strict=False))
    fig = study.plot.timeline()
    shown = sum(len(d.y) for d in fig.data if d.type == "bar")
    assert shown == 10 and "timeline" in [k for k, _, _ in shoal.analysis.plots.plots_for(study)]


def _study(name: str, values: list[float], direction: str = "minimize") -> shoal.Study:
    study = shoal.Study(name, {"x": shoal.Float(0, 1)}, direction=direction, sampler=Random(seed=0))
    for v in values:
        study.enqueue({"x": v})
    study.optimize(lambda c: c["x"], len(values), show_progress=False)
    return study


def test_edf_of_several_studies_is_direction_aware() -> None:
    a, b = _study("a", [0.4, 0.1, 0.3]), _study("b", [0.2, 0.9])
    fig = json.loads(edf([a, b]).to_json())
    lines = {d["name"]: d for d in fig["data"]}
    assert lines["a (3)"]["x"] == [0.1, 0.3, 0.4] and lines["a (3)"]["y"] == pytest.approx([1 / 3, 2 / 3, 1])
    assert lines["b (2)"]["y"] == pytest.approx([0.5, 1.0]) and lines["a (3)"]["line"]["shape"] == "hv"
    assert "≤" in fig["layout"]["yaxis"]["title"]["text"]
    up = json.loads(edf(_study("up", [0.4, 0.1, 0.3], "maximize")).to_json())  # one study, not a list
    assert up["data"][0]["y"] == pytest.approx([1, 2 / 3, 1 / 3]) and up["data"][0]["line"]["shape"] == "vh"
    assert "≥" in up["layout"]["yaxis"]["title"]["text"]
    with pytest.raises(ValueError, match="must share a direction.*'up' maximizes"):
        edf([a, _study("up", [0.5], "maximize")])
    with pytest.raises(ValueError, match="empty list"):
        edf([])


def test_best_so_far_overlays_each_studys_running_best() -> None:
    a, b = _study("a", [0.4, 0.1, 0.3]), _study("b", [0.2, 0.9])
    fig = best_so_far([a, b])
    lines = {d.name: d for d in fig.data}
    assert list(lines["a"].x) == [1, 2, 3] and list(lines["a"].y) == [0.4, 0.1, 0.1]
    assert list(lines["b"].y) == [0.2, 0.2]
    assert fig.layout.xaxis.dtick == 1


def test_edf_refuses_a_study_with_several_objectives() -> None:
    study = shoal.Study("mo", {"x": shoal.Float(0, 1)}, objectives={"a": "minimize", "b": "maximize"})
    study.optimize(lambda c: {"a": c["x"], "b": c["x"]}, 3, show_progress=False)
    with pytest.raises(ValueError, match="'mo' has several objectives"):
        edf(study)
    assert "edf" not in [k for k, _, _ in shoal.analysis.plots.plots_for(study)]


def _curve(config: dict, trial) -> float:
    for step in range(6):
        value = config["x"] * 10.0 ** (-step) + 1e-6
        trial.report(value, step)
        if step == 2 and config["x"] > 0.6:
            raise shoal.TrialPruned()
    return value


def test_hundreds_of_learning_curves_stay_few_traces_with_the_best_on_top() -> None:
    study = shoal.Study("many", {"x": shoal.Float(0, 1)}, sampler=Random(seed=0))
    study.optimize(_curve, 300, show_progress=False)
    fig = study.plot.intermediate()
    assert len(fig.data) <= 10  # a trace per state, not per trial
    mass = [d for d in fig.data if d.mode == "lines" and not d.name.startswith("trial ")]
    assert all(d.line.width <= 1 and d.opacity <= 0.3 for d in mass)
    pruned = [d for d in mass if d.name.startswith("pruned")][0]
    assert pruned.line.dash == "dash"
    assert max(x for x in pruned.x if x is not None) == 2  # drawn, up to the step they were pruned at
    best = [d for d in fig.data if d.name.startswith("trial ")]
    done = sorted((t for t in study.trials if t.state == TrialState.COMPLETE), key=lambda t: t.value)
    assert [d.name.split()[1] for d in best] == [str(t.number) for t in done[:5]]
    assert all(d.line.width > 2 for d in best)
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["linear", "log"]
    assert list(menu.buttons[1].args) == [{"yaxis.type": "log"}]
    assert fig.layout.yaxis.type == "log" and menu.active == 1  # values over six decades: log first

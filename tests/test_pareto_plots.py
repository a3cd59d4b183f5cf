"""Figures of studies with several objectives and constraints: the Pareto front, the pair matrix, the
hypervolume, the report's front table and the dashboard's values (issue 13)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import sqlite_url_for

import shoal
from shoal.analysis._data import StudyData
from shoal.analysis.pareto_plots import FRONT_COLOR, INFEASIBLE_COLOR, hypervolume_history
from shoal.analysis.plots import PLOTS, plots_for
from shoal.analysis.report import render_report
from shoal.dashboard.app import DashboardApp
from shoal.samplers import Random
from shoal.storage import SQLStorage

pytest.importorskip("plotly")

SPACE = {"x": shoal.Float(0.0, 1.0), "y": shoal.Float(0.0, 1.0)}


def two(config: dict) -> dict:
    x, y = config["x"], config["y"]
    return {"accuracy": x, "latency_ms": 5 + 20 * x * x + 5 * y, "memory_mb": 1000 * y}


def three(config: dict) -> dict:
    x, y = config["x"], config["y"]
    return {"a": x, "b": (1 - x) ** 2 + y, "c": y * (1 - y) + x / 3, "memory_mb": 1000 * y}


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> str:
    return sqlite_url_for(tmp_path_factory.mktemp("pareto") / "p.db")


@pytest.fixture(scope="module")
def study2(url) -> shoal.Study:
    study = shoal.Study("two", SPACE, storage=url, sampler=Random(seed=0),
                        objectives={"accuracy": "maximize", "latency_ms": "minimize"},
                        constraints=["memory_mb <= 600"])
    study.optimize(two, 30, show_progress=False)
    return study


@pytest.fixture(scope="module")
def study3() -> shoal.Study:
    study = shoal.Study("three", SPACE, sampler=Random(seed=1),
                        objectives={"a": "maximize", "b": "minimize", "c": "minimize"},
                        constraints=["memory_mb <= 700"])
    study.optimize(three, 25, show_progress=False)
    return study


def _trace(fig, name: str):
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


def test_study_data_carries_the_objectives_live_and_stored(study2, url) -> None:
    live = StudyData.from_storage(SQLStorage(url), "two")
    assert live.goals == study2.objectives
    assert StudyData("s", "maximize", study2.space, []).goals.names == ("value",)


def test_two_objectives_scatter_front_exactly_the_studys_front(study2) -> None:
    fig = study2.plot.pareto_front()
    front = _trace(fig, "Pareto front")
    assert sorted(front.customdata) == [t.number for t in study2.pareto_front]
    assert front.mode == "lines+markers" and front.marker.color == FRONT_COLOR
    infeasible = _trace(fig, "infeasible")
    bad = [t.number for t in study2.trials if t.feasible is False]
    assert bad and sorted(infeasible.customdata) == bad
    assert infeasible.marker.color == INFEASIBLE_COLOR
    assert all("memory_mb <= 600" in h for h in infeasible.hovertext)
    dominated = _trace(fig, "dominated")
    assert dominated.marker.opacity < 1
    shown = set(front.customdata) | set(infeasible.customdata) | set(dominated.customdata)
    assert shown == {t.number for t in study2.trials if t.state.value == "COMPLETE"}
    json.loads(fig.to_json())


def test_three_objectives_pair_matrix(study3) -> None:
    fig = study3.plot.pareto_front()
    assert {t.type for t in fig.data} == {"splom"}
    front = _trace(fig, "Pareto front")
    assert sorted(front.customdata) == [t.number for t in study3.pareto_front]
    assert len(front.dimensions) == 3
    assert _trace(fig, "infeasible").marker.color == INFEASIBLE_COLOR
    json.loads(fig.to_json())


@pytest.mark.parametrize("which", ["study2", "study3"])
def test_hypervolume_never_goes_down_and_counts_feasible_trials(which, request) -> None:
    study = request.getfixturevalue(which)
    fig = study.plot.hypervolume()
    line = _trace(fig, "hypervolume")
    ys = np.array(line.y)
    assert len(ys) and np.all(np.diff(ys) >= -1e-12) and ys[-1] > 0
    assert list(line.x) == [t.number for t in study.trials
                            if t.state.value == "COMPLETE" and t.feasible is True]
    numbers, volumes, ref = hypervolume_history(StudyData.from_storage(study.storage, study.name))
    assert volumes[-1] == pytest.approx(ys[-1]) and ref is not None
    json.loads(fig.to_json())


def test_one_objective_studies_are_not_offered_the_pareto_plots() -> None:
    study = shoal.Study("one", SPACE, sampler=Random(seed=0), constraints=["memory_mb <= 600"])
    study.optimize(lambda c: {"value": c["x"], "memory_mb": 1000 * c["y"]}, 12, show_progress=False)
    assert plots_for(study) == tuple(p for p in PLOTS if p[0] not in ("intermediate", "lineage", "rounds"))
    assert "pareto_front" not in dir(study.plot)
    with pytest.raises(ValueError, match="several objectives"):
        study.plot.pareto_front()
    fig = study.plot.history()  # infeasible trials grey, the best only among feasible ones
    infeasible = _trace(fig, "infeasible")
    assert sorted(infeasible.x) == [t.number for t in study.trials if t.feasible is False]
    assert _trace(fig, "best so far").y[-1] == study.best.value
    assert "<table id=\"pareto-front\">" not in render_report(study)
    assert f"Best: trial {study.best.number}," in render_report(study)


def test_multi_objective_studies_offer_them_after_the_history(study2) -> None:
    keys = [k for k, _, _ in plots_for(study2)]
    assert keys[:3] == ["history", "pareto_front", "hypervolume"]
    assert {"pareto_front", "hypervolume"} <= set(dir(study2.plot))


def test_report_has_the_front_table_and_the_figures(study2) -> None:
    text = render_report(study2)
    assert '<table id="pareto-front">' in text
    table = text.split('<table id="pareto-front">')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + len(study2.pareto_front)
    assert 'id="plot-pareto_front"' in text and 'id="plot-hypervolume"' in text
    assert "could not draw" not in text.split('id="plot-pareto_front"')[1].split("</section>")[0]


def test_dashboard_offers_the_figures_and_carries_values_and_feasible(study2, url) -> None:
    app = DashboardApp(SQLStorage(url))
    try:
        keys = [f["key"] for f in app.figures("two")["figures"]]
        assert "pareto_front" in keys and "hypervolume" in keys
        figure = json.loads(app.figure("two", "pareto_front")["figure"])
        assert any(t["name"] == "Pareto front" for t in figure["data"])
        rows = app.trials("two")["trials"]
        done = [r for r in rows if r["state"] == "COMPLETE"]
        assert done and all(set(r["values"]) >= {"accuracy", "latency_ms"} for r in done)
        assert {r["feasible"] for r in done} == {True, False}
        detail = app.trial("two", done[0]["number"])
        assert detail["values"] == done[0]["values"] and detail["feasible"] == done[0]["feasible"]
        shoal.Study("single", SPACE, storage=url)
        assert "pareto_front" not in [f["key"] for f in app.figures("single")["figures"]]
    finally:
        app.close()


def test_hypervolume_history_is_each_prefixs_volume_against_one_reference() -> None:
    """Recomputed only when the front changes, it still equals the volume of the feasible trials so
    far (3 objectives, one maximized, a constraint), against the reference of all trials."""
    from shoal.objectives import Objectives
    from shoal.space import Space
    from shoal.stats.pareto import hypervolume, reference_point
    from shoal.trial import Trial, TrialState

    rng = np.random.default_rng(0)
    goals = Objectives.build(objectives={"a": "minimize", "b": "minimize", "c": "maximize"},
                             constraints=["m <= 0.7"])
    trials = []
    for i in range(150):
        values = dict(zip("abcm", rng.random(4).round(2), strict=True))
        trials.append(Trial(i, TrialState.COMPLETE, {}, values=values, value=values["a"],
                            feasible=goals.feasible(values)))
    data = StudyData("s", "minimize", Space({"x": shoal.Float(0, 1)}), trials, objectives=goals)
    numbers, volumes, ref = hypervolume_history(data)
    assert np.allclose(ref, reference_point([goals.score(t.values) for t in trials]))
    feasible = [t for t in trials if t.feasible]
    assert numbers == [t.number for t in feasible]
    for k in range(1, len(feasible) + 1):
        scores = [goals.score(t.values) for t in feasible[:k]]
        assert volumes[k - 1] == pytest.approx(hypervolume(scores, ref), abs=1e-12)

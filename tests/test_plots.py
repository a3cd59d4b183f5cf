"""Plots: every figure of ``study.plot`` drawn from real studies (reports, pruning, rounds, re-runs),
checked for what it shows, and JSON-serializable for a dashboard."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from conftest import sqlite_url_for

pytest.importorskip("plotly")
pytest.importorskip("sklearn")

import shoal  # noqa: E402
from shoal.analysis._data import StudyData  # noqa: E402
from shoal.analysis.plots import PLOTS, plots_for  # noqa: E402
from shoal.samplers import CoarseToFine, Random  # noqa: E402
from shoal.samplers.base import SamplingContext  # noqa: E402

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "opt": shoal.Choice(["adam", "sgd"]),
    "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
    "units": shoal.Int(16, 256, step=16),
}


def learning(config: dict, trial) -> float:
    """Reports a curve; trials with few units are pruned after 3 steps."""
    r = (math.log10(config["lr"]) + 4) / 4
    value = 0.0
    for step in range(6):
        value = (r - 0.3) ** 2 + config.get("beta1", 0.9) / (step + 1)
        trial.report(value, step)
        if step == 2 and config["units"] <= 64:
            raise shoal.TrialPruned()
    return value


@pytest.fixture(scope="module")
def c2f_study(tmp_path_factory) -> shoal.Study:
    url = sqlite_url_for(tmp_path_factory.mktemp("plots") / "p.db")
    study = shoal.Study("c2f", SPACE, storage=url, sampler=CoarseToFine(rounds=3, seed=0))
    study.optimize(learning, 36, show_progress=False)
    return study


def _traces(fig, kind: str) -> list:
    return [t for t in fig.data if t.type == kind]


def test_every_plot_draws_and_serializes(c2f_study) -> None:
    assert [k for k, _, _ in PLOTS] == [
        "history", "importance", "parallel_coordinates", "slices", "contour", "edf", "intermediate",
        "timeline", "lineage", "rounds",
    ]
    for key, _, _ in PLOTS:
        fig = getattr(c2f_study.plot, key)()
        data = json.loads(fig.to_json())
        assert data["data"] or data["layout"]["annotations"], key


def test_history_shows_each_value_and_the_running_best(c2f_study) -> None:
    fig = c2f_study.plot.history()
    points, best = fig.data
    done = [t for t in c2f_study.trials if t.state == shoal.TrialState.COMPLETE]
    assert list(points.x) == [t.number for t in done]
    running = [min(t.value for t in done[: i + 1]) for i in range(len(done))]
    assert list(best.y) == pytest.approx(running)


def test_intermediate_values_draw_pruned_curves_dashed_to_their_prune_step(c2f_study) -> None:
    fig = c2f_study.plot.intermediate()
    pruned = [t for t in c2f_study.trials if t.state == shoal.TrialState.PRUNED]
    assert pruned, "the fixture prunes trials with few units"
    dashed = [t for t in fig.data if t.mode == "lines" and t.line.dash == "dash"]
    assert len(dashed) == 1 and dashed[0].name == f"pruned ({len(pruned)})"
    curves = [[x for x in xs if x is not None] for xs in _split(dashed[0].x)]
    assert curves == [[0, 1, 2]] * len(pruned)  # drawn, each ending at step 2 where it was pruned
    crosses = [t for t in fig.data if t.mode == "markers" and t.marker.symbol == "x"][0]
    assert sorted(crosses.hovertext) == sorted(f"trial {t.number} pruned at step 2" for t in pruned)
    done = [t for t in c2f_study.trials if t.state == shoal.TrialState.COMPLETE]
    best = sorted(done, key=lambda t: t.value)
    on_top = [t for t in fig.data if t.name and t.name.startswith("trial ")]
    assert [t.name.split()[1] for t in on_top] == [str(t.number) for t in best[:5]]
    shown = sum(len([x for x in t.x if x is not None]) for t in fig.data if t.mode == "lines")
    assert shown == sum(len(t.reports) for t in c2f_study.trials)  # every report, once


def _split(xs) -> list[list]:
    out: list[list] = [[]]
    for x in xs:
        if x is None:
            out.append([])
        else:
            out[-1].append(x)
    return [c for c in out if c]


def test_rounds_draw_the_samplers_shrinking_box(c2f_study) -> None:
    fig = c2f_study.plot.rounds()
    bars = _traces(fig, "bar")
    assert [b.name for b in bars] == ["round 0", "round 1", "round 2"]
    assert "the sampler's box" in fig.layout.title.text
    lr = list(bars[0].y).index("lr")
    widths = [b.x[lr] for b in bars]
    assert widths[0] == pytest.approx(1.0) and widths[2] < widths[1] < widths[0]


def test_rounds_from_storage_draw_the_box_the_sampler_stored(c2f_study) -> None:
    """Each round's box is data the study stored when the round began: read from storage alone (no
    live sampler), the plot draws the box the sampler searched, the same one it computes."""
    data = StudyData.from_storage(c2f_study.storage, "c2f")
    fig = shoal.analysis.plots.rounds(data)
    assert "the sampler's box" in fig.layout.title.text
    bars = _traces(fig, "bar")
    lr = list(bars[2].y).index("lr")
    history = [t for t in c2f_study.trials if t.state.finished]
    context = SamplingContext(c2f_study.space, "c2f", c2f_study.direction, 0, history=history)
    box = c2f_study.sampler.box_for_round(context, 2)
    k = c2f_study.space.names.index("lr")
    assert (bars[2].base[lr], bars[2].x[lr]) == pytest.approx((box.lo[k], box.hi[k] - box.lo[k]))


def test_rounds_without_stored_boxes_draw_the_span_of_each_rounds_trials(c2f_study) -> None:
    """A study stored before rounds had boxes (or whose boxes were lost) falls back to the spans."""
    data = dataclasses.replace(StudyData.from_storage(c2f_study.storage, "c2f"), round_boxes={})
    fig = shoal.analysis.plots.rounds(data)
    assert "span of the round's trials" in fig.layout.title.text
    bars = _traces(fig, "bar")
    lr = list(bars[2].y).index("lr")
    us = [t.unit["lr"] for t in c2f_study.trials if t.round == 2]
    assert bars[2].base[lr] == pytest.approx(min(us))


def test_parallel_coordinates_and_slices_use_the_unit_scale_with_value_ticks(c2f_study) -> None:
    fig = c2f_study.plot.parallel_coordinates()
    axes = {d.label: d for d in fig.data[0].dimensions}
    assert list(axes) == ["lr", "opt", "beta1", "units", "value"]
    assert list(axes["lr"].ticktext) == ["0.0001", "0.001", "0.01", "0.1", "1"]  # decades, evenly
    assert list(axes["opt"].ticktext) == ["adam", "sgd"]
    assert axes["beta1"].ticktext[0] == "inactive"  # sgd trials
    assert min(axes["beta1"].values) == pytest.approx(-0.1)
    fig = c2f_study.plot.slices()
    assert len(_traces(fig, "scatter")) == 4
    assert [a.text for a in fig.layout.annotations] == ["lr", "opt", "beta1", "units"]


def test_contour_takes_the_top_pair_or_the_named_one(c2f_study) -> None:
    ranking = shoal.importance(c2f_study).ranking
    fig = c2f_study.plot.contour()
    assert set(fig.layout.title.text.split(":")[1].split("(")[0].replace(" ", "").split("x")) == set(
        ranking[:2]
    )
    surface = _traces(fig, "contour")[0]
    assert len(surface.z) == 40 and len(surface.z[0]) == 40
    fig = c2f_study.plot.contour("units", "lr")
    assert "units x lr" in fig.layout.title.text
    with pytest.raises(ValueError, match="'nope' is not a dimension"):
        c2f_study.plot.contour("nope", "lr")


def test_importance_bars_match_the_ranking(c2f_study) -> None:
    fig = c2f_study.plot.importance()
    bar = _traces(fig, "bar")[0]
    result = shoal.importance(c2f_study)
    assert list(bar.y)[::-1] == result.ranking
    assert list(bar.x)[::-1] == pytest.approx([result[n] for n in result.ranking])


def test_lineage_joins_re_runs_to_their_original() -> None:
    study = shoal.Study("lin", {"a": shoal.Float(0, 1)}, sampler=Random(seed=0))
    calls = {"n": 0}

    def flaky(config: dict) -> float:
        calls["n"] += 1
        if calls["n"] % 3 == 1:
            raise RuntimeError("flaky")
        return config["a"]

    study.optimize(flaky, 4, retries=1, show_progress=False)
    reruns = [t for t in study.trials if t.requeued_from is not None]
    assert reruns
    fig = study.plot.lineage()
    edges = [t for t in fig.data if t.name == "re-run"][0]
    starts = [x for i, x in enumerate(edges.x) if i % 3 == 0]
    assert sorted(starts) == sorted(t.requeued_from for t in reruns)


def test_lineage_draws_pbt_exploits_and_continuations_from_storage(sqlite_url: str) -> None:
    pbt_module = pytest.importorskip("shoal.schedulers.pbt")  # population-based training
    from functools import partial

    import pbt_objectives as po

    pbt = pbt_module.PBT(population=4, interval=3, max_steps=12, seed=1)
    study = shoal.Study("pbt", {"lr": shoal.Float(1e-4, 1.0, scale="log")}, storage=sqlite_url, scheduler=pbt,
                        seed=1)
    study.optimize(partial(po.schedule_task, max_steps=12), show_progress=False)
    records = study.storage.read_lineage(study.id)
    exploits = [(r.parent, r.trial_number) for r in records if r.parent is not None and r.donor is not None]
    continues = [(r.parent, r.trial_number) for r in records if r.parent is not None and r.donor is None]
    assert exploits and continues
    for data in (study, StudyData.from_storage(study.storage, "pbt")):  # live, and read from storage
        fig = shoal.analysis.plots.lineage(data)
        by_name = {t.name: t for t in fig.data}
        for kind, pairs in (("exploit", exploits), ("continue", continues)):
            xs = list(by_name[kind].x)
            assert sorted(zip(xs[0::3], xs[1::3], strict=True)) == sorted(pairs), kind
        hover = " ".join(by_name["trials"].hovertext)
        assert "member 0 segment 0" in hover


def test_plots_with_nothing_to_show_say_so() -> None:
    study = shoal.Study("empty", {"a": shoal.Float(0, 1), "b": shoal.Float(0, 1)}, sampler=Random(seed=0))
    for key, _, _ in PLOTS:
        fig = getattr(study.plot, key)()
        assert fig.layout.annotations, key  # a message instead of an empty chart
    study.optimize(lambda c: c["a"], 5, show_progress=False)
    assert "no trial reported" in study.plot.intermediate().layout.annotations[0].text
    assert [k for k, _, _ in plots_for(study)] == [
        "history", "importance", "parallel_coordinates", "slices", "contour", "edf", "timeline"]
    assert "not use a coarse-to-fine" in study.plot.rounds().layout.annotations[0].text
    assert "no lineage" in study.plot.lineage().layout.annotations[0].text


def test_import_shoal_does_not_import_plotly_or_sklearn() -> None:
    import subprocess
    import sys

    code = ("import sys, shoal; s = shoal.Study('x', {'a': shoal.Float(0, 1)}); s.plot; "
            "print('plotly' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]

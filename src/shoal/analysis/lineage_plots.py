"""Where trials came from: the lineage plot (PBT segments and exploits, re-runs) and the
coarse-to-fine rounds (the box each round searched)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..trial import Trial
from ._data import StudyData, as_study_data, tunable, unit_matrix
from ._figure import STATE_COLORS as _STATE_COLORS
from ._figure import empty as _empty
from ._figure import figure as _figure
from ._figure import go as _go

__all__ = ["has_lineage", "has_rounds", "lineage", "rounds"]


def has_lineage(data: StudyData) -> bool:
    """Whether some trial descends from another (so the lineage plot has something to draw)."""
    return bool(_edges(data))


def has_rounds(data: StudyData) -> bool:
    """Whether some trial belongs to a coarse-to-fine round."""
    return any(t.round is not None for t in data.trials)


def _edges(data: StudyData) -> list[tuple[int, int, str]]:
    """(from, to, kind) for every trial that descends from another: a PBT segment from the one it
    continues ("continue") or from the better member it copied ("exploit"), a re-run from the trial
    whose configuration it repeats ("re-run")."""
    known = {t.number for t in data.trials}
    edges = []
    for record in data.lineage:
        if record.parent is not None and record.parent in known and record.trial_number in known:
            kind = "exploit" if record.donor is not None else "continue"
            edges.append((record.parent, record.trial_number, kind))
    edges += [(t.requeued_from, t.number, "re-run") for t in data.trials if t.requeued_from in known]
    return edges


def lineage(study: Any):
    """Lineage: each trial at (trial number, value), joined to the trial it came from (PBT
    segments and exploits from storage's lineage records, and re-runs)."""
    data = as_study_data(study)
    by_number = {t.number: t for t in data.trials}
    edges = _edges(data)
    if not edges:
        return _empty("Lineage", "no lineage recorded: no trial descends from another "
                      "(population-based training and re-runs draw it)")
    go = _go()
    members = {r.trial_number: r for r in data.lineage}

    def level(t: Trial) -> float | None:
        if t.value is not None:
            return t.value
        return t.reports[-1][1] if t.reports else None

    fig = _figure("Lineage (each trial joined to the trial it came from)", xaxis_title="trial",
                  yaxis_title="value (last report when unfinished)")
    styles = {"exploit": ("solid", "#d62728"), "continue": ("solid", "#999999"), "re-run": ("dot", "#999999")}
    for how, (dash, color) in styles.items():
        xs: list[Any] = []
        ys: list[Any] = []
        for parent, child, kind in edges:
            if kind == how:
                xs += [parent, child, None]
                ys += [level(by_number[parent]), level(by_number[child]), None]
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=how, line={"dash": dash, "color": color},
                                     connectgaps=False))

    def label(t: Trial) -> str:
        r = members.get(t.number)
        where = "" if r is None else f", member {r.member} segment {r.segment}"
        return f"trial {t.number} ({t.state.value.lower()}{where})"

    nodes = [t for t in data.trials if level(t) is not None]
    fig.add_trace(go.Scatter(
        x=[t.number for t in nodes], y=[level(t) for t in nodes], mode="markers", name="trials",
        marker={"color": [_STATE_COLORS.get(t.state, "#7f7f7f") for t in nodes], "size": 8},
        hovertext=[label(t) for t in nodes], hoverinfo="text",
    ))
    return fig


def _round_boxes(data: StudyData, names: Sequence[str]) -> tuple[dict[int, list[tuple[float, float]]], str]:
    """Per round, (low, high) of every dimension on the unit scale: the box the coarse-to-fine sampler
    searched, as the study stored it, else the span of the round's trials."""
    rounds = sorted({t.round for t in data.trials if t.round is not None})
    if rounds and all(r in data.round_boxes for r in rounds):
        out = {r: [tuple(data.round_boxes[r].get(name, (math.nan, math.nan))) for name in names]
               for r in rounds}
        return out, "the sampler's box"
    x_all = unit_matrix(data.trials, names)
    out = {}
    for r in rounds:
        rows = x_all[[t.round == r for t in data.trials]]
        spans = []
        for j in range(len(names)):
            col = rows[:, j][rows[:, j] >= 0]
            spans.append((float(col.min()), float(col.max())) if len(col) else (math.nan, math.nan))
        out[r] = spans
    return out, "the span of the round's trials"


def rounds(study: Any):
    """Coarse-to-fine: the box each round searched, per dimension on the unit scale."""
    data = as_study_data(study)
    names = tunable(data.space)
    boxes, source = _round_boxes(data, names)
    if not boxes:
        return _empty("Coarse-to-fine rounds", "no rounds: the study did not use a coarse-to-fine sampler")
    go = _go()
    fig = _figure(f"Coarse-to-fine: the box per round ({source})", xaxis_title="unit coordinate",
                  barmode="group", height=max(320, 60 + 26 * len(names) * max(1, len(boxes)) // 2))
    labels = names[::-1]
    for r, spans in boxes.items():
        lo = [spans[names.index(n)][0] for n in labels]
        hi = [spans[names.index(n)][1] for n in labels]
        width = [max(h - lo_, 0.004) if not math.isnan(h) else 0 for lo_, h in zip(lo, hi, strict=True)]
        text = [("frozen" if h - lo_ < 1e-12 else "") for lo_, h in zip(lo, hi, strict=True)]
        fig.add_trace(go.Bar(y=labels, x=width, base=lo, orientation="h", name=f"round {r}",
                             text=text, textposition="outside",
                             hovertext=[f"round {r}: {n} in [{a:.3f}, {b:.3f}]"
                                        for n, a, b in zip(labels, lo, hi, strict=True)],
                             hoverinfo="text"))
    fig.update_xaxes(range=[0, 1.08])
    return fig



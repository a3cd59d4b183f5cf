"""Learning curves of many trials at once: ``study.plot.intermediate()``.

Hundreds of curves stay readable: all of a state share one thin, faint trace (gaps between trials),
pruned curves are grey and dashed and end in an x at the step they were pruned at, paused ones end in
a diamond, and the best few completed trials are drawn on top in colour, each its own legend entry.
A button switches the value axis between linear and log.
"""

from __future__ import annotations

import math
from typing import Any

from ..direction import sign as direction_sign
from ..trial import Trial, TrialState
from ._data import as_study_data
from ._figure import STATE_COLORS, empty, figure, go
from .ticks import integer_axis

__all__ = ["intermediate", "HIGHLIGHT"]

#: How many of the best completed trials are drawn on top, in colour.
HIGHLIGHT = 5
PRUNED_COLOR = "#8a929c"
_BEST_COLORS = ("#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2")
_ENDS = {TrialState.PRUNED: ("x", "pruned"), TrialState.PAUSED: ("diamond", "paused")}


def _opacity(n: int) -> float:
    """Fainter as more curves overlap: 0.8 for a few, down to 0.15 for hundreds."""
    return max(0.15, min(0.8, 0.8 * math.sqrt(20 / max(n, 1))))


def _best(trials: list[Trial], direction: str, k: int) -> list[Trial]:
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None
            and t.feasible is not False]
    sign = direction_sign(direction)
    return sorted(done, key=lambda t: (sign * t.value, t.number))[:k]  # type: ignore[operator]


def _joined(trials: list[Trial]) -> tuple[list[Any], list[Any], list[Any]]:
    """Every trial's curve in one trace, separated by gaps, with hover text per point."""
    xs: list[Any] = []
    ys: list[Any] = []
    texts: list[Any] = []
    for t in trials:
        steps, values = zip(*t.reports, strict=True)
        label = f"trial {t.number} ({t.state.value.lower()})"
        xs += [*steps, None]
        ys += [*values, None]
        texts += [label] * len(steps) + [None]
    return xs, ys, texts


def _log_button(positive: bool, log: bool) -> list[dict[str, Any]]:
    buttons = [{"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]}]
    if positive:
        buttons.append({"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]})
    return [{"type": "buttons", "direction": "left", "x": 1.0, "xanchor": "right", "y": 1.12,
             "yanchor": "bottom", "showactive": True, "active": 1 if log else 0, "buttons": buttons,
             "pad": {"r": 2, "t": 2}, "font": {"size": 11}}]


def intermediate(study: Any, *, highlight: int = HIGHLIGHT):
    """Learning curves: every trial's reported values by step. Pruned trials are grey, dashed and
    end in an x at the step they were pruned at (paused ones in a diamond); the ``highlight`` best
    completed trials are drawn on top in colour. A button toggles a log value axis (offered when
    every value is positive; on by default when the values span over three decades)."""
    data = as_study_data(study)
    reporting = sorted((t for t in data.trials if t.reports), key=lambda t: t.number)
    if not reporting:
        return empty("Intermediate values", "no trial reported intermediate values")
    best = _best(reporting, data.direction, highlight)
    on_top = {t.number for t in best}
    values = [v for t in reporting for _, v in t.reports]
    positive = all(v > 0 for v in values)
    log = positive and max(values) / min(values) > 1000
    fig = figure(f"Intermediate values ({len(reporting)} trials; best {len(best)} in colour, "
                 "pruned dashed)", xaxis_title="step", yaxis_title="reported value",
                 updatemenus=_log_button(positive, log), hovermode="closest")
    alpha = _opacity(len(reporting))
    for state in sorted({t.state for t in reporting}, key=lambda s: s != TrialState.COMPLETE):
        group = [t for t in reporting if t.state == state and t.number not in on_top]
        if not group:
            continue
        pruned = state == TrialState.PRUNED
        xs, ys, texts = _joined(group)
        fig.add_trace(go().Scatter(
            x=xs, y=ys, mode="lines", name=f"{state.value.lower()} ({len(group)})", legendgroup=state.value,
            line={"color": PRUNED_COLOR if pruned else STATE_COLORS.get(state, "#7f7f7f"), "width": 1,
                  "dash": "dash" if pruned else "solid"},
            opacity=alpha, hovertext=texts, hoverinfo="text+x+y", connectgaps=False))
    for state, (symbol, word) in _ENDS.items():
        ends = [t for t in reporting if t.state == state]
        if ends:
            fig.add_trace(go().Scatter(
                x=[t.reports[-1][0] for t in ends], y=[t.reports[-1][1] for t in ends], mode="markers",
                name=f"{word} at", legendgroup=state.value, showlegend=False,
                marker={"symbol": symbol, "size": 7,
                        "color": PRUNED_COLOR if state == TrialState.PRUNED else STATE_COLORS[state]},
                hovertext=[f"trial {t.number} {word} at step {t.reports[-1][0]}" for t in ends],
                hoverinfo="text+y"))
    for rank, t in enumerate(best):
        steps, vals = zip(*t.reports, strict=True)
        fig.add_trace(go().Scatter(
            x=steps, y=vals, mode="lines", name=f"trial {t.number} (#{rank + 1}, {t.value:.4g})",
            line={"color": _BEST_COLORS[rank % len(_BEST_COLORS)], "width": 2.5},
            hovertext=f"trial {t.number} (best #{rank + 1}, value {t.value:.4g})", hoverinfo="text+x+y"))
    fig.update_xaxes(**integer_axis([s for t in reporting for s, _ in t.reports]))
    if log:
        fig.update_yaxes(type="log")
    return fig

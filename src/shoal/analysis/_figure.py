"""What every plot shares: plotly loaded on demand, the figure's look, the empty-figure message,
the colours of the trial states and the unit axis of a dimension."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..space import Dimension
from ..trial import TrialState
from .ticks import unit_ticks

INACTIVE_AT = -0.1
INFEASIBLE = "#7f7f7f"
STATE_COLORS = {
    TrialState.COMPLETE: "#1f77b4",
    TrialState.PRUNED: "#d62728",
    TrialState.FAILED: "#7f7f7f",
    TrialState.STALE: "#7f7f7f",
    TrialState.RUNNING: "#2ca02c",
    TrialState.PAUSED: "#9467bd",
    TrialState.QUEUED: "#bcbd22",
}
#: The font of every figure: the dashboard's and the report's (system-ui at 12 px, as their tables).
FONT = {"family": 'system-ui, -apple-system, "Segoe UI", sans-serif', "size": 12, "color": "#1d2430"}
#: A figure's height unless it sets its own (plotly's own default leans on the page's CSS).
HEIGHT = 450


def go():
    try:
        import plotly.graph_objects as graph_objects
    except ImportError:
        raise ImportError("shoal plots need plotly: pip install 'shoal[plot]'") from None
    return graph_objects


def figure(title: str, **layout: Any):
    """An empty figure with the shared look (font, white template, a fixed height)."""
    fig = go().Figure()
    layout.setdefault("height", HEIGHT)
    fig.update_layout(title={"text": title, "font": {"size": 15}}, template="plotly_white", font=FONT,
                      **layout)
    return fig


def empty(title: str, message: str):
    fig = figure(title, height=320)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def fmt(value: Any) -> str:
    """A value in hover text: enough digits to tell 0.999 from 0.9999."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def unit_axis(dim: Dimension, inactive: bool = False) -> dict[str, Any]:
    """Plotly axis settings for ``dim`` drawn on its unit coordinate, ticks labelled in values."""
    vals, text = unit_ticks(dim)
    if inactive:
        vals, text = [INACTIVE_AT, *vals], ["inactive", *text]
    low = INACTIVE_AT - 0.05 if inactive else -0.03
    return {"tickvals": vals, "ticktext": text, "range": [low, 1.03], "title": dim.name}


def shown(x: np.ndarray) -> np.ndarray:
    """Unit coordinates with inactive ones (< 0) at the "inactive" tick."""
    return np.where(x < 0, INACTIVE_AT, x)

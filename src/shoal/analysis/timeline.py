"""Which trial ran when: ``study.plot.timeline()``, one row per worker slot.

Trials carry no worker id, so the rows are slots found by packing: trials in order of their start,
each on the lowest slot free at its start (a slot is free once its last trial finished). With n
workers the plot has n rows while they stayed busy. A bar runs from ``started_at`` to
``finished_at``, coloured by state; pruned trials end in an x, paused ones in a diamond and failed
ones in a cross, each labelled with its last reported step. A PAUSED trial has no finish time: its
bar ends where its steps would have taken it at the study's median pace (marked "end estimated"),
and a RUNNING one at the study's latest time stamp. A trial resumed after a pause is drawn from its
first start to its finish.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone
from typing import Any

from ..trial import Trial, TrialState
from ._data import as_study_data
from ._figure import STATE_COLORS, empty, figure, go

__all__ = ["intervals", "slots", "timeline"]

_MARKS = {TrialState.PRUNED: ("x", "pruned"), TrialState.PAUSED: ("diamond", "paused"),
          TrialState.FAILED: ("x-thin-open", "failed"), TrialState.STALE: ("x-thin-open", "stale")}


def _pace(trials: list[Trial]) -> float | None:
    """Median seconds per reported step of the finished trials that reported."""
    paces = [t.duration / (t.reports[-1][0] + 1) for t in trials
             if t.duration is not None and t.reports and t.reports[-1][0] >= 0]
    return statistics.median(paces) if paces else None


def intervals(trials: list[Trial]) -> list[tuple[Trial, datetime, datetime, bool]]:
    """``(trial, start, end, estimated)`` for every trial that started, by start; ``estimated`` when
    the end is a guess (a PAUSED or RUNNING trial, which has no finish time)."""
    started = [t for t in trials if t.started_at is not None]
    if not started:
        return []
    latest = max(max(t.started_at for t in started),  # type: ignore[type-var]
                 max((t.finished_at for t in started if t.finished_at), default=started[0].started_at))
    pace = _pace(started)
    out = []
    for t in sorted(started, key=lambda t: (t.started_at, t.number)):
        start = t.started_at
        assert start is not None
        if t.finished_at is not None:
            out.append((t, start, max(start, t.finished_at), False))
            continue
        end = latest
        if t.state == TrialState.PAUSED and pace is not None and t.reports:
            end = min(latest, start + timedelta(seconds=pace * (t.reports[-1][0] + 1)))
        out.append((t, start, max(start, end), True))
    return out


def slots(spans: list[tuple[Trial, datetime, datetime, bool]]) -> dict[int, int]:
    """Trial number -> slot (0, 1, ...): each trial, in order of start, on the lowest slot whose last
    trial finished by its start."""
    free_at: list[datetime] = []
    out: dict[int, int] = {}
    for t, start, end, _ in sorted(spans, key=lambda s: (s[1], s[0].number)):
        slot = next((i for i, at in enumerate(free_at) if at <= start), len(free_at))
        if slot == len(free_at):
            free_at.append(end)
        else:
            free_at[slot] = end
        out[t.number] = slot
    return out


def _stamp(at: datetime) -> str:
    """A time as plotly.js reads it (no offset): UTC when the time stamp has a zone."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def _hover(t: Trial, start: datetime, end: datetime, estimated: bool) -> str:
    value = "" if t.value is None else f"<br>value {t.value:.6g}"
    step = f"<br>last step {t.reports[-1][0]}" if t.reports else ""
    took = f"{(end - start).total_seconds():.3g} s" + (" (end estimated)" if estimated else "")
    at = _stamp(start)[11:19]
    return f"trial {t.number} ({t.state.value.lower()}){value}{step}<br>started {at} UTC, {took}"


def timeline(study: Any):
    """Which trial ran when, one row per worker slot, coloured by state; hover for trial, state and
    value."""
    data = as_study_data(study)
    spans = intervals(list(data.trials))
    if not spans:
        return empty("Timeline", "no trial started yet")
    slot = slots(spans)
    n_slots = max(slot.values()) + 1
    fig = figure(f"Timeline: {len(spans)} trials on {n_slots} slot{'s' if n_slots > 1 else ''}",
                 barmode="overlay", height=max(260, 120 + 26 * n_slots), hovermode="closest",
                 xaxis={"type": "date", "title": "time (UTC)"},
                 yaxis={"title": "slot", "tickvals": list(range(n_slots)), "autorange": "reversed",
                        "ticktext": [str(i + 1) for i in range(n_slots)]})
    for state in sorted({t.state for t, *_ in spans}, key=lambda s: s != TrialState.COMPLETE):
        mine = [s for s in spans if s[0].state == state]
        fig.add_trace(go().Bar(
            base=[_stamp(start) for _, start, _, _ in mine],
            x=[max((end - start).total_seconds() * 1000, 1.0) for _, start, end, _ in mine],
            y=[slot[t.number] for t, *_ in mine], orientation="h", name=state.value.lower(),
            marker={"color": STATE_COLORS.get(state, "#7f7f7f"), "line": {"color": "white", "width": 1}},
            width=0.8, hovertext=[_hover(*s) for s in mine], hoverinfo="text",
            customdata=[t.number for t, *_ in mine]))
    for state, (symbol, word) in _MARKS.items():
        mine = [s for s in spans if s[0].state == state]
        if mine:
            fig.add_trace(go().Scatter(
                x=[_stamp(end) for _, _, end, _ in mine], y=[slot[t.number] for t, *_ in mine],
                mode="markers+text", name=word, showlegend=False,
                text=[f"{t.reports[-1][0]}" if t.reports else "" for t, *_ in mine],
                textposition="top center",
                textfont={"size": 10}, marker={"symbol": symbol, "size": 9, "color": "#1d2430"},
                hovertext=[f"trial {t.number} {word}" + (f" at step {t.reports[-1][0]}" if t.reports else "")
                           for t, *_ in mine], hoverinfo="text"))
    return fig

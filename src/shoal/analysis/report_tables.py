"""The report's trial table: one row per trial (number, state, why it ended, value or values,
duration, configuration), every cell escaped, sortable by a click on a header (a few lines of
inline script, so the file stays offline)."""

from __future__ import annotations

import html
import math
from typing import Any

from ..trial import Trial
from ._data import StudyData
from .ended import ended_notes

__all__ = ["SORT_SCRIPT", "trial_table"]

#: Click a header to sort by it (again to reverse); numbers by their ``data-v``, text as text.
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], dir = th.dataset.dir === "1" ? -1 : 1;
      table.querySelectorAll("th").forEach(function (h) { delete h.dataset.dir; });
      th.dataset.dir = String(dir);
      var key = function (row) {
        var cell = row.cells[col], v = cell.dataset.v;
        return v === undefined ? cell.textContent : (v === "" ? null : Number(v));
      };
      Array.from(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === y) return 0;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : 1) * dir;
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _num(value: Any) -> str:
    """A numeric cell: the shown number, and the exact one in ``data-v`` for sorting."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '<td data-v="">' + ("" if value is None else html.escape(str(value))) + "</td>"
    shown = f"{value:.6g}" if isinstance(value, float) else str(value)
    return f'<td class="num" data-v="{float(value)!r}">{html.escape(shown)}</td>'


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float)):
        return f"<td>{html.escape('' if value is None else str(value))}</td>"
    return _num(value)


def _row(t: Trial, objectives: list[str], keys: list[str], why: str) -> str:
    values = [t.values.get(n) for n in objectives] if len(objectives) > 1 else [t.value]
    state = t.state.value.lower() + (" (infeasible)" if t.feasible is False else "")
    return ("<tr>" + _num(t.number) + f"<td>{html.escape(state)}</td><td>{html.escape(why)}</td>"
            + "".join(_num(v) for v in values)
            + _num(None if t.duration is None else round(t.duration, 3))
            + "".join(_cell(t.config.get(k)) for k in keys) + "</tr>")


def trial_table(data: StudyData) -> str:
    """Every trial of ``data`` as an HTML table (``<table id="trials" class="sortable">``)."""
    if not data.trials:
        return ""
    objectives = list(data.goals.names) if data.goals.multi else ["value"]
    keys = list(dict.fromkeys([*data.space.names, *(k for t in data.trials for k in t.config)]))
    columns = ["#", "state", "why it ended", *objectives, "duration (s)", *keys]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in columns)
    why = ended_notes(data.trials, data.rungs, data.scheduler_text)
    body = "".join(_row(t, objectives, keys, why.get(t.number, ""))
                   for t in sorted(data.trials, key=lambda t: t.number))
    return (f'<p class="sub">{len(data.trials)} trials; click a header to sort.</p>'
            f'<div class="wide"><table id="trials" class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")

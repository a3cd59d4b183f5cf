"""One self-contained HTML file about a study: a summary, the importance ranking and every plot.

The summary names the best trial that meets the constraints; for a study with several objectives it
is a table of the Pareto front instead (``<table id="pareto-front">``), and the Pareto-front and
hypervolume plots join the others.

plotly.js is written into the file once, so the report opens with no network (e-mail it, archive
it). Each plot the study has data for (``plots.plots_for``) is a section ``<section
id="plot-KEY">``; those without data are named in one line with the reason, never drawn empty. One
that fails to draw says why in its section, and the rest of the report is still written. The
trials follow in a sortable table (``<section id="trials">``); every text from the study is
escaped.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._version import __version__
from ..direction import sign as direction_sign
from ..study.results import pareto_front
from ..trial import TrialState
from ._data import StudyData, as_study_data, completed
from .paused import paused_summary
from .plots import left_out, plots_for
from .report_tables import SORT_SCRIPT, trial_table

__all__ = ["render_report", "write_report"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
td, th { border-bottom: 1px solid #ddd; padding: 0.25rem 0.8rem; text-align: left; }
section { margin: 2rem 0; } nav a { margin-right: 0.8rem; }
.note { color: #a33; } .wide { overflow-x: auto; } td.num { font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; user-select: none; } th[data-dir="1"]::after { content: " \\25B2"; }
th[data-dir="-1"]::after { content: " \\25BC"; }
pre.user-note { white-space: pre-wrap; background: #f6f7f9; padding: 0.6rem 0.8rem; border-radius: 4px; }
"""


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise ImportError("shoal reports need plotly: pip install 'shoal[plot]'") from None
    return get_plotlyjs()


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in pairs)


def _summary(data: StudyData) -> str:
    counts: dict[str, int] = {}
    for t in data.trials:
        counts[t.state.value.lower()] = counts.get(t.state.value.lower(), 0) + 1
    done = completed(data.trials)
    goals = data.goals
    rows = [
        ("objectives" if goals.multi else "direction",
         goals.describe() if goals.multi or goals.constraints else data.direction),
        ("sampler", data.sampler_text),
        ("scheduler", data.scheduler_text or "none"),
        ("trials", f"{len(data.trials)} (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")"),
    ]
    out = f"<table>{_rows(rows)}</table>"
    paused = paused_summary(data.trials, data.rungs, most=len(data.trials))
    if paused:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in paused)
        out += f'<ul id="paused">{items}</ul>'
    if goals.multi:
        return out + _front_table(data)
    feasible = [t for t in done if t.feasible is not False]
    if feasible:
        sign = direction_sign(data.direction)
        best = min(feasible, key=lambda t: (sign * t.value, t.number))  # type: ignore[operator]
        met = " (meets the constraints)" if goals.constraints else ""
        out += f"<h3>Best: trial {best.number}, value {best.value:.6g}{met}</h3>"
        shown = [(k, f"{v:.6g}" if isinstance(v, float) else v) for k, v in best.config.items()]
        out += f"<table>{_rows(shown)}</table>"
    elif done:
        out += f'<p class="note">No completed trial meets the constraints yet ({len(done)} completed).</p>'
    return out


def _cell(value: Any) -> str:
    return html.escape(f"{value:.6g}" if isinstance(value, float) else str(value))


def _front_table(data: StudyData) -> str:
    """The Pareto front: one row per trial on it, its objectives' values and its configuration."""
    goals = data.goals
    front = pareto_front(goals, data.trials)
    if not front:
        return '<p class="note">No Pareto front yet: no completed trial meets the constraints.</p>'
    keys = list(dict.fromkeys(k for t in front for k in t.config))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["trial", *goals.names, *keys])
    body = "".join(
        "<tr>" + f"<td>{t.number}</td>"
        + "".join(f"<td>{_cell(t.values.get(n, ''))}</td>" for n in goals.names)
        + "".join(f"<td>{_cell(t.config.get(k, ''))}</td>" for k in keys) + "</tr>"
        for t in front
    )
    return (f"<h3>Pareto front: {len(front)} trials</h3>"
            f'<table id="pareto-front"><tr>{head}</tr>{body}</table>')


def _importance_table(data: StudyData) -> str:
    from .importance import MIN_TRIALS, importance

    if len([t for t in data.trials if t.state == TrialState.COMPLETE]) < MIN_TRIALS:
        return f"<p>Importance needs at least {MIN_TRIALS} completed trials.</p>"
    result = importance(data)
    rows = "".join(
        f"<tr><td>{rank}</td><td>{html.escape(name)}</td><td>{share:.1%}</td></tr>"
        for rank, (name, share) in enumerate(result.items(), 1)
    )
    return (f"<p>Ranking ({result.method}, {result.n_trials} completed trials):</p>"
            f"<table><tr><th>#</th><th>dimension</th><th>share</th></tr>{rows}</table>")


def notes_section(data: StudyData) -> str:
    """The people's Markdown notes on the study and its trials (``study.note``, ``trial.note``), as
    escaped text that keeps its lines; "" (no section) when there is none."""
    notes = [("Study", data.study_note)] if data.study_note else []
    notes += [(f"Trial {t.number}", t.note) for t in sorted(data.trials, key=lambda t: t.number) if t.note]
    return "".join(f'<h3>{html.escape(who)}</h3><pre class="user-note">{html.escape(text)}</pre>'
                   for who, text in notes)


def _plot_sections(data: StudyData) -> list[tuple[str, str, str]]:
    """``(key, title, html)`` of each plot the study has data for."""
    out = []
    for key, name, draw in plots_for(data):
        try:
            fig = draw(data)
            body = fig.to_html(  # the div as tall as the figure: a percentage of a section is nothing
                full_html=False, include_plotlyjs=False, div_id=f"figure-{key}",
                config={"displaylogo": False, "responsive": True},
                default_height=f"{fig.layout.height or 450}px",
            )
        except ImportError:
            raise
        except Exception as exc:  # noqa: BLE001 - one plot must not cost the whole report
            why = html.escape(f"{type(exc).__name__}: {exc}")
            body = f'<p class="note">could not draw this plot: {why}</p>'
        extra = _importance_table(data) if key == "importance" else ""
        out.append((f"plot-{key}", name, extra + body))
    return out


def render_report(study: Any) -> str:
    """The report of ``study`` (a ``Study`` or a ``StudyData``) as one HTML string."""
    data = as_study_data(study)
    title = f"shoal report: {data.name}"
    parts = [("summary", "Summary", _summary(data)), *_plot_sections(data),
             ("trials", "Trials", trial_table(data)), ("notes", "Notes", notes_section(data))]
    parts = [(key, name, body) for key, name, body in parts if body]  # no empty section
    nav = "".join(f'<a href="#{key}">{html.escape(name)}</a>' for key, name, _ in parts)
    missing = "; ".join(f"{html.escape(name)} ({html.escape(why)})" for name, why in left_out(data))
    if missing:
        nav += f'<p class="sub" id="left-out">Not shown, no data yet: {missing}.</p>'
    sections = "".join(f'<section id="{key}"><h2>{html.escape(name)}</h2>{body}</section>'
                       for key, name, body in parts)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script type=\"text/javascript\">{_plotly_js()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=\"sub\">made {made} by shoal {__version__}</p>"
        f"<nav>{nav}</nav>{sections}<script>{SORT_SCRIPT}</script></body></html>\n"
    )


#: the names a report may end in (any case): the two a browser opens as HTML
REPORT_SUFFIXES = (".html", ".htm")


def check_report_path(path: str | Path) -> Path:
    """``path`` as a ``Path`` when a report may be written there: it ends in ``.html`` or ``.htm``
    (any case) and its folder exists; else a ``ValueError`` saying which."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ValueError(f"report path must end in .html or .htm, got {str(path)!r}")
    if not path.parent.exists():
        raise ValueError(f"report path: folder {str(path.parent)!r} does not exist; create it first")
    return path


def write_report(study: Any, path: str | Path) -> Path:
    """Write the report of ``study`` to ``path`` (an ``.html`` or ``.htm`` file); returns the path."""
    path = check_report_path(path)
    text = render_report(study)
    path.write_text(text, encoding="utf-8")
    return path

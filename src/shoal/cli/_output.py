"""What the commands print: a rich console, tables, and values formatted for them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from ..trial import Trial, TrialState

STATES = [s.value for s in TrialState]


def new_console():
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=200)
    return console


def new_table(*columns: str, title: str | None = None):
    from rich.table import Table

    table = Table(title=title, title_justify="left", min_width=len(title) + 4 if title else None)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def esc(text: Any) -> str:
    from rich.markup import escape

    return escape(str(text))


def fmt(value: Any) -> str:
    """A value for a table: floats to 6 significant digits, everything else as written."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.3g}ms" if seconds < 1 else f"{seconds:.1f}s"


def error_line(error: str | None) -> str:
    """One line of an error: the last line of a traceback (the exception), else the first line."""
    if not error:
        return ""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].strip() if lines[0].startswith("Traceback") else lines[0].strip()


def counts_text(counts: dict[TrialState, int]) -> str:
    if not counts:
        return "none"
    ordered = sorted(counts.items(), key=lambda item: STATES.index(item[0].value))
    return ", ".join(f"{n} {state.value.lower()}" for state, n in ordered)


def count_states(trials: Iterable[Trial]) -> dict[TrialState, int]:
    counts: dict[TrialState, int] = {}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    return counts


def config_table(config: dict[str, Any], title: str):
    table = new_table("name", "value", title=title)
    for name, value in config.items():
        table.add_row(esc(name), esc(fmt(value)))
    return table


def feasible_text(feasible: bool | None) -> str:
    return "" if feasible is None else ("yes" if feasible else "no")


def trials_table(
    trials: Sequence[Trial],
    names: list[str],
    *,
    title: str,
    full: bool,
    metrics: Sequence[str] = (),
    notes: dict[int, str] | None = None,
):
    """Trials as a table: number, (state), value, a column per returned value and ``feasible`` (for a
    study with several objectives or constraints: ``metrics`` names them), the config, the duration;
    ``full`` adds state and error, ``notes`` (number -> text, e.g. why a trial is PAUSED) a note
    column when any of the trials has one; a device column comes when any trial ran on one."""
    judged = [*metrics, "feasible"] if metrics else []
    columns = ["#", "state", "value", *judged, *names, "duration"] if full else [
        "#", "value", *judged, *names, "duration"]
    on_devices = any(t.device is not None for t in trials)
    if on_devices:
        columns.append("device")
    if full:
        columns.append("error")
    noted = bool(notes) and any(t.number in notes for t in trials)  # type: ignore[operator]
    if noted:
        columns.append("note")
    table = new_table(*[esc(c) for c in columns], title=title)
    for t in trials:
        row = [str(t.number)]
        if full:
            row.append(t.state.value)
        row.append(fmt(t.value))
        if metrics:
            row.extend(fmt(t.values.get(m)) for m in metrics)
            row.append(feasible_text(t.feasible))
        row.extend(fmt(t.config.get(n)) for n in names)
        row.append(fmt_duration(t.duration))
        if on_devices:
            row.append(t.device or "")
        if full:
            row.append(error_line(t.error))
        if noted:
            row.append(notes.get(t.number, ""))  # type: ignore[union-attr]
        table.add_row(*[esc(c) for c in row])
    return table


def front_table(front: Sequence[Trial], metrics: Sequence[str], names: list[str], *, title: str):
    """A Pareto front: a row per trial with its returned values and configuration."""
    table = new_table(*[esc(c) for c in ["#", *metrics, *names]], title=title)
    for t in front:
        table.add_row(*[esc(c) for c in [str(t.number), *(fmt(t.values.get(m)) for m in metrics),
                                         *(fmt(t.config.get(n)) for n in names)]])
    return table

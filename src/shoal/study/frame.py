"""A study's trials as a pandas DataFrame (pandas is an extra, imported only here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..objectives import Objectives
from ..trial import Trial

__all__ = ["trials_frame", "value_names"]

_TAIL = ["round", "duration", "started_at", "finished_at", "error"]


def value_names(objectives: Objectives, trials: Iterable[Trial]) -> list[str]:
    """The names of the trials' returned values: the objectives, the constrained metrics, then the
    others in the order they first appear."""
    names = dict.fromkeys([*objectives.names, *(c.metric for c in objectives.constraints)])
    for trial in trials:
        names.update(dict.fromkeys(trial.values))
    return list(names)


def trials_frame(trials: Sequence[Trial], names: Sequence[str], objectives: Objectives | None = None):
    """One row per trial: number, state, value, a ``config_<name>`` column per dimension, ...; given the
    ``objectives`` of a study with several objectives or constraints, also a ``values_<name>`` column
    per returned value and ``feasible``."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_dataframe needs pandas: pip install 'shoal[pandas]'") from None
    returned = [] if objectives is None else value_names(objectives, trials)
    rows = []
    for t in trials:
        row: dict[str, Any] = {"number": t.number, "state": t.state.value, "value": t.value}
        if objectives is not None:
            row.update({f"values_{k}": t.values.get(k) for k in returned}, feasible=t.feasible)
        row.update({f"config_{k}": v for k, v in t.config.items()})
        row.update(
            round=t.round,
            duration=t.duration,
            started_at=t.started_at,
            finished_at=t.finished_at,
            error=t.error,
        )
        rows.append(row)
    judged = [] if objectives is None else [*(f"values_{k}" for k in returned), "feasible"]
    columns = ["number", "state", "value", *judged, *(f"config_{n}" for n in names), *_TAIL]
    return pd.DataFrame(rows, columns=columns)

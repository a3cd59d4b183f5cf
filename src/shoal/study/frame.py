"""A study's trials as a pandas DataFrame (pandas is an extra, imported only here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..trial import Trial

__all__ = ["trials_frame"]

_TAIL = ["round", "duration", "started_at", "finished_at", "error"]


def trials_frame(trials: Sequence[Trial], names: Sequence[str]):
    """One row per trial: number, state, value, a ``config_<name>`` column per dimension, ..."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_dataframe needs pandas: pip install 'shoal[pandas]'") from None
    rows = []
    for t in trials:
        row: dict[str, Any] = {"number": t.number, "state": t.state.value, "value": t.value}
        row.update({f"config_{k}": v for k, v in t.config.items()})
        row.update(
            round=t.round,
            duration=t.duration,
            started_at=t.started_at,
            finished_at=t.finished_at,
            error=t.error,
        )
        rows.append(row)
    columns = ["number", "state", "value", *(f"config_{n}" for n in names), *_TAIL]
    return pd.DataFrame(rows, columns=columns)

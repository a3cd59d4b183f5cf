"""Helpers shared by the storage backends."""

from __future__ import annotations

from collections.abc import Iterable

from ..trial import TrialState
from .base import StudyRecord, StudySummary

_MAXIMIZE = "maximize"


def summarize(
    record: StudyRecord, states_and_values: Iterable[tuple[TrialState, float | None]]
) -> StudySummary:
    """Count trials per state and find the best completed value."""
    counts: dict[TrialState, int] = {}
    best: float | None = None
    for state, value in states_and_values:
        counts[state] = counts.get(state, 0) + 1
        if state == TrialState.COMPLETE and value is not None:
            if best is None or (value > best if record.direction == _MAXIMIZE else value < best):
                best = value
    return StudySummary(record, counts, best)


def not_found_message(name: str, existing: Iterable[str]) -> str:
    known = ", ".join(repr(n) for n in sorted(existing)) or "none"
    return f"no study named {name!r} in this storage (studies: {known})"

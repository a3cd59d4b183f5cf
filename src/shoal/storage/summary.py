"""Helpers shared by the storage backends."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..trial import FailureKind, TrialState
from .base import StateConflict, StudyRecord, StudySummary

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


def refuse_finished(expected: TrialState, state: TrialState) -> None:
    """A finished trial never changes: no compare-and-set may start from a finished state."""
    if expected.finished:
        raise StateConflict(
            f"a {expected} trial is finished and never changes; not moved to {state}"
        )


def check_failure(state: TrialState, failure: FailureKind | None) -> FailureKind | None:
    """The failure kind to store with a move to ``state``: only a FAILED trial has one."""
    if failure is None:
        return None
    try:
        kind = FailureKind(failure)
    except ValueError:
        kinds = ", ".join(repr(k.value) for k in FailureKind)
        raise ValueError(f"failure must be a FailureKind ({kinds}), got {failure!r}") from None
    if state != TrialState.FAILED:
        raise ValueError(f"failure={kind.value!r} goes with a move to FAILED, not to {state}")
    return kind


def to_json(what: str, mapping: Mapping[str, Any]) -> str:
    """The stored JSON form of a config or unit dict; ``ValueError`` naming a value JSON cannot keep."""
    try:
        return json.dumps(mapping, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        for key, value in mapping.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(
                    f"{what}[{key!r}] is {value!r}; storage keeps finite numbers only"
                ) from None
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{what}[{key!r}] is {value!r} ({type(value).__name__}); storage keeps str, int, "
                    "float, bool and None"
                ) from None
        raise

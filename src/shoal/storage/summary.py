"""Helpers shared by the storage backends."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..records import CHANGE_SOURCES, check_note
from ..trial import FailureKind, Trial, TrialState
from .base import StateConflict, StudyRecord, StudySummary

_MAXIMIZE = "maximize"


def summarize(
    record: StudyRecord,
    states_and_values: Iterable[tuple[TrialState, float | None, bool | None]],
    last_activity: datetime | None = None,
) -> StudySummary:
    """Count trials per state (``(state, value, feasible)`` per trial) and find the best value of a
    completed trial that meets the constraints (none with several objectives). ``last_activity``
    defaults to the study's creation."""
    counts: dict[TrialState, int] = {}
    best: float | None = None
    several = record.objectives is not None and len(record.objectives.get("objectives", ())) > 1
    for state, value, feasible in states_and_values:
        counts[state] = counts.get(state, 0) + 1
        if state == TrialState.COMPLETE and value is not None and feasible is not False and not several:
            if best is None or (value > best if record.direction == _MAXIMIZE else value < best):
                best = value
    return StudySummary(record, counts, best, last_activity or record.created_at)


def not_found_message(name: str, existing: Iterable[str]) -> str:
    known = ", ".join(repr(n) for n in sorted(existing)) or "none"
    return f"no study named {name!r} in this storage (studies: {known})"


def refuse_finished(expected: TrialState, state: TrialState) -> None:
    """A finished trial never changes: no compare-and-set may start from a finished state."""
    if expected.finished:
        raise StateConflict(
            f"a {expected} trial is finished and never changes; not moved to {state}"
        )


def check_device(device: object) -> str:
    """A device name to store: a string of 1 to 255 characters."""
    if not isinstance(device, str) or not 1 <= len(device) <= 255:
        raise ValueError(f"device must be a string of 1 to 255 characters, e.g. 'cuda:0'; got {device!r}")
    return device


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


def check_values(
    state: TrialState, values: Mapping[str, float] | None, feasible: bool | None
) -> dict[str, float] | None:
    """The named values and feasibility to store with a move to ``state``, checked (``ValueError``
    naming what is wrong): only with a finished state, values with a feasibility, names of 1 to
    ``MAX_METRIC_NAME`` characters, finite numbers."""
    if feasible is not None and not isinstance(feasible, bool):
        raise ValueError(f"feasible must be True, False or None, got {feasible!r}")
    if values is None and feasible is None:
        return None
    if not state.finished:
        raise ValueError(f"values and feasible go with a move to a finished state, not to {state}")
    if values is None:
        return None
    if feasible is None:
        raise ValueError("values go with feasible=True or False (whether they meet the constraints)")
    if not isinstance(values, Mapping):
        raise ValueError(f"values must map names to numbers, got {values!r}")
    checked: dict[str, float] = {}
    for name, value in values.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_METRIC_NAME:
            raise ValueError(
                f"a value's name must be a string of 1 to {MAX_METRIC_NAME} characters, got {name!r}"
            )
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"values[{name!r}] must be a finite number, got {value!r}")
        checked[name] = float(value)
    return checked


#: The longest dimension name a round box keeps (the SQL column's width).
MAX_DIMENSION_NAME = 255
#: The longest name of a returned value a trial keeps (the SQL column's width).
MAX_METRIC_NAME = 255


def check_box(
    round: int, box: Mapping[str, tuple[float, float]]
) -> tuple[int, dict[str, tuple[float, float]]]:
    """A round and its box as stored (dimensions by name, bounds as floats); ``ValueError`` naming
    what is wrong with them."""
    if isinstance(round, bool) or not isinstance(round, numbers.Integral) or round < 0:
        raise ValueError(f"round must be an int >= 0, got {round!r}")
    if not isinstance(box, Mapping) or not box:
        raise ValueError(f"round {round}: the box must map dimension names to (low, high), got {box!r}")
    checked: dict[str, tuple[float, float]] = {}
    for name, bounds in box.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_DIMENSION_NAME:
            raise ValueError(
                f"round {round}: a dimension name must be a string of 1 to {MAX_DIMENSION_NAME} "
                f"characters, got {name!r}"
            )
        try:
            low, high = bounds
        except (TypeError, ValueError):
            raise ValueError(f"round {round}: box[{name!r}] must be (low, high), got {bounds!r}") from None
        if not all(isinstance(b, numbers.Real) and not isinstance(b, bool) for b in (low, high)) or not (
            0.0 <= low <= high <= 1.0
        ):
            raise ValueError(
                f"round {round}: box[{name!r}] must be numbers with 0 <= low <= high <= 1 (the unit "
                f"cube), got {bounds!r}"
            )
        checked[name] = (float(low), float(high))
    return int(round), dict(sorted(checked.items()))


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


def check_imported(trial: Trial) -> Trial:
    """A trial ``import_trial`` may store, normalized (state and failure typed, reports as (int,
    float), values checked); ``ValueError`` naming what is wrong, before anything is written."""
    try:
        state = TrialState(trial.state)
    except ValueError:
        raise ValueError(f"import_trial: state must be a TrialState, got {trial.state!r}") from None
    failure = check_failure(state, trial.failure)
    if trial.value is not None and not _finite(trial.value):
        raise ValueError(f"import_trial: value must be a finite number or None, got {trial.value!r}")
    values = check_values(state, dict(trial.values) or None, trial.feasible)
    to_json("config", trial.config)
    to_json("unit", trial.unit)
    reports: dict[int, float] = {}
    for report in trial.reports:
        try:
            step, value = report
        except (TypeError, ValueError):
            raise ValueError(f"import_trial: a report is (step, value), got {report!r}") from None
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"import_trial: a report's step must be an int >= 0, got {step!r}")
        if not _finite(value):
            raise ValueError(f"import_trial: report at step {step}: value must be a finite number, "
                             f"got {value!r}")
        reports[int(step)] = float(value)
    for change in trial.changes:
        if change.kind not in ("tweak", "fork") or change.source not in CHANGE_SOURCES:
            raise ValueError(
                f"import_trial: change of {change.name!r}: kind must be 'tweak' or 'fork' and source one of "
                f"{', '.join(CHANGE_SOURCES)}, got {change.kind!r} and {change.source!r}"
            )
        to_json("change", {"old": change.old, "new": change.new})
    note = None if trial.note is None else check_note(trial.note)
    return dataclasses.replace(
        trial, state=state, failure=failure, value=None if trial.value is None else float(trial.value),
        values=values or {}, reports=sorted(reports.items()), note=note if note and note.strip() else None,
    )


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def check_fill(stored: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """``fill_config`` only adds: ``ValueError`` naming a stored value ``config`` drops or changes."""
    for name, value in stored.items():
        if name not in config or to_json("config", {name: config[name]}) != to_json("config", {name: value}):
            raise ValueError(
                f"fill_config: the stored config sets {name!r} to {value!r}; a filled config keeps it "
                f"(got {config.get(name, '<missing>')!r}) and only adds the missing values"
            )
    to_json("config", config)

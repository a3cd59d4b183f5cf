"""The SQL storage's hot path: prebuilt statements for one ask and one tell, and rows read back as
trials."""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from ..records import ConfigChange
from ..trial import FailureKind, Trial, TrialState
from .sql_schema import trials

_TRIAL_COLUMNS = [c for c in trials.c if c.name != "driver_id"]
_TRIAL_FIELDS = ", ".join(c.name for c in _TRIAL_COLUMNS)

# The hot path (one ask and one tell per trial) runs prebuilt statements: building SQLAlchemy
# expressions anew on every call costs more than SQLite itself. On SQLite they go straight to the
# driver's connection (the same named-parameter SQL); elsewhere through SQLAlchemy text().
_TrialRow = namedtuple("_TrialRow", [c.name for c in _TRIAL_COLUMNS])  # type: ignore[misc]

_INSERT_SQL = (
    "INSERT INTO shoal_trials (study_id, number, state, config, unit, round, claim, requeued_from, "
    "driver_id, created_at, started_at, proposed_by) "
    "SELECT :study_id, COALESCE(MAX(number), -1) + 1, :state, :config, :unit, :round, :claim, "
    ":requeued_from, :driver_id, :created_at, :started_at, :proposed_by FROM shoal_trials "
    "WHERE study_id = :study_id "
    "RETURNING trial_id, number"
)
_FINISH_SQL = (
    "UPDATE shoal_trials SET state = :state, value = :value, error = :error, failure = :failure, "
    "feasible = :feasible, finished_at = :now "
    f"WHERE trial_id = :trial_id AND state = :expected RETURNING {_TRIAL_FIELDS}"
)
_RESTART_SQL = (
    "UPDATE shoal_trials SET state = :state, started_at = COALESCE(started_at, :now) "
    f"WHERE trial_id = :trial_id AND state = :expected RETURNING {_TRIAL_FIELDS}"
)
_MOVE_SQL = (
    "UPDATE shoal_trials SET state = :state "
    f"WHERE trial_id = :trial_id AND state = :expected RETURNING {_TRIAL_FIELDS}"
)
_NEW_TRIALS_SQL = (
    f"SELECT {_TRIAL_FIELDS} FROM shoal_trials WHERE study_id = :study_id AND number > :after "
    "ORDER BY number"
)
_PAUSED_SQL = "SELECT paused FROM shoal_studies WHERE study_id = :study_id"
_METRIC_SQL = "INSERT INTO shoal_metrics (trial_id, name, value) VALUES (:trial_id, :name, :value)"
_STATEMENTS = {
    sql: sa.text(sql)
    for sql in (_INSERT_SQL, _FINISH_SQL, _RESTART_SQL, _MOVE_SQL, _NEW_TRIALS_SQL, _PAUSED_SQL, _METRIC_SQL)
}
_REPORTS_OF = sa.text(
    "SELECT trial_id, step, value FROM shoal_reports WHERE trial_id IN :ids ORDER BY step"
).bindparams(sa.bindparam("ids", expanding=True))
_METRICS_OF = sa.text(
    "SELECT trial_id, name, value FROM shoal_metrics WHERE trial_id IN :ids ORDER BY name"
).bindparams(sa.bindparam("ids", expanding=True))

_CHANGES_OF = sa.text(
    "SELECT trial_id, name, old_value, new_value, source, step, kind, created_at FROM shoal_changes "
    "WHERE trial_id IN :ids ORDER BY change_id"
).bindparams(sa.bindparam("ids", expanding=True))

_NOTES_OF = sa.text(
    "SELECT trial_id, text, updated_at FROM shoal_notes WHERE trial_id IN :ids ORDER BY note_id"
).bindparams(sa.bindparam("ids", expanding=True))

#: ``rows_of(query, ids)`` runs ``_REPORTS_OF`` or ``_METRICS_OF`` for some trial ids.
RowsOf = Callable[[Any, list[int]], Iterable[tuple[int, Any, float]]]


def needs_details(row: Any) -> bool:
    """Whether a trial row has rows elsewhere to read: reports, or values (a judged feasibility)."""
    return bool(row.n_reports) or row.feasible is not None or bool(row.n_changes) or bool(row.has_note)


def _build_trials(rows: list[Any], rows_of: RowsOf | None = None) -> list[Trial]:
    """Trials from rows with attribute access; ``rows_of(query, ids)`` yields (trial_id, key, value)
    of their reports and values (None: the rows have neither)."""
    reports: dict[int, list[tuple[int, float]]] = {}
    values: dict[int, dict[str, float]] = {}
    changes: dict[int, list[Any]] = {}
    notes: dict[int, str] = {}
    if rows_of is not None:
        for trial_id, step, value in _fetch(rows_of, _REPORTS_OF, [r.trial_id for r in rows if r.n_reports]):
            reports.setdefault(trial_id, []).append((step, value))
        judged = [r.trial_id for r in rows if r.feasible is not None]
        for trial_id, name, value in _fetch(rows_of, _METRICS_OF, judged):
            values.setdefault(trial_id, {})[name] = value
        for trial_id, *change in _fetch(rows_of, _CHANGES_OF, [r.trial_id for r in rows if r.n_changes]):
            changes.setdefault(trial_id, []).append(change)
        for trial_id, text, _ in _fetch(rows_of, _NOTES_OF, [r.trial_id for r in rows if r.has_note]):
            notes[trial_id] = text  # the latest row wins
    return [
        Trial(
            number=row.number,
            state=TrialState(row.state),
            config=json.loads(row.config),
            unit=json.loads(row.unit),
            value=row.value,
            error=row.error,
            reports=reports.get(row.trial_id, []),
            round=row.round,
            claim=row.claim,
            requeued_from=row.requeued_from,
            created_at=_stamp(row.created_at),
            started_at=_stamp(row.started_at),
            finished_at=_stamp(row.finished_at),
            trial_id=row.trial_id,
            stop_requested=bool(row.stop_requested),
            proposed_by=row.proposed_by,
            failure=None if row.failure is None else FailureKind(row.failure),
            values=values.get(row.trial_id, {}),
            feasible=None if row.feasible is None else bool(row.feasible),
            changes=[change_from_row(row.number, *c) for c in changes.get(row.trial_id, [])],
            device=row.device,
            note=notes.get(row.trial_id),
        )
        for row in rows
    ]


def change_from_row(
    number: int, name: str, old: str, new: str, source: str, step: int | None, kind: str, created: float
) -> ConfigChange:
    """A ``ConfigChange`` from a ``shoal_changes`` row of trial ``number``."""
    return ConfigChange(number, name, json.loads(old), json.loads(new), source, step, kind, _stamp(created))


def change_row(trial_id: int, study_id: int, change: ConfigChange, now: float) -> dict[str, Any]:
    """The ``shoal_changes`` row of one change."""
    return {"trial_id": trial_id, "study_id": study_id, "step": change.step, "name": change.name,
            "old_value": _dumps(change.old), "new_value": _dumps(change.new), "source": change.source,
            "kind": change.kind, "created_at": now}


def _fetch(rows_of: RowsOf, query: Any, ids: list[int]) -> Iterator[tuple[int, Any, float]]:
    for start in range(0, len(ids), 500):  # a bounded IN list per query
        yield from rows_of(query, ids[start : start + 500])


def _stamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)

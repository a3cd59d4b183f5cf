"""What the dashboard reads: studies and their trials, kept incrementally, without write locks.

Each poll reads only the trials created since the last look plus the ones still active (the pattern
drivers use), so a page open on a study of thousands of trials costs a few rows per second. Reads
are single statements or short read transactions: on SQLite (WAL) they never block a writer.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Iterable
from typing import Any

from ..analysis.ended import ended_notes
from ..analysis.paused import paused_notes
from ..direction import better
from ..errors import ApiError  # noqa: F401 - defined in shoal.errors
from ..storage import Storage, StudyRecord, StudySummary
from ..trial import Trial, TrialState

__all__ = [
    "ApiError", "TrialWatch", "count_and_best", "study_json", "summary_json", "trial_row", "trial_detail",
]

#: Polls closer together than this (several open pages) share one read of storage.
MIN_READ_INTERVAL = 0.25



def _iso(trial_time: Any) -> str | None:
    return None if trial_time is None else trial_time.isoformat()


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def summary_json(summary: StudySummary) -> dict[str, Any]:
    """One line of the study list."""
    record = summary.record
    return {
        "name": record.name,
        "direction": record.direction,
        "sampler": record.sampler,
        "scheduler": record.scheduler,
        "created_at": _iso(record.created_at),
        "paused": record.paused,
        "n_trials": summary.n_trials,
        "counts": {state.value: n for state, n in summary.counts.items()},
        "best_value": _finite(summary.best_value),
    }


def count_and_best(direction: str, rows: Iterable[dict[str, Any]]) -> tuple[dict[str, int], float | None]:
    """Trials per state and the best completed value of table rows."""
    counts: dict[str, int] = {}
    best: float | None = None
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
        value = row["value"]
        if row["state"] == TrialState.COMPLETE.value and value is not None:
            if best is None or better(value, best, direction):
                best = value
    return counts, best


def study_json(record: StudyRecord, counts: dict[str, int], best: float | None) -> dict[str, Any]:
    """A study's header: its record, trial counts per state and best value."""
    return {
        "name": record.name,
        "direction": record.direction,
        "sampler": record.sampler,
        "scheduler": record.scheduler,
        "space": record.space,
        "objectives": record.objectives,
        "created_at": _iso(record.created_at),
        "paused": record.paused,
        "n_trials": sum(counts.values()),
        "counts": counts,
        "best_value": best,
    }


def trial_row(trial: Trial, note: str | None = None, ended: str | None = None) -> dict[str, Any]:
    """A trial as the table shows it (no reports: the detail view fetches those). ``note``: why it
    is in its state, in words (a PAUSED trial: the rung it waits at; see ``shoal.analysis.paused``);
    ``ended``: why it ended (``shoal.analysis.ended``); ``has_note``: whether a person wrote a note."""
    error = (trial.error or "").strip().splitlines()
    return {
        "number": trial.number,
        "state": trial.state.value,
        "value": _finite(trial.value),
        "values": {k: _finite(v) for k, v in trial.values.items()},
        "feasible": trial.feasible,
        "config": trial.config,
        "duration": trial.duration,
        "started_at": _iso(trial.started_at),
        "finished_at": _iso(trial.finished_at),
        "n_reports": len(trial.reports),
        "last_report": list(trial.reports[-1]) if trial.reports else None,
        "requeued_from": trial.requeued_from,
        "stop_requested": trial.stop_requested,
        "error": error[-1] if error else None,
        "note": note,
        "device": trial.device,
        "has_note": trial.note is not None,
        "ended": ended,
    }


def trial_detail(trial: Trial, trials: dict[int, Trial], note: str | None = None) -> dict[str, Any]:
    """A trial with its reports, full error, ``note`` (as in ``trial_row``), lineage (the attempts
    it repeats and its repeats) and hyperparameter schedule: ``changes`` (tweaks with the step they
    took effect at, None while pending; a fork's changes against its parent), ``schedule``,
    ``current_config``, ``pending_changes`` and ``excluded_from_models`` (why models skip it)."""
    out = trial.to_dict()
    out["value"] = _finite(trial.value)
    out["values"] = {k: _finite(v) for k, v in trial.values.items()}
    out["note"] = note
    out["current_config"] = trial.current_config
    out["pending_changes"] = trial.pending_changes
    out["excluded_from_models"] = trial.excluded_from_models
    ancestors: list[int] = []
    seen = trial
    while seen.requeued_from is not None and seen.requeued_from not in ancestors:
        ancestors.append(seen.requeued_from)
        if seen.requeued_from not in trials:
            break
        seen = trials[seen.requeued_from]
    out["lineage"] = {
        "repeats": ancestors,  # the attempt it repeats, that one's, ... (oldest last)
        "repeated_by": sorted(n for n, t in trials.items() if t.requeued_from == trial.number),
    }
    return out


class TrialWatch:
    """One study's trials as last read, with a revision number per change for incremental polls."""

    def __init__(self, storage: Storage, record: StudyRecord) -> None:
        self.storage = storage
        self.record = record
        self.trials: dict[int, Trial] = {}
        self._rows: dict[int, dict[str, Any]] = {}
        self._revs: dict[int, int] = {}
        self.rev = 0
        self._last_seen = -1
        self._read_at = -math.inf
        self._lock = threading.Lock()
        self._active: set[int] = set()
        #: Why each PAUSED trial is paused, with the number of reports it had then (a trial promoted
        #: and paused again between two reads has more: its rung may have changed).
        self._notes: dict[int, tuple[int, str]] = {}
        self._stats: tuple[int, dict[str, int], float | None] = (-1, {}, None)
        #: Why each finished (or PAUSED) trial ended, in words (finished trials are read once).
        self._ended: dict[int, str] = {}
        #: The trials' notes as last read (``_sync_notes``).
        self._trial_notes: dict[int | None, str] = {}

    def refresh(self) -> None:
        """Read new trials and the active ones again (at most every ``MIN_READ_INTERVAL`` seconds)."""
        with self._lock:
            if time.monotonic() - self._read_at < MIN_READ_INTERVAL:
                return
            read = self.storage.read_trials(
                self.record.study_id, after=self._last_seen, numbers=sorted(self._active)
            )
            self._note_paused(read)
            for trial in read:
                self.trials[trial.number] = trial
                if trial.state.finished:  # finished trials never change: not read again
                    self._active.discard(trial.number)
                else:
                    self._active.add(trial.number)
                self._last_seen = max(self._last_seen, trial.number)
                row = trial_row(trial, self._note(trial.number), self._ended.get(trial.number))
                if self._rows.get(trial.number) != row:
                    self.rev += 1
                    self._rows[trial.number] = row
                    self._revs[trial.number] = self.rev
            self._sync_notes()
            self._read_at = time.monotonic()

    def _sync_notes(self) -> None:
        """Pick up notes set elsewhere (``study.note(..., trial=n)`` in another process) on trials
        that are not read again: one small query on the notes table, and only rows whose note
        changed get a new revision."""
        now = {n.trial_number: n.text for n in self.storage.read_notes(self.record.study_id)
               if n.trial_number is not None}
        for number in set(now) | set(self._trial_notes):
            trial = self.trials.get(number)
            if trial is None or trial.note == now.get(number):
                continue
            trial = self.trials[number] = dataclasses.replace(trial, note=now.get(number))
            self.rev += 1
            self._rows[number] = trial_row(trial, self._note(number), self._ended.get(number))
            self._revs[number] = self.rev
        self._trial_notes = now

    def _note_paused(self, read: list[Trial]) -> None:
        """Notes for the trials that became PAUSED: rung records are read only when one did (a
        paused trial reaches no new rung, so its note holds until it runs again)."""
        new = []
        for trial in read:
            if trial.state != TrialState.PAUSED:
                self._notes.pop(trial.number, None)
            elif self._notes.get(trial.number, (-1, ""))[0] != len(trial.reports):
                new.append(trial)
        # why trials ended: rung records are read only for a new PRUNED trial of a study with a scheduler
        ended = [t for t in read if t.state.finished and t.number not in self._ended]
        pruned = self.record.scheduler is not None and any(t.state == TrialState.PRUNED for t in ended)
        rungs = self.storage.read_rungs(self.record.study_id) if new or pruned else []
        if new:
            notes = paused_notes(new, rungs)
            self._notes.update((t.number, (len(t.reports), notes[t.number])) for t in new)
        self._ended.update(ended_notes(ended, rungs, self.record.scheduler))
        for trial in read:
            if trial.number in self._notes:  # PAUSED: the rung it waits at
                self._ended[trial.number] = self._notes[trial.number][1]
            elif not trial.state.finished:
                self._ended.pop(trial.number, None)

    def _note(self, number: int) -> str | None:
        kept = self._notes.get(number)
        return None if kept is None else kept[1]

    def note(self, number: int) -> str | None:
        """Why trial ``number`` is in its state (as the table has it), or None."""
        with self._lock:
            return self._note(number)

    def noted(self, number: int, text: str | None) -> None:
        """A note set through the dashboard: its row changes now (finished trials are not read again)."""
        with self._lock:
            trial = self.trials.get(number)
            if trial is None:
                return
            trial = self.trials[number] = dataclasses.replace(trial, note=text)
            self.rev += 1
            self._rows[number] = trial_row(trial, self._note(number), self._ended.get(number))
            self._revs[number] = self.rev

    def ended(self, number: int) -> str | None:
        """Why trial ``number`` ended (as the table has it), or None."""
        with self._lock:
            return self._ended.get(number)

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = -math.inf

    def stats(self) -> tuple[dict[str, int], float | None]:
        """Trials per state and the best value, counted again only after a change."""
        with self._lock:
            if self._stats[0] != self.rev:
                self._stats = (self.rev, *count_and_best(self.record.direction, self._rows.values()))
            return self._stats[1], self._stats[2]

    def changed_since(self, rev: int) -> tuple[int, list[dict[str, Any]]]:
        """The current revision and the rows that changed after revision ``rev``, by number."""
        with self._lock:
            if rev > self.rev:  # a page that watched an earlier dashboard: send everything
                rev = -1
            changed = sorted(n for n, r in self._revs.items() if r > rev)
            return self.rev, [self._rows[n] for n in changed]

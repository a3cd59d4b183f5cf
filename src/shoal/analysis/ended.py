"""Why a trial ended, in words: one wording for the dashboard (a table column and the trial's page)
and the report.

- COMPLETE: ``completed`` (``completed, infeasible: misses a constraint`` when it does);
- PRUNED: ``pruned at step 4 by ASHA at rung 1`` (the scheduler the study records, the highest rung
  the trial reached), ``stopped by a person at step 4`` after a stop request;
- PAUSED: ``paused at rung 1, not promoted; ...`` (see ``shoal.analysis.paused``);
- FAILED: ``failed: ValueError: lr too high`` (the error's line that names it: the last line of a
  traceback, else its first line), or why the run was lost (worker died, timeout, checkpoint);
- STALE: ``stale: its driver stopped sending heartbeats while it ran``.

Light on purpose (no plotting, no numeric libraries): the dashboard imports it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..records import RungRecord
from ..trial import FailureKind, Trial, TrialState
from .paused import paused_note

__all__ = ["ended_note", "ended_notes", "error_line", "scheduler_name"]

_LOST = {
    FailureKind.WORKER_DIED: "its worker died",
    FailureKind.TIMEOUT: "it ran past timeout_per_trial",
    FailureKind.CHECKPOINT: "the checkpoint it had to start from was missing or corrupt",
}


def error_line(error: str | None) -> str:
    """The line of an error that names it: the last line of a traceback, else the first line."""
    lines = [line.strip() for line in (error or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]


def scheduler_name(description: str | None) -> str | None:
    """``"ASHA(min_resource=1, ...)"`` -> ``"ASHA"``; None stays None."""
    return None if not description else description.split("(", 1)[0].strip() or description


def ended_note(trial: Trial, rungs: Iterable[RungRecord] = (), scheduler: str | None = None) -> str | None:
    """Why ``trial`` is in its finished (or PAUSED) state; None while it is QUEUED or RUNNING.

    ``rungs``: rung records (the study's or the trial's own); ``scheduler``: the study's stored
    scheduler description (``StudyRecord.scheduler``)."""
    state = trial.state
    if state == TrialState.COMPLETE:
        return "completed, infeasible: misses a constraint" if trial.feasible is False else "completed"
    if state == TrialState.PAUSED:
        return paused_note(trial, rungs)
    if state == TrialState.PRUNED:
        at = f" at step {trial.reports[-1][0]}" if trial.reports else ""
        if trial.stop_requested:
            return f"stopped by a person{at}"
        rung = max((r.rung for r in rungs if r.trial_number == trial.number), default=None)
        name = scheduler_name(scheduler)
        by = f" by {name}" if name else ""
        return f"pruned{at}{by}" + ("" if rung is None else f" at rung {rung}")
    if state == TrialState.FAILED:
        line = error_line(trial.error)
        lost = _LOST.get(trial.failure) if trial.failure is not None else None
        if lost:
            return f"failed: {lost}" + (f" ({line})" if line else "")
        return f"failed: {line}" if line else "failed"
    if state == TrialState.STALE:
        return "stale: its driver stopped sending heartbeats while it ran (it may run again as a new trial)"
    return None


def ended_notes(
    trials: Iterable[Trial], rungs: Iterable[RungRecord], scheduler: str | None
) -> dict[int, str]:
    """``{number: note}`` for the trials among ``trials`` that ended or wait PAUSED (rungs read once)."""
    mine: dict[int, list[RungRecord]] = {}
    for record in rungs:
        mine.setdefault(record.trial_number, []).append(record)
    out = {}
    for trial in trials:
        note = ended_note(trial, mine.get(trial.number, ()), scheduler)
        if note is not None:
            out[trial.number] = note
    return out

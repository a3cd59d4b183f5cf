"""What a PAUSED trial means, in words: one wording for the CLI, the dashboard and the report.

A successive-halving scheduler in promote mode (``ASHA(..., mode="promote")``, Hyperband) pauses a
trial that does not rank high enough at a rung, and promotes it later only if it comes to rank in
the top 1/eta there. When ``optimize`` returns, most trials are usually still PAUSED: not stuck,
just never promoted. The rung comes from the study's rung records (``Storage.read_rungs``): the
highest rung the trial reached.

Light on purpose (no plotting, no numeric libraries): the CLI and the dashboard import it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..records import RungRecord
from ..trial import Trial, TrialState

__all__ = ["paused_rung", "paused_note", "paused_notes", "paused_summary"]

#: The explanation of a PAUSED trial, with the highest rung it reached.
AT_RUNG = "paused at rung {rung}, not promoted; a later optimize may promote it"
#: The same for a PAUSED trial with no rung record (a scheduler that pauses without rungs).
NO_RUNG = "paused, not promoted; a later optimize may promote it"


def paused_rung(trial: Trial, rungs: Iterable[RungRecord]) -> int | None:
    """The highest rung ``trial`` reached, from rung records (the study's, or only its own)."""
    return max((r.rung for r in rungs if r.trial_number == trial.number), default=None)


def paused_note(trial: Trial, rungs: Iterable[RungRecord]) -> str | None:
    """Why ``trial`` is PAUSED, as a person reads it; None for a trial in any other state.

    ``paused_note(trial, storage.read_rungs(study_id))`` ->
    ``"paused at rung 1, not promoted; a later optimize may promote it"``.
    """
    if trial.state != TrialState.PAUSED:
        return None
    rung = paused_rung(trial, rungs)
    return NO_RUNG if rung is None else AT_RUNG.format(rung=rung)


def _by_trial(rungs: Iterable[RungRecord]) -> dict[int, list[RungRecord]]:
    mine: dict[int, list[RungRecord]] = {}
    for record in rungs:
        mine.setdefault(record.trial_number, []).append(record)
    return mine


def paused_notes(trials: Iterable[Trial], rungs: Iterable[RungRecord]) -> dict[int, str]:
    """``{number: note}`` for the PAUSED trials among ``trials`` (the rung records read once)."""
    paused = [t for t in trials if t.state == TrialState.PAUSED]
    mine = _by_trial(rungs) if paused else {}
    return {t.number: paused_note(t, mine.get(t.number, ())) or NO_RUNG for t in paused}


def paused_summary(trials: Iterable[Trial], rungs: Iterable[RungRecord], *, most: int = 30) -> list[str]:
    """The notes of the PAUSED trials, a line per rung (lowest first), naming the trials:
    ``["trials 1, 4, 7: paused at rung 0, not promoted; a later optimize may promote it", ...]``.

    At most ``most`` trial numbers are named on a line; the rest are counted.
    """
    paused = sorted((t for t in trials if t.state == TrialState.PAUSED), key=lambda t: t.number)
    mine = _by_trial(rungs) if paused else {}
    groups: dict[int | None, list[int]] = {}
    for trial in paused:
        groups.setdefault(paused_rung(trial, mine.get(trial.number, ())), []).append(trial.number)
    lines = []
    for rung in sorted(groups, key=lambda r: (r is None, r or 0)):
        numbers = groups[rung]
        named = ", ".join(str(n) for n in numbers[:most])
        if len(numbers) > most:
            named += f" and {len(numbers) - most} more"
        note = NO_RUNG if rung is None else AT_RUNG.format(rung=rung)
        lines.append(f"{'trial' if len(numbers) == 1 else 'trials'} {named}: {note}")
    return lines

"""A driver's local view of a study's trials, kept incrementally so each ``ask`` costs O(active).

Several drivers share a study, so another driver's trial can have a lower number than this driver's
newest one. Trial numbers are dense (storage hands out the next number, committed in order), so the
log knows exactly which numbers below the newest it has not seen yet and reads those by number,
together with the trials above the newest and the unfinished trials whose state may have changed.
"""

from __future__ import annotations

from ..trial import Trial, TrialState

__all__ = ["TrialLog"]


class TrialLog:
    """Trials by number, split into finished ones (in the order they finished) and active ones."""

    def __init__(self) -> None:
        self.by_number: dict[int, Trial] = {}
        self.finished: list[Trial] = []
        self.active: dict[int, Trial] = {}
        #: trials this driver runs right now (their state changes only through this driver)
        self.mine: set[int] = set()
        #: numbers below ``last_seen`` not read yet (other drivers' trials created in between)
        self.missing: set[int] = set()
        self.last_seen = -1

    def put(self, trial: Trial) -> None:
        """Record the newest known state of a trial."""
        number = trial.number
        previous = self.by_number.get(number)
        self.by_number[number] = trial
        if number > self.last_seen + 1:
            self.missing.update(range(self.last_seen + 1, number))
        self.missing.discard(number)
        self.last_seen = max(self.last_seen, number)
        if trial.state != TrialState.RUNNING:
            self.mine.discard(number)
        if trial.state.finished:
            self.active.pop(number, None)
            if previous is None or not previous.state.finished:
                self.finished.append(trial)
        else:
            self.active[number] = trial

    def watched(self) -> list[int]:
        """Numbers to read again besides those above ``last_seen``: trials not seen yet, and active
        trials this driver is not running (another driver may have moved them)."""
        return [*self.missing, *(n for n in self.active if n not in self.mine)]

    def has_queued(self) -> bool:
        return any(t.state == TrialState.QUEUED for t in self.active.values())

    def ordered(self) -> list[Trial]:
        return [self.by_number[n] for n in sorted(self.by_number)]

    def __len__(self) -> int:
        return len(self.by_number)


def modelled(finished: list[Trial]) -> tuple[list[Trial], list[Trial]]:
    """The finished trials samplers learn from, and those they leave out: a value that does not
    belong to one config (tweaked while it trained, or forked; ``Trial.excluded_from_models``)."""
    if not any(t.changes for t in finished):
        return finished, []
    kept = [t for t in finished if t.excluded_from_models is None]
    return kept, [t for t in finished if t.excluded_from_models is not None]

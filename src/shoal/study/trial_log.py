"""A driver's local view of a study's trials, kept incrementally so each ``ask`` costs O(active)."""

from __future__ import annotations

from ..trial import Trial, TrialState

__all__ = ["TrialLog"]


class TrialLog:
    """Trials by number, split into finished ones (in the order they finished) and active ones."""

    def __init__(self) -> None:
        self.by_number: dict[int, Trial] = {}
        self.finished: list[Trial] = []
        self.active: dict[int, Trial] = {}
        self.mine: set[int] = set()
        self.last_seen = -1

    def put(self, trial: Trial) -> None:
        """Record the newest known state of a trial."""
        previous = self.by_number.get(trial.number)
        self.by_number[trial.number] = trial
        self.last_seen = max(self.last_seen, trial.number)
        if trial.state.finished:
            self.active.pop(trial.number, None)
            self.mine.discard(trial.number)
            if previous is None or not previous.state.finished:
                self.finished.append(trial)
        else:
            self.active[trial.number] = trial

    def watched(self) -> list[int]:
        """Active trials run by other drivers: their state may have changed since the last look."""
        return [n for n in self.active if n not in self.mine]

    def has_queued(self) -> bool:
        return any(t.state == TrialState.QUEUED for t in self.active.values())

    def ordered(self) -> list[Trial]:
        return [self.by_number[n] for n in sorted(self.by_number)]

    def __len__(self) -> int:
        return len(self.by_number)


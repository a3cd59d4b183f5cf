"""Median stopping: stop a trial whose best value so far is worse than the median of the others."""

from __future__ import annotations

import statistics

from ..trial import Trial, TrialState
from .base import Decision, Scheduler, SchedulerContext

__all__ = ["MedianStopping"]


class MedianStopping(Scheduler):
    """Stop a trial at step s when its best value up to s is worse than the median of the values
    other trials reported at step s.

    ``n_startup`` (5): no stopping until that many trials have finished (COMPLETE or PRUNED);
    ``n_warmup`` (0): no stopping at steps below it; ``min_others`` (1): how many other trials must
    have a value at step s. Other trials count whatever their state (running ones too), except FAILED
    and STALE ones.
    """

    def __init__(self, n_startup: int = 5, n_warmup: int = 0, *, min_others: int = 1) -> None:
        super().__init__(None)
        for name, value, least in (("n_startup", n_startup, 0), ("n_warmup", n_warmup, 0),
                                   ("min_others", min_others, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"MedianStopping: {name} must be an int >= {least}, got {value!r}")
        self.n_startup = n_startup
        self.n_warmup = n_warmup
        self.min_others = min_others

    def decide(self, context: SchedulerContext, trial: Trial, step: int, value: float) -> Decision:
        if step < self.n_warmup:
            return Decision.CONTINUE
        done = sum(1 for t in context.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED))
        if done < self.n_startup:
            return Decision.CONTINUE
        others = [
            v
            for t in context.trials
            if t.number != trial.number and t.state not in (TrialState.FAILED, TrialState.STALE)
            for s, v in t.reports
            if s == step
        ]
        if len(others) < self.min_others:
            return Decision.CONTINUE
        best = min((context.score(v) for s, v in trial.reports if s <= step), default=context.score(value))
        best = min(best, context.score(value))
        median = statistics.median(context.score(v) for v in others)
        return Decision.STOP if best > median else Decision.CONTINUE

    def describe(self) -> str:
        return (
            f"MedianStopping(n_startup={self.n_startup}, n_warmup={self.n_warmup}, "
            f"min_others={self.min_others})"
        )

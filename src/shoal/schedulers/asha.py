"""Asynchronous successive halving (ASHA): stop or pause trials that are not in the top 1/eta of a rung.

Rungs sit at resources ``min_resource * eta ** k`` (k = 0, 1, ...; below ``max_resource`` when given).
A trial's value on reaching a rung is stored as a ``RungRecord`` (typed storage rows, shared by every
driver of the study), and the decision compares it with every value recorded at that rung so far, with
no waiting for a full rung (Li et al., "A System for Massively Parallel Hyperparameter Tuning", 2020).

- ``mode="stop"``: a trial carries on past a rung only if its value ranks in the top
  ``max(1, n // eta)`` of the n values recorded there (so while n < eta it must be the best so far);
  otherwise it is stopped (PRUNED, keeping its last value).
- ``mode="promote"``: a trial reaching a rung carries on if it ranks in the top ``n // eta`` there;
  otherwise it is PAUSED. Whenever a slot frees, the best paused trial that now ranks in the top
  ``n // eta`` of its rung (highest rung first) is promoted before any new configuration is sampled;
  the objective loads its checkpoint and continues. Trials never promoted stay PAUSED (a later
  ``optimize`` call may still promote them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._keywords import keywords
from ..records import RungRecord
from ..trial import Trial
from .base import Decision, Scheduler, SchedulerContext

__all__ = ["ASHA"]

_MODES = ("stop", "promote")


def _check_number(owner: str, name: str, value: object, *, least: float, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value >= least:  # type: ignore[operator]
        what = "an int" if integer else "a number"
        raise ValueError(f"{owner}: {name} must be {what} >= {least:g}, got {value!r}")


def rank_in(context: SchedulerContext, value: float, values: Sequence[float]) -> int:
    """How many of ``values`` are strictly better than ``value`` (0 = the best)."""
    score = context.score(value)
    return sum(1 for v in values if context.score(v) < score)


@keywords()
class ASHA(Scheduler):
    """Asynchronous successive halving.

    ``ASHA(1, reduction_factor=3, max_resource=27)``: only ``min_resource`` may be positional.
    ``min_resource``: the step of the first rung (e.g. 1 epoch); ``reduction_factor`` (eta, 3 or 4
    are usual): each rung keeps 1/eta of the trials; ``max_resource``: the step a full trial reaches
    (no rung at or above it; None: rungs go on for as long as trials report); ``mode``: ``"stop"`` or
    ``"promote"`` (pause and resume from a checkpoint: the objective must save and load one).
    Steps are the ``step`` of ``trial.report(value, step)``.
    """

    def __init__(
        self,
        min_resource: int = 1,
        *,
        reduction_factor: int = 3,
        max_resource: int | None = None,
        mode: str = "stop",
    ) -> None:
        super().__init__(None)
        name = type(self).__name__
        _check_number(name, "min_resource", min_resource, least=1, integer=True)
        _check_number(name, "reduction_factor", reduction_factor, least=2, integer=True)
        if max_resource is not None:
            _check_number(name, "max_resource", max_resource, least=1, integer=True)
            if max_resource < min_resource:
                raise ValueError(
                    f"{name}: max_resource ({max_resource}) must be >= min_resource ({min_resource})"
                )
        if mode not in _MODES:
            raise ValueError(f"{name}: mode must be 'stop' or 'promote', got {mode!r}")
        self.min_resource = int(min_resource)
        self.reduction_factor = int(reduction_factor)
        self.max_resource = None if max_resource is None else int(max_resource)
        self.mode = mode
        self.pauses = mode == "promote"

    # -- rungs ---------------------------------------------------------------------------------
    def bracket_of(self, number: int) -> int:
        """The bracket a trial runs in (always 0 for ASHA; Hyperband spreads trials over several)."""
        return 0

    def resource(self, rung: int) -> int:
        """The step of rung ``rung``."""
        return self.min_resource * self.reduction_factor**rung

    def _has_rung(self, rung: int) -> bool:
        return self.max_resource is None or self.resource(rung) < self.max_resource

    def crossed(self, trial: Trial, step: int) -> list[int]:
        """The rungs of the trial's bracket that this report (at ``step``) reaches first."""
        previous = max((s for s, _ in trial.reports if s < step), default=-1)
        out, rung = [], self.bracket_of(trial.number)
        while self._has_rung(rung) and self.resource(rung) <= step:
            if self.resource(rung) > previous:
                out.append(rung)
            rung += 1
        return out

    def records(self, trial: Trial, step: int, value: float) -> list[RungRecord]:
        bracket = self.bracket_of(trial.number)
        return [RungRecord(trial.number, bracket, k, step, value) for k in self.crossed(trial, step)]

    # -- decisions -----------------------------------------------------------------------------
    def _keep(self, n: int) -> int:
        """How many of the n trials at a rung go on to the next one."""
        kept = n // self.reduction_factor
        return max(1, kept) if self.mode == "stop" else kept

    def decide(self, context: SchedulerContext, trial: Trial, step: int, value: float) -> Decision:
        rungs = self.crossed(trial, step)
        if not rungs:
            return Decision.CONTINUE
        bracket, rung = self.bracket_of(trial.number), rungs[-1]
        here = context.rungs_at(rung, bracket)
        mine = next((r.value for r in here if r.trial_number == trial.number), value)
        others = [r.value for r in here if r.trial_number != trial.number]
        if rank_in(context, mine, others) < self._keep(len(others) + 1):
            return Decision.CONTINUE
        return Decision.STOP if self.mode == "stop" else Decision.PAUSE

    def promote(self, context: SchedulerContext) -> int | None:
        """The paused trial to promote: highest rung first, then the best value there."""
        best: tuple[int, float, int] | None = None
        for trial in context.paused():
            bracket = self.bracket_of(trial.number)
            records = [r for r in context.rungs_of(trial.number) if r.bracket == bracket]
            if not records:
                continue
            top = records[-1]
            here = context.rungs_at(top.rung, top.bracket)
            values = [r.value for r in here if r.trial_number != trial.number]
            if rank_in(context, top.value, values) >= self._keep(len(values) + 1):
                continue
            key = (-top.rung, context.score(top.value), trial.number)
            if best is None or key < best:
                best = key
        return None if best is None else best[2]

    def describe(self) -> str:
        return (
            f"{type(self).__name__}(min_resource={self.min_resource}, "
            f"reduction_factor={self.reduction_factor}, max_resource={self.max_resource}, "
            f"mode={self.mode!r})"
        )


def n_rungs(min_resource: int, max_resource: int, eta: int) -> int:
    """How many rungs fit below ``max_resource``: the largest s with min * eta**s <= max, plus one."""
    return int(math.floor(math.log(max_resource / min_resource) / math.log(eta) + 1e-9)) + 1


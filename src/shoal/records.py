"""The typed records storage keeps beside trials: rungs, lineage and checkpoint references.

A leaf module: storage, schedulers, the study and analysis all read and write these, so they live
below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["RungRecord", "LineageRecord", "CheckpointRef", "CheckpointSlot"]


@dataclass(frozen=True)
class RungRecord:
    """A trial's value when it reached a rung of a successive-halving scheduler (kept in storage).

    ``rung`` k of ``bracket`` s sits at resource ``step`` (e.g. ``min_resource * eta ** (s + k)``);
    ``value`` is what the trial reported there. One record per (trial, bracket, rung): the first wins.
    """

    trial_number: int
    bracket: int
    rung: int
    step: int
    value: float


@dataclass(frozen=True)
class LineageRecord:
    """How a population-based-training segment began (kept in storage, one per segment trial).

    Member ``member`` trains in segments, each a trial; segment ``segment`` starts from the checkpoint
    ``checkpoint`` that trial ``parent`` saved at ``step`` (all None/0 for a fresh member). When it
    copied a better member (exploit), ``donor`` names that member and ``old_config`` holds the config
    it had before; its own (perturbed) config is the trial's config.
    """

    trial_number: int
    member: int
    segment: int
    parent: int | None = None
    checkpoint: str | None = None
    step: int = 0
    donor: int | None = None
    old_config: dict[str, Any] | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class CheckpointRef:
    """A stored checkpoint: the trial that saved it, at which step, where it is, and when."""

    trial_number: int
    step: int
    uri: str
    created_at: datetime | None = None

    @property
    def is_dir(self) -> bool:
        return not self.uri.endswith(".pkl")


@dataclass(frozen=True)
class CheckpointSlot:
    """What one call needs to save and load: the store, this trial's folder in it, its start."""

    root: str
    folder: str
    start: str | None = None
    start_step: int | None = None
    start_trial: int | None = None

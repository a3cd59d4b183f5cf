"""The typed records storage keeps beside trials: rungs, lineage, checkpoint references and config
changes (tweaks and forks), and the answer a running trial gets to a report (``Steering``).

A leaf module: storage, schedulers, the study and analysis all read and write these, so they live
below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "RungRecord", "LineageRecord", "CheckpointRef", "CheckpointSlot", "ConfigChange", "Steering",
    "CHANGE_SOURCES", "NoteRecord", "MAX_NOTE", "check_note",
]


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


#: Who may change a trial's hyperparameters: a person (``study.tweak``, ``shoal tweak``, the
#: dashboard), population-based training, or a rule such as ``shoal.rules.ReduceOnPlateau``.
CHANGE_SOURCES = ("person", "pbt", "rule")


@dataclass(frozen=True)
class ConfigChange:
    """One hyperparameter of one trial changed: a typed row in storage.

    ``kind`` "tweak": changed while the trial ran; ``step`` is the first step trained with ``new``
    (the step after the report that delivered it), None while it waits for the trial's next report
    or ``should_stop``. ``kind`` "fork": the trial was forked from another trial's checkpoint with
    this value changed; ``step`` is the first step the fork trains (the checkpoint's step + 1) and
    ``old`` the parent's value there.
    """

    trial_number: int
    name: str
    old: Any
    new: Any
    source: str
    step: int | None = None
    kind: str = "tweak"
    created_at: datetime | None = None

    @property
    def pending(self) -> bool:
        """Stored but not yet delivered to the running trial."""
        return self.step is None


@dataclass(frozen=True)
class Steering:
    """What a running trial hears back when it reports (or asks ``should_stop``): whether to stop,
    and the hyperparameters that changed since it last heard (name -> new value)."""

    stop: bool = False
    changes: dict[str, Any] | None = None

    @property
    def quiet(self) -> bool:
        return not self.stop and not self.changes


#: The longest note a study or trial keeps, in characters.
MAX_NOTE = 65_536


@dataclass(frozen=True)
class NoteRecord:
    """A person's Markdown note on a study (``trial_number`` None) or on one of its trials (kept in
    storage, one per study and per trial; ``study.note(...)``, ``trial.note(...)``, the dashboard)."""

    trial_number: int | None
    text: str
    updated_at: datetime | None = None


def check_note(text: object) -> str:
    """The note's text, or ``ValueError`` saying what a note must be."""
    if not isinstance(text, str):
        raise ValueError(f"note: text must be a str (Markdown), got {type(text).__name__}")
    if len(text) > MAX_NOTE:
        raise ValueError(f"note: text is {len(text)} characters, over the limit of {MAX_NOTE}; shorten it")
    return text

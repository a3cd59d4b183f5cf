"""The storage contract: the single source of truth for studies and trials.

Every backend (memory, SQLite, PostgreSQL) passes the same conformance suite (``shoal.testing.storage``,
which a backend of your own can run too). State changes of a trial are compare-and-set: two drivers can
never both claim one queued trial, and a finished trial never changes again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ClaimTaken, StateConflict, StudyExists, StudyNotFound  # noqa: F401 - defined in shoal.errors
from ..records import CheckpointRef, ConfigChange, LineageRecord, NoteRecord, RungRecord, Steering
from ..trial import FailureKind, Trial, TrialState

__all__ = [
    "Storage",
    "StudyRecord",
    "StudySummary",
    "StudyCounts",
    "DriverRecord",
    "StudyExists",
    "StudyNotFound",
    "ClaimTaken",
    "StateConflict",
]






@dataclass(frozen=True)
class StudyRecord:
    study_id: int
    name: str
    direction: str
    space: dict[str, Any]
    sampler: str
    created_at: datetime
    #: True while a person paused the study: ``optimize`` starts no new trial until it is resumed.
    paused: bool = False
    #: The study's objectives and constraints in their stored form (``shoal.objectives.Objectives.
    #: to_dict``); None for a one-number study in ``direction`` (and every study stored before them).
    objectives: dict[str, Any] | None = None
    #: The description of the scheduler the study last ran with (``Scheduler.describe()``, e.g.
    #: ``PBT(population=4, ...)``); None: none given yet (and every study stored before this column).
    scheduler: str | None = None


@dataclass(frozen=True)
class StudySummary:
    """A study's trial counts per state and its best value: that of the best completed trial that
    meets the constraints (None with several objectives, where there is a Pareto front instead)."""

    record: StudyRecord
    counts: dict[TrialState, int]
    best_value: float | None
    #: When a trial of the study was last created, started or finished (the study's creation time
    #: when it has no trial); None where a backend does not say.
    last_activity: datetime | None = None

    @property
    def n_trials(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class StudyCounts:
    """What changes in a study's line of a list, read cheaply (``Storage.study_counts``): its name,
    pause flag, sampler and scheduler descriptions and trial counts per state. A summary of the
    study (best value, last activity) can change only when one of these does."""

    study_id: int
    name: str
    paused: bool
    sampler: str
    scheduler: str | None
    counts: dict[TrialState, int]


@dataclass(frozen=True)
class DriverRecord:
    driver_id: int
    host: str
    pid: int
    heartbeat_at: datetime


class Storage(ABC):
    """Where studies and trials live. Methods are safe to call from several threads."""

    url: str = ""
    #: True when other processes can reach the same studies (drivers then send heartbeats).
    shared: bool = True

    # -- studies -------------------------------------------------------------------------------
    @abstractmethod
    def create_study(
        self,
        name: str,
        direction: str,
        space: dict[str, Any],
        sampler: str,
        *,
        objectives: dict[str, Any] | None = None,
        scheduler: str | None = None,
    ) -> StudyRecord:
        """Create a study; raise ``StudyExists`` if the name is taken. ``objectives`` (a JSON-able
        mapping, kept as given) describes a study with several objectives or constraints; its
        ``direction`` is then the first objective's. ``sampler`` and ``scheduler`` are descriptions
        (``describe()``), the scheduler's None when there is none."""

    @abstractmethod
    def get_study(self, name: str) -> StudyRecord:
        """The study of that name; raise ``StudyNotFound`` naming the studies that do exist."""

    @abstractmethod
    def list_studies(self) -> list[StudySummary]:
        """All studies with their trial counts per state and best completed value."""

    def study_counts(self) -> list[StudyCounts]:
        """Every study's ``StudyCounts``, by study id: the cheap poll of a list of many studies (a
        SQL storage counts from the (study, state) index, never reading trial rows)."""
        return [
            StudyCounts(s.record.study_id, s.record.name, s.record.paused, s.record.sampler,
                        s.record.scheduler, dict(s.counts))
            for s in self.list_studies()
        ]

    def summarize_studies(self, study_ids: Collection[int]) -> list[StudySummary]:
        """The summaries (with ``last_activity``) of those studies only, by study id; ids of no
        study are left out."""
        wanted = set(study_ids)
        return [s for s in self.list_studies() if s.record.study_id in wanted]

    @abstractmethod
    def update_study(
        self,
        study_id: int,
        *,
        space: dict[str, Any] | None = None,
        sampler: str | None = None,
        units: Mapping[int, Mapping[str, float]] | None = None,
        scheduler: str | None = None,
    ) -> None:
        """Replace a study's stored space, sampler or scheduler description (None: keep it as it
        is). ``units`` (by trial id) replaces
        stored trials' unit coordinates in the same transaction: a changed space places old trials
        anew by value, and no reader ever sees the new space with the old coordinates."""

    @abstractmethod
    def delete_study(self, name: str) -> None:
        """Remove a study and all its trials and records (rungs, checkpoints, lineage, round boxes)."""

    # -- trials --------------------------------------------------------------------------------
    @abstractmethod
    def create_trial(
        self,
        study_id: int,
        state: TrialState,
        config: dict[str, Any],
        unit: dict[str, float],
        *,
        claim: str | None = None,
        round: int | None = None,
        requeued_from: int | None = None,
        driver_id: int | None = None,
        proposed_by: str | None = None,
    ) -> Trial:
        """Add a QUEUED or RUNNING trial with the next free number.

        Raise ``ClaimTaken`` if ``claim`` is already held by a trial of the study.
        """

    @abstractmethod
    def claim_queued(self, study_id: int, driver_id: int | None) -> Trial | None:
        """Atomically move the oldest QUEUED trial to RUNNING and return it (None if none)."""

    @abstractmethod
    def set_state(
        self,
        trial_id: int,
        expected: TrialState,
        state: TrialState,
        *,
        value: float | None = None,
        error: str | None = None,
        failure: FailureKind | None = None,
        values: Mapping[str, float] | None = None,
        feasible: bool | None = None,
    ) -> Trial:
        """Compare-and-set a trial's state; raise ``StateConflict`` if it is not ``expected``.

        Moving to a finished state stamps ``finished_at`` and records ``value`` and ``error``; a move to
        FAILED also records ``failure``, why it failed (``ValueError`` when given with another state).
        ``values`` (the named numbers the objective returned, one typed row each) and ``feasible``
        (whether they meet the study's constraints) are written in the same transaction; they go with
        a move to a finished state, and ``values`` with a ``feasible`` (``ValueError`` otherwise, or
        for a name that is not a string of 1 to 255 characters or a value that is not a finite
        number; nothing is written then). They read back as ``Trial.values`` and ``Trial.feasible``.
        """

    @abstractmethod
    def add_report(self, trial_id: int, step: int, value: float) -> Steering:
        """Record an intermediate value; a second report at one step replaces the first.

        Answers whether a person asked the trial to stop (``request_stop``) and delivers its pending
        tweaks (``request_changes``) in the same transaction: they take effect at ``step + 1``.
        """

    @abstractmethod
    def poll_trial(self, trial_id: int, from_step: int) -> Steering:
        """``add_report``'s answer without a report (a trial's ``should_stop`` between reports):
        the pending tweaks are delivered, taking effect at ``from_step``."""

    @abstractmethod
    def read_trials(
        self, study_id: int, *, after: int = -1, numbers: Collection[int] = ()
    ) -> list[Trial]:
        """Trials numbered above ``after`` plus those in ``numbers``, with their reports, by number."""

    @abstractmethod
    def promote_trial(self, trial_id: int, driver_id: int | None) -> Trial:
        """Compare-and-set a PAUSED trial back to RUNNING, now run by ``driver_id``.

        Raise ``StateConflict`` if it is not PAUSED (another driver promoted it first).
        """

    # -- rungs (successive-halving schedulers) -------------------------------------------------
    @abstractmethod
    def add_rung(self, trial_id: int, record: RungRecord) -> bool:
        """Store a rung record of a trial; False (and nothing changes) if it has one for that
        (bracket, rung) already: the first record wins."""

    @abstractmethod
    def read_rungs(self, study_id: int) -> list[RungRecord]:
        """Every rung record of the study, by trial number, bracket and rung."""

    # -- checkpoints and lineage (population-based training) ----------------------------------
    @abstractmethod
    def add_checkpoint(self, trial_id: int, step: int, uri: str) -> None:
        """Record a checkpoint a trial saved; a second one at the same step replaces the first."""

    @abstractmethod
    def read_checkpoints(self, study_id: int, *, numbers: Collection[int] = ()) -> list[CheckpointRef]:
        """The study's checkpoint references (only those of trials ``numbers`` when given), by trial
        number and step."""

    @abstractmethod
    def delete_checkpoints(self, study_id: int, uris: Collection[str]) -> None:
        """Forget the references with these uris (the files are the caller's to delete)."""

    @abstractmethod
    def add_lineage(self, trial_id: int, record: LineageRecord) -> None:
        """Record how a segment trial began (its ``trial_number`` is taken from ``trial_id``)."""

    @abstractmethod
    def read_lineage(self, study_id: int) -> list[LineageRecord]:
        """Every lineage record of the study, by trial number."""

    # -- coarse-to-fine round boxes -------------------------------------------------------------
    @abstractmethod
    def add_round_box(self, study_id: int, round: int, box: Mapping[str, tuple[float, float]]) -> None:
        """Record the box a coarse-to-fine round searches: ``(low, high)`` in the unit cube per dimension.

        The first box of a (study, round) wins; a later one for that round is ignored, so drivers racing
        to write it all read back the same box. ``ValueError`` for a malformed box (no dimension, a name
        that is not a string of 1 to 255 characters, bounds not ``0 <= low <= high <= 1``), nothing
        stored; ``StudyNotFound`` for an unknown study.
        """

    @abstractmethod
    def read_round_boxes(self, study_id: int) -> dict[int, dict[str, tuple[float, float]]]:
        """The study's round boxes by round, each with its dimensions by name (``{}`` when none)."""

    # -- drivers (who runs what, for detecting vanished drivers) -------------------------------
    @abstractmethod
    def register_driver(self, host: str, pid: int) -> int:
        """Record a driver process; returns its id."""

    @abstractmethod
    def heartbeat(self, driver_id: int) -> None:
        """Mark a driver as alive now."""

    @abstractmethod
    def running_with_drivers(self, study_id: int) -> list[tuple[Trial, DriverRecord | None]]:
        """Trials in RUNNING state and the driver that runs each (None when unknown)."""

    # -- steering by a person (the dashboard's panda mode) --------------------------------------
    @abstractmethod
    def set_paused(self, study_id: int, paused: bool) -> None:
        """Pause (True) or resume a study; ``StudyRecord.paused`` and ``is_paused`` read it back."""

    @abstractmethod
    def is_paused(self, study_id: int) -> bool:
        """Whether the study is paused (read by a running ``optimize`` before it starts a trial)."""

    @abstractmethod
    def request_stop(self, trial_id: int) -> bool:
        """Ask a RUNNING trial to stop: its next ``add_report`` returns True and it reads back with
        ``stop_requested``. Returns False (and changes nothing) when the trial is not RUNNING."""

    @abstractmethod
    def set_device(self, trial_id: int, device: str) -> None:
        """Record the device a trial runs on (``Trial.device``, 1 to 255 characters; ``ValueError``
        otherwise); a second call replaces the first."""

    @abstractmethod
    def request_changes(self, trial_id: int, changes: Sequence[ConfigChange]) -> bool:
        """Store tweaks of a RUNNING or PAUSED trial as pending rows (``step`` None), in order; the
        trial's next ``add_report`` or ``poll_trial`` delivers them. Returns False (and stores nothing)
        when the trial is in another state."""

    @abstractmethod
    def add_changes(self, trial_id: int, changes: Sequence[ConfigChange]) -> None:
        """Store changes that are already in force (a fork's, or PBT's explore step), ``step`` set."""

    # -- a person's notes ---------------------------------------------------------------------
    @abstractmethod
    def set_note(self, study_id: int, text: str, *, trial_number: int | None = None) -> NoteRecord | None:
        """Set the Markdown note of a study (``trial_number`` None) or of one of its trials,
        replacing the one it had; empty (or blank) text removes it (returns None). A trial's note
        reads back as ``Trial.note``. ``ValueError`` for text that is not a str or is over
        ``records.MAX_NOTE`` characters, or an unknown trial number; ``StudyNotFound`` for an
        unknown study (nothing stored then)."""

    @abstractmethod
    def read_notes(self, study_id: int) -> list[NoteRecord]:
        """The study's notes: its own first (if any), then its trials' by number."""

    # -- trials brought in whole (shoal import, Study.add_trial, warm starts) -------------------
    @abstractmethod
    def import_trial(
        self,
        study_id: int,
        trial: Trial,
        *,
        lineage: LineageRecord | None = None,
        rungs: Sequence[RungRecord] = (),
        checkpoints: Sequence[CheckpointRef] = (),
    ) -> Trial:
        """Store ``trial`` as given, in any state, with the study's next free number: its config,
        unit, value, named values and feasibility, error and failure, reports, changes (pending tweaks
        too, delivered by its next report), round, claim, ``requeued_from``, ``proposed_by``, stop flag
        and timestamps (``created_at`` None: now), with its lineage record, rung records and checkpoint
        references (their ``trial_number`` is the new number), all in one transaction; no driver runs
        it. Returns the stored trial. ``ClaimTaken`` if its claim is held; ``ValueError`` for what
        ``create_trial`` and ``set_state`` refuse, a report that is not (int step >= 0, finite value),
        or a change of an unknown kind or source (nothing is stored then)."""

    @abstractmethod
    def fill_config(
        self,
        trial_id: int,
        config: Mapping[str, Any],
        unit: Mapping[str, float],
        *,
        proposed_by: str | None = None,
    ) -> Trial:
        """Complete the config of a RUNNING trial that was queued with part of one (its missing values
        sampled as it starts): ``config`` keeps every stored name with its value and adds the others,
        ``unit`` replaces the stored coordinates, ``proposed_by`` (when given) replaces who proposed it.
        ``StateConflict`` if the trial is not RUNNING; ``ValueError`` if ``config`` drops or changes a
        stored value (nothing is written then)."""

    def close(self) -> None:
        """Release connections."""

"""What the analysis needs of a study, read from a live ``Study`` or straight from storage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..objectives import Objectives
from ..records import RungRecord
from ..space import Space
from ..stats.trial_matrix import completed, tunable, unit_matrix
from ..trial import Trial

__all__ = ["StudyData", "as_study_data", "completed", "tunable", "unit_matrix"]


@dataclass(frozen=True)
class StudyData:
    """A read-only snapshot of a study: its name, direction, space, sampler description and trials.

    ``lineage`` holds the storage's lineage records (population-based training: which trial each
    segment started from), ``round_boxes`` the box each coarse-to-fine round searched, ``rungs`` the
    rung records of successive halving (which rung a PAUSED trial waits at), as stored.
    ``objectives`` the study's objectives and constraints (``shoal.objectives.Objectives``; one
    objective in ``direction`` when not given), ``scheduler_text`` the scheduler's description,
    ``study_note`` the study's Markdown note.
    """

    name: str
    direction: str
    space: Space
    trials: Sequence[Trial]
    sampler_text: str = ""
    lineage: Sequence[Any] = ()
    round_boxes: Mapping[int, Mapping[str, tuple[float, float]]] = field(default_factory=dict)
    rungs: Sequence[RungRecord] = ()
    objectives: Objectives | None = None
    #: The description of the scheduler the study last ran with ("" when none).
    scheduler_text: str = ""
    #: The study's own Markdown note (``study.note(...)``); trials carry theirs in ``Trial.note``.
    study_note: str | None = None

    def __post_init__(self) -> None:
        if self.objectives is None:  # one objective named "value", as a study made with direction=
            object.__setattr__(self, "objectives", Objectives.single(self.direction))

    @property
    def goals(self) -> Objectives:
        """The study's objectives and constraints (never None)."""
        assert self.objectives is not None
        return self.objectives

    @classmethod
    def from_storage(cls, storage: Any, name: str) -> StudyData:
        """Read a stored study without opening it as a driver (nothing is written)."""
        record = storage.get_study(name)
        return cls.from_record(record, storage.read_trials(record.study_id), storage)

    @classmethod
    def from_record(cls, record: Any, trials: Sequence[Trial], storage: Any = None) -> StudyData:
        """From a storage ``StudyRecord`` and its trials (and lineage, when ``storage`` is given)."""
        try:
            space = Space.from_dict(record.space)
        except ValueError as exc:
            raise ValueError(f"study {record.name!r}: the stored space cannot be rebuilt ({exc})") from None
        stored = getattr(record, "objectives", None)
        objectives = Objectives.from_dict(stored) if stored else None
        return cls(record.name, record.direction, space, list(trials), record.sampler,
                   objectives=objectives, scheduler_text=getattr(record, "scheduler", None) or "",
                   **_records(storage, record.study_id))


def _records(storage: Any, study_id: int) -> dict[str, Any]:
    """The study's lineage records, round boxes, rung records and note (none without a storage)."""
    if storage is None:
        return {}
    own = [n.text for n in storage.read_notes(study_id) if n.trial_number is None]
    return {"lineage": tuple(storage.read_lineage(study_id)),
            "round_boxes": storage.read_round_boxes(study_id),
            "rungs": tuple(storage.read_rungs(study_id)),
            "study_note": own[0] if own else None}


def as_study_data(study: Any) -> StudyData:
    """A ``StudyData`` from a ``Study`` (or a ``StudyData`` as it is)."""
    if isinstance(study, StudyData):
        return study
    if all(hasattr(study, a) for a in ("name", "direction", "space", "trials", "sampler", "storage", "id")):
        scheduler = getattr(study, "scheduler", None)
        return StudyData(study.name, study.direction, study.space, study.trials, study.sampler.describe(),
                         objectives=getattr(study, "objectives", None),
                         scheduler_text="" if scheduler is None else scheduler.describe(),
                         **_records(study.storage, study.id))
    raise ValueError(f"expected a shoal.Study, got {study!r}")

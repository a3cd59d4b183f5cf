"""What the analysis needs of a study, read from a live ``Study`` or straight from storage."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..space import Fixed, Space
from ..trial import Trial, TrialState
from ._fanova import INACTIVE

__all__ = ["StudyData", "as_study_data", "completed", "unit_matrix"]


@dataclass(frozen=True)
class StudyData:
    """A read-only snapshot of a study: its name, direction, space, sampler description and trials.

    ``sampler`` is the live sampler object when the snapshot comes from a ``Study`` (coarse-to-fine
    plots then draw its exact boxes), else None. ``lineage`` holds the storage's lineage records
    (population-based training: which trial each segment started from).
    """

    name: str
    direction: str
    space: Space
    trials: Sequence[Trial]
    sampler_text: str = ""
    sampler: Any = None
    lineage: Sequence[Any] = ()

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
        lineage = _lineage(storage, record.study_id)
        return cls(record.name, record.direction, space, list(trials), record.sampler, lineage=lineage)


def _lineage(storage: Any, study_id: int) -> tuple:
    """The study's lineage records, or () for a storage that keeps none."""
    read = getattr(storage, "read_lineage", None)
    return () if read is None else tuple(read(study_id))


def as_study_data(study: Any) -> StudyData:
    """A ``StudyData`` from a ``Study`` (or a ``StudyData`` as it is)."""
    if isinstance(study, StudyData):
        return study
    if all(hasattr(study, a) for a in ("name", "direction", "space", "trials", "sampler")):
        sampler = study.sampler
        lineage = _lineage(study.storage, study._record.study_id)
        return StudyData(study.name, study.direction, study.space, study.trials, sampler.describe(), sampler,
                         lineage)
    raise ValueError(f"expected a shoal.Study, got {study!r}")


def completed(trials: Sequence[Trial]) -> list[Trial]:
    """COMPLETE trials with a finite value, by number."""
    done = [
        t for t in trials
        if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
    ]
    return sorted(done, key=lambda t: t.number)


def tunable(space: Space) -> list[str]:
    """The dimensions that can vary (all but ``Fixed``)."""
    return [name for name, dim in space if not isinstance(dim, Fixed)]


def unit_matrix(trials: Sequence[Trial], names: Sequence[str]) -> np.ndarray:
    """Trials x dimensions of unit coordinates; an absent one (inactive, or a custom value with no
    inverse) is ``INACTIVE`` (-0.5)."""
    out = np.full((len(trials), len(names)), INACTIVE)
    for i, trial in enumerate(trials):
        for j, name in enumerate(names):
            u = trial.unit.get(name)
            if u is not None and math.isfinite(u):
                out[i, j] = min(1.0, max(0.0, float(u)))
    return out

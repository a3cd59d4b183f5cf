"""Opening a study: create it or reopen the stored one, and fit stored trials to the given space."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import StudyNotFound
from ..space import Space
from ..storage.base import StudyRecord
from ..trial import Trial

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

__all__ = ["open_record", "check_space_fits", "place"]

logger = logging.getLogger("shoal")


def open_record(study: Study) -> StudyRecord:
    """The study's storage record: created now, or the stored one (whose direction must match)."""
    try:
        record = study.storage.get_study(study.name)
    except StudyNotFound:
        try:
            return study.storage.create_study(
                study.name, study.direction, study.space.to_dict(), study.sampler.describe()
            )
        except ValueError:  # created by another driver between our two calls
            record = study.storage.get_study(study.name)
    if record.direction != study.direction:
        raise ValueError(
            f"study {study.name!r} was created with direction={record.direction!r}; "
            f"pass direction={record.direction!r} or use a new study name"
        )
    if study._sampler_given and record.sampler != study.sampler.describe():
        study.storage.update_study(record.study_id, sampler=study.sampler.describe())
    return record


def check_space_fits(study: Study) -> None:
    """Accept a changed space when every stored trial fits it, and store the new space."""
    current = study.space.to_dict()
    if study._record.space == current:
        return
    trials = study._log.by_number.values()
    study.space.check_fits(t.config for t in trials)
    study.storage.update_study(study.id, space=current)
    for trial in trials:
        place(study.space, trial)
    logger.info("study %r: space updated; %d stored trials fit it", study.name, len(study._log))


def place(space: Space, trial: Trial) -> None:
    """Fill the unit coordinates of dimensions the stored trial lacks (a changed space)."""
    for name, dim in space:
        if name not in trial.unit:
            value = trial.config.get(name, dim.default if dim.has_default else None)
            if name in trial.config or dim.has_default:
                try:
                    trial.unit[name] = dim.to_unit(value)
                except ValueError:
                    pass

"""Opening a study: create it or reopen the stored one, and fit stored trials to the given space."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import StudyNotFound
from ..objectives import Objectives
from ..space import Space, SpaceMismatch, as_space
from ..storage import Storage, get_storage, sqlite_file
from ..storage.base import StudyRecord
from ..trial import Trial, TrialState
from .partial import PartialConfig
from .results import is_plain

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

__all__ = ["open_record", "reopen", "check_space_fits", "place"]

logger = logging.getLogger("shoal")


def open_record(study: Study) -> StudyRecord:
    """The study's storage record: created now, or the stored one (whose direction, objectives and
    constraints must match)."""
    objectives = None if is_plain(study.objectives) else study.objectives.to_dict()
    try:
        record = study.storage.get_study(study.name)
    except StudyNotFound:
        try:
            return study.storage.create_study(
                study.name, study.direction, study.space.to_dict(), study.sampler.describe(),
                objectives=objectives, scheduler=_scheduler_text(study),
            )
        except ValueError:  # created by another driver between our two calls
            record = study.storage.get_study(study.name)
    check_objectives(study, record)
    # what this study runs with, when it says: a given sampler, a given scheduler (and then the
    # sampler it implies, e.g. random search for PBT); a study opened with neither keeps the record
    given = study._sampler_given or study.scheduler is not None
    sampler = study.sampler.describe() if given and record.sampler != study.sampler.describe() else None
    scheduler = _scheduler_text(study)
    scheduler = scheduler if scheduler is not None and scheduler != record.scheduler else None
    if sampler is not None or scheduler is not None:
        study.storage.update_study(record.study_id, sampler=sampler, scheduler=scheduler)
        record = study.storage.get_study(study.name)
    return record


def _scheduler_text(study: Study) -> str | None:
    return None if study.scheduler is None else study.scheduler.describe()


def reopen(
    name: str, storage: str | Storage, space: Space | Mapping[str, Any] | None
) -> tuple[Storage, Space, dict[str, Any]]:
    """What ``Study.load`` reads from storage: the backend, the space (the stored one unless ``space``
    is given) and the direction, or the objectives and constraints, the study was created with.

    ``StudyNotFound`` when there is no such study; a SQLite file that is not there is not created.
    """
    missing = sqlite_file(storage) if isinstance(storage, str) else None
    if missing is not None and not missing.exists():  # opening it would create an empty file
        raise StudyNotFound(
            f"no study named {name!r}: there is no database file {str(missing)!r} (storage "
            f"{storage}); check the path, or create the study with shoal.Study(...)"
        )
    backend = get_storage(storage)
    record = backend.get_study(name)
    if space is None:
        try:
            space = Space.from_dict(record.space)
        except ValueError as exc:
            raise ValueError(
                f"study {name!r}: the stored space cannot be rebuilt ({exc}); pass space=..."
            ) from None
    if record.objectives is None:
        return backend, as_space(space), {"direction": record.direction}
    stored = Objectives.from_dict(record.objectives)
    return backend, as_space(space), {
        "objectives": {o.name: o.direction for o in stored.objectives},
        "constraints": [str(c) for c in stored.constraints],
    }


def check_objectives(study: Study, record: StudyRecord) -> None:
    """A ``ValueError`` naming the stored direction or objectives when the study asks for others."""
    if record.objectives is None:
        if is_plain(study.objectives) and record.direction == study.direction:
            return
        raise ValueError(
            f"study {study.name!r} was created with direction={record.direction!r} (one number, no "
            f"constraints); pass direction={record.direction!r} without objectives= or constraints=, "
            "or use a new study name"
        )
    stored = Objectives.from_dict(record.objectives)
    if stored == study.objectives:
        return
    named = {o.name: o.direction for o in stored.objectives}
    constraints = [str(c) for c in stored.constraints]
    raise ValueError(
        f"study {study.name!r} was created with objectives={named!r} and constraints={constraints!r}; "
        "pass the same, or use a new study name (Study.load reads them from storage)"
    )


def check_space_fits(study: Study) -> None:
    """Accept a changed space when every stored trial fits it; store the new space and every old
    trial's unit coordinates placed by value in it (one transaction), so samplers, importance and
    plots read old trials where they lie in the new space."""
    current = study.space.to_dict()
    if study._record.space == current:
        return
    trials = list(study._log.by_number.values())
    study.space.check_fits(t.config for t in trials if t.state != TrialState.QUEUED)
    for trial in trials:  # a queued config may lack values: those it has must fit
        if trial.state == TrialState.QUEUED:
            try:
                PartialConfig(study.space, trial.config, normalize=False)
            except ValueError as exc:
                raise SpaceMismatch(f"queued trial {trial.number}: {exc}; the new space does not take "
                                    "it (keep the old definition, or start a new study)") from None
    moved: dict[int, dict[str, float]] = {}
    for trial in trials:
        unit = study.space.units_by_value(trial.config, trial.unit)
        if unit != trial.unit and trial.trial_id is not None:
            trial.unit = unit
            moved[trial.trial_id] = unit
    study.storage.update_study(study.id, space=current, units=moved)
    for note in narrowed(study._record.space, study.space):
        logger.warning("study %r: %s", study.name, note)
    study._record = dataclasses.replace(study._record, space=current)
    logger.info("study %r: space updated; %d stored trials fit it, %d placed anew by value",
                study.name, len(trials), len(moved))


def narrowed(stored: dict, space: Space) -> list[str]:
    """A sentence per dimension whose range or values the new space narrows (stored trials all fit,
    but the search no longer explores the rest)."""
    try:
        old = Space.from_dict(stored)
    except ValueError:  # a stored Custom map cannot be rebuilt: nothing to compare
        return []
    notes = []
    for name, dim in space:
        before = old.dimensions.get(name)
        if before is None or type(before) is not type(dim):
            continue
        if hasattr(dim, "low") and (dim.low > before.low or dim.high < before.high):
            notes.append(f"dimension {name!r} narrowed from [{before.low:g}, {before.high:g}] to "
                         f"[{dim.low:g}, {dim.high:g}]; the search no longer explores the rest")
        elif hasattr(dim, "values"):
            lost = sorted(set(map(repr, before.values)) - set(map(repr, dim.values)))
            if lost:
                notes.append(f"dimension {name!r} lost values {', '.join(lost)}; the search no longer "
                             "tries them")
    return notes


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

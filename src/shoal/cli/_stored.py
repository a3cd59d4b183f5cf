"""Opening a storage and reading a study for the commands; errors as one-line ``CLIError``."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from ..config import STORAGE_ENV, default_storage
from ..errors import CLIError
from ..objectives import Objectives
from ..storage import Storage, StudyNotFound, StudyRecord, get_storage
from ..study.frame import value_names
from ..study.results import is_plain, pareto_front
from ..trial import Trial, TrialState
from ._output import error_line


def storage_url(args: argparse.Namespace) -> str:
    return args.storage or default_storage()


def open_storage(url: str, *, must_exist: bool) -> Storage:
    """Open a storage URL; for reading, a SQLite file that is not there is an error, not a new file."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    if not isinstance(url, str) or "://" not in url:
        raise CLIError(
            f"--storage: expected a URL such as 'sqlite:///shoal.db' or "
            f"'postgresql+psycopg://user@host/db', got {url!r}"
        )
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError as exc:
        raise CLIError(f"--storage {url!r}: not a database URL ({exc})") from None
    if must_exist and parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database)
        if parsed.database != ":memory:" and not path.exists():
            raise CLIError(
                f"no shoal database at {str(path.resolve())!r} (storage {url}); run 'shoal run "
                f"CONFIG.yaml' first, or pass --storage / set {STORAGE_ENV}"
            )
    try:
        return get_storage(url)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise CLIError(f"storage {url!r}: cannot open it ({error_line(str(exc))})") from None


def load_study(args: argparse.Namespace) -> tuple[Storage, StudyRecord, list[Trial]]:
    storage = open_storage(storage_url(args), must_exist=True)
    try:
        record = storage.get_study(args.study)
    except StudyNotFound as exc:
        raise CLIError(str(exc)) from None
    return storage, record, storage.read_trials(record.study_id)


def objectives_of(record: StudyRecord) -> Objectives:
    """The stored study's objectives (one named "value" for a one-number study)."""
    if record.objectives is None:
        return Objectives.single(record.direction)
    return Objectives.from_dict(record.objectives)


def metric_names(record: StudyRecord, trials: Iterable[Trial]) -> list[str]:
    """The names of the values the study's trials returned: none for a one-number study."""
    objectives = objectives_of(record)
    return [] if is_plain(objectives) else value_names(objectives, trials)


def front_of(record: StudyRecord, trials: Iterable[Trial]) -> list[Trial]:
    """The study's Pareto front: completed trials that meet the constraints, none beaten on every
    objective by another."""
    return pareto_front(objectives_of(record), trials)


def ranked_trials(record: StudyRecord, trials: Iterable[Trial]) -> list[Trial]:
    """Completed trials that meet the constraints, best first (by the first objective)."""
    sign = -1.0 if record.direction == "maximize" else 1.0
    done = [t for t in trials
            if t.state == TrialState.COMPLETE and t.value is not None and t.feasible is not False]
    return sorted(done, key=lambda t: (sign * t.value, t.number))  # ties: the earliest first


def best_trial(record: StudyRecord, trials: Iterable[Trial]) -> Trial:
    trials = list(trials)
    ranked = ranked_trials(record, trials)
    if not ranked:
        if any(t.state == TrialState.COMPLETE for t in trials):
            constraints = ", ".join(map(str, objectives_of(record).constraints))
            raise CLIError(
                f"study {record.name!r}: no completed trial meets the constraints ({constraints}) yet"
            )
        raise CLIError(f"study {record.name!r} has no completed trial yet")
    return ranked[0]


def dimension_names(record: StudyRecord, trials: Iterable[Trial]) -> list[str]:
    names = list(record.space)
    for trial in trials:
        names.extend(k for k in trial.config if k not in names)
    return names

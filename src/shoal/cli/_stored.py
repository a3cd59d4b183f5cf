"""Opening a storage and reading a study for the commands; errors as one-line ``CLIError``."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path

from ..config import STORAGE_ENV, default_storage
from ..errors import CLIError
from ..objectives import Objectives
from ..storage import Storage, StudyNotFound, StudyRecord, get_storage, sqlite_file
from ..study.frame import value_names
from ..study.results import is_plain, pareto_front
from ..trial import Trial, TrialState
from ._output import error_line


def storage_url(args: argparse.Namespace) -> str:
    return args.storage or default_storage()


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the database (SQLite's or any SQLAlchemy driver's)."""
    if isinstance(exc, sqlite3.Error):
        return True
    sa_exc = sys.modules.get("sqlalchemy.exc")  # not loaded: no SQL storage was opened
    return sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError)


def storage_failure(url: str, exc: BaseException) -> CLIError:
    """A database error as one line that names the storage and the fix."""
    text = error_line(str(getattr(exc, "orig", None) or exc)) or type(exc).__name__
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        fix = ("the database cannot be written; make it writable (a SQLite file: the file and its "
               "directory), or pass --storage with a writable one")
    elif "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        fix = ("the file is damaged; restore it from a backup (sqlite3's .recover command may save "
               "its rows) or pass --storage with another file")
    elif "unable to open" in lowered:
        fix = "check that the file exists and that it and its directory can be read (and written, to run)"
    else:
        fix = "check the storage URL and that the database is reachable and intact"
    return CLIError(f"storage {url}: cannot use it ({text}); {fix}")


def _writable(path: Path) -> bool:
    """Whether a SQLite file can be written: the file, and its directory (WAL's -wal and -shm)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def check_writable(url: str, command: str = "run") -> None:
    """Refuse, before anything is stored, a SQLite storage that ``shoal COMMAND`` could not write."""
    path = sqlite_file(url)
    if path is None:
        return
    if path.exists():
        if not os.access(path, os.W_OK):
            raise CLIError(
                f"storage {url}: the database file {str(path)!r} is read-only, and 'shoal {command}' "
                "writes to it; make it writable (chmod u+w) or pass --storage with another file"
            )
        if not os.access(path.parent, os.W_OK):
            raise CLIError(
                f"storage {url}: the directory {str(path.parent)!r} is read-only, and 'shoal {command}' "
                "writes the database, whose -wal and -shm files SQLite keeps beside it; make the "
                "directory writable or pass --storage with a file in a writable directory"
            )
    elif not path.parent.is_dir():
        raise CLIError(
            f"storage {url}: the directory {str(path.parent)!r} does not exist; create it or pass "
            "--storage with a file in an existing directory"
        )
    elif not os.access(path.parent, os.W_OK):
        raise CLIError(
            f"storage {url}: cannot create {str(path)!r}: its directory is read-only; pass --storage "
            "with a file in a writable directory"
        )


def open_storage(url: str, *, must_exist: bool, read_only: bool = False) -> Storage:
    """Open a storage URL; for reading, a SQLite file that is not there is an error, not a new file.

    ``read_only`` (for commands that only read): a SQLite file that cannot be written (mode 0444,
    a read-only directory or mount) is opened read-only, without the WAL switch and the schema
    upgrade that would write it; a writable one opens as usual.
    """
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
    path = sqlite_file(url)
    try:
        if read_only and path is not None and path.exists() and not _writable(path):
            from ..storage.sql import SQLStorage

            return SQLStorage(url, read_only=True)
        return get_storage(url)
    except (ValueError, RuntimeError) as exc:
        raise CLIError(str(exc)) from None
    except (SQLAlchemyError, sqlite3.Error) as exc:
        raise storage_failure(url, exc) from None


def load_study(
    args: argparse.Namespace, *, read_only: bool = True
) -> tuple[Storage, StudyRecord, list[Trial]]:
    """The storage, record and trials of ``args.study``; ``read_only=False`` for a command that
    writes (``delete``)."""
    storage = open_storage(storage_url(args), must_exist=True, read_only=read_only)
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

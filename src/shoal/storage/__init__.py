"""Storage backends: in-memory, SQLite and PostgreSQL (any SQLAlchemy URL)."""

from __future__ import annotations

import os
from pathlib import Path

from .base import (
    ClaimTaken,
    DriverRecord,
    StateConflict,
    Storage,
    StudyCounts,
    StudyExists,
    StudyNotFound,
    StudyRecord,
    StudySummary,
)
from .memory import InMemoryStorage

__all__ = [
    "Storage",
    "InMemoryStorage",
    "SQLStorage",
    "StudyRecord",
    "StudySummary",
    "StudyCounts",
    "DriverRecord",
    "StudyExists",
    "StudyNotFound",
    "ClaimTaken",
    "StateConflict",
    "get_storage",
    "sqlite_file",
]

_OPEN: dict[str, Storage] = {}


def __getattr__(name: str):
    if name == "SQLStorage":  # SQLAlchemy is imported only when a SQL storage is used
        from .sql import SQLStorage

        return SQLStorage
    raise AttributeError(name)


def get_storage(storage: str | Storage | None) -> Storage:
    """``None`` -> a new in-memory storage; a URL -> a SQL storage (one per URL per process)."""
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, Storage):
        return storage
    if not isinstance(storage, str) or "://" not in storage:
        raise ValueError(
            f"storage must be None (memory), a URL such as 'sqlite:///shoal.db' or "
            f"'postgresql+psycopg://user@host/db', or a Storage; got {storage!r}"
        )
    key = _cache_key(storage)
    if key not in _OPEN:
        from .sql import SQLStorage

        _OPEN[key] = SQLStorage(key)
    return _OPEN[key]


def _cache_key(url: str) -> str:
    """SQLite files by absolute path, so a relative URL follows the working directory."""
    prefix, sep, path = url.partition(":///")
    if prefix.startswith("sqlite") and sep and path and not path.startswith("/"):
        return f"{prefix}:///{os.path.abspath(path.split('?')[0])}"
    return url


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL as an absolute path; None for other databases (and in-memory
    SQLite). ``sqlite_file(url).exists()`` tells whether opening ``url`` would create the file."""
    if not isinstance(url, str):
        return None
    prefix, sep, path = url.partition(":///")
    database = path.split("?")[0]
    if not (prefix.startswith("sqlite") and sep) or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):  # a URI filename: sqlite:///file:path?mode=ro&uri=true
        database = database[len("file:"):]
    return Path(os.path.abspath(database))

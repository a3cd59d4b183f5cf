"""Storage backends: in-memory, SQLite and PostgreSQL (any SQLAlchemy URL)."""

from __future__ import annotations

from .base import (
    ClaimTaken,
    DriverRecord,
    StateConflict,
    Storage,
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
    "DriverRecord",
    "StudyExists",
    "StudyNotFound",
    "ClaimTaken",
    "StateConflict",
    "get_storage",
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
    if storage not in _OPEN:
        from .sql import SQLStorage

        _OPEN[storage] = SQLStorage(storage)
    return _OPEN[storage]

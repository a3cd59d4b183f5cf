"""SQLite storage options given in the URL."""

from __future__ import annotations

import pytest

from shoal.storage.sql import SQLStorage


def _pragma(storage: SQLStorage, name: str) -> int | str:
    with storage._read() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_synchronous_defaults_to_normal_in_wal_mode(sqlite_url: str) -> None:
    storage = SQLStorage(sqlite_url)
    assert _pragma(storage, "journal_mode") == "wal"
    assert _pragma(storage, "synchronous") == 1  # NORMAL


def test_synchronous_full_survives_a_power_cut_on_request(sqlite_url: str) -> None:
    storage = SQLStorage(f"{sqlite_url}?synchronous=full")
    assert _pragma(storage, "synchronous") == 2  # FULL


def test_bad_synchronous_names_the_option_and_the_choices(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="synchronous must be 'normal' or 'full'"):
        SQLStorage(f"{sqlite_url}?synchronous=off")


def test_in_memory_sqlite_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="storage=None"):
        SQLStorage("sqlite://")

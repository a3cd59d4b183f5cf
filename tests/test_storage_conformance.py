"""The storage contract (``shoal.testing.storage``) run against every backend: memory, SQLite and
PostgreSQL; and what only the SQL backends owe: older databases opening, new SQLite files opened at once.

Concurrency is tested for real: threads racing on one storage object, and (for the SQL backends)
separate processes racing on one database, each opening its own connection from the URL. PostgreSQL
runs when ``SHOAL_TEST_POSTGRES_URL`` is set (see conftest.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shoal.records import ConfigChange
from shoal.storage import InMemoryStorage, SQLStorage, Storage, StudyExists
from shoal.testing.storage import (
    FAILED,
    QUEUED,
    RUNNING,
    SPACE,
    SQLUpgradeContract,
    StorageConformance,
    add,
    new_study,
    numbers,
    run_processes,
)
from shoal.trial import FailureKind


class TestMemory(StorageConformance):
    @pytest.fixture
    def storage(self) -> Iterator[Storage]:
        backend = InMemoryStorage()
        yield backend
        backend.close()


class SQLConformance(StorageConformance, SQLUpgradeContract):
    """The contract on a fresh SQL storage at ``storage_url`` (given by a subclass), and what a SQL
    storage owes beyond it."""

    @pytest.fixture
    def storage_url(self) -> str:
        raise NotImplementedError("a subclass gives the URL of a fresh, empty database")

    @pytest.fixture
    def storage(self, storage_url: str) -> Iterator[Storage]:
        backend = SQLStorage(storage_url)
        yield backend
        backend.close()

    @pytest.fixture
    def storage_opener(self, storage_url: str) -> Callable[[], Storage]:
        return functools.partial(SQLStorage, storage_url)

    def test_an_older_database_gains_the_columns_and_tables_added_later(self, storage_url: str) -> None:
        storage = SQLStorage(storage_url)
        study = new_study(storage)
        trial = add(storage, study.study_id)
        storage.close()
        engine = sa.create_engine(storage_url)
        with engine.begin() as conn:  # as a shoal without them left it
            conn.exec_driver_sql("ALTER TABLE shoal_studies DROP COLUMN paused")
            conn.exec_driver_sql("ALTER TABLE shoal_trials DROP COLUMN stop_requested")
            conn.exec_driver_sql("ALTER TABLE shoal_trials DROP COLUMN failure")
            conn.exec_driver_sql("DROP TABLE shoal_round_boxes")
            conn.exec_driver_sql("ALTER TABLE shoal_trials DROP COLUMN n_changes")
            conn.exec_driver_sql("ALTER TABLE shoal_trials DROP COLUMN changes_pending")
            conn.exec_driver_sql("DROP TABLE shoal_changes")
        engine.dispose()
        reopened = SQLStorage(storage_url)
        try:
            assert reopened.read_trials(study.study_id)[0].failure is None
            assert reopened.get_study("s").paused is False
            assert reopened.request_stop(trial.trial_id) is True
            assert reopened.add_report(trial.trial_id, 0, 1.0).stop is True
            assert reopened.request_changes(trial.trial_id, [ConfigChange(0, "x", 0.5, 0.25, "person")])
            assert reopened.poll_trial(trial.trial_id, 1).changes == {"x": 0.25}
            assert reopened.read_trials(study.study_id)[0].schedule == [(0, {"x": 0.5}), (1, {"x": 0.25})]
            reopened.set_paused(study.study_id, True)
            assert reopened.is_paused(study.study_id)
            failed = reopened.set_state(trial.trial_id, RUNNING, FAILED, failure=FailureKind.WORKER_DIED)
            assert failed.failure is FailureKind.WORKER_DIED
            assert reopened.read_trials(study.study_id)[0].failure is FailureKind.WORKER_DIED
            assert reopened.read_round_boxes(study.study_id) == {}
            reopened.add_round_box(study.study_id, 0, {"x": (0.0, 0.5)})
            assert reopened.read_round_boxes(study.study_id) == {0: {"x": (0.0, 0.5)}}
        finally:
            reopened.close()


class TestSQLite(SQLConformance):
    @pytest.fixture
    def storage_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'shoal.db'}"


class TestPostgreSQL(SQLConformance):
    @pytest.fixture
    def storage_url(self, postgres_url: str) -> str:
        """A fresh schema on $SHOAL_TEST_POSTGRES_URL's server (skipped when it is unset)."""
        return postgres_url


def test_sqlite_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """Six processes create the schema of a new SQLite file at the same moment: no 'database is locked'.

    The race (two processes switching a new file to WAL) hits about one round in twenty, so three
    fresh files are tried.
    """
    for round_ in range(3):
        url = f"sqlite:///{tmp_path / f'fresh{round_}.db'}"
        results = run_processes(_open_and_create, lambda i, url=url: (url, i), 6)
        assert sorted(results) == list(range(6))
        storage = SQLStorage(url)
        try:
            trials = storage.read_trials(storage.get_study("fresh").study_id)
            assert numbers(trials) == list(range(6))
            assert sorted(t.config["i"] for t in trials) == list(range(6))
        finally:
            storage.close()


def _open_and_create(url: str, index: int, barrier, results) -> None:
    try:
        barrier.wait(60)
        storage = SQLStorage(url)
        try:
            try:
                storage.create_study("fresh", "minimize", SPACE, "Random()")
            except StudyExists:
                pass
            study_id = storage.get_study("fresh").study_id
            storage.create_trial(study_id, QUEUED, {"i": index}, {})
            results.put(("ok", index))
        finally:
            storage.close()
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        results.put(("error", repr(exc)))

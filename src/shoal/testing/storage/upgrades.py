"""What the SQL storage owes beyond the shared contract: a database written by an older shoal opens and
gains what it lacks, and the typed value rows are plain rows SQL can read (and delete)."""

from __future__ import annotations

import pytest

from ...storage import Storage
from .metrics import OBJECTIVES
from .support import COMPLETE, RUNNING, add, finish, new_study


class SQLUpgradeContract:
    """For ``shoal.storage.SQLStorage``: mix it into a conformance class whose ``storage_url`` fixture
    gives the URL of a fresh, empty database (SQLite or PostgreSQL)."""

    @pytest.fixture
    def storage_url(self) -> str:
        pytest.fail(f"{type(self).__name__}: override the storage_url fixture to give the URL of a fresh, "
                    "empty database", pytrace=False)

    def test_a_database_from_before_objectives_opens_and_migrates(self, storage_url: str) -> None:
        import sqlalchemy as sa

        from ...storage import SQLStorage

        storage = SQLStorage(storage_url)
        study = new_study(storage, "old", "maximize")
        done = finish(storage, add(storage, study.study_id), COMPLETE, 0.5)
        running = add(storage, study.study_id)
        storage.add_report(running.trial_id, 0, 0.25)
        storage.close()
        engine = sa.create_engine(storage_url)
        with engine.begin() as conn:  # as a shoal without several objectives left it
            conn.exec_driver_sql("DROP TABLE shoal_metrics")
            conn.exec_driver_sql("ALTER TABLE shoal_trials DROP COLUMN feasible")
            conn.exec_driver_sql("ALTER TABLE shoal_studies DROP COLUMN objectives")
        engine.dispose()
        reopened = SQLStorage(storage_url)
        try:
            old = reopened.get_study("old")
            assert (old.direction, old.objectives) == ("maximize", None)
            before = reopened.read_trials(study.study_id)
            assert [(t.state, t.value, t.values, t.feasible) for t in before] == [
                (COMPLETE, 0.5, {}, None), (RUNNING, None, {}, None)
            ]
            assert before[0].finished_at == done.finished_at and before[1].reports == [(0, 0.25)]
            finished = reopened.set_state(running.trial_id, RUNNING, COMPLETE, value=0.75,
                                          values={"value": 0.75, "memory_mb": 64.0}, feasible=True)
            assert (finished.values, finished.feasible) == ({"value": 0.75, "memory_mb": 64.0}, True)
            assert reopened.read_trials(study.study_id, after=0)[0].values == finished.values
            made = reopened.create_study("new", "maximize", {}, "Random()", objectives=OBJECTIVES)
            assert reopened.get_study("new").objectives == OBJECTIVES == made.objectives
            (summary, _) = reopened.list_studies()
            assert summary.best_value == 0.75
            reopened.delete_study("old")
            assert [s.record.name for s in reopened.list_studies()] == ["new"]
        finally:
            reopened.close()

    def test_a_database_from_before_schedulers_devices_notes_migrates(self, storage_url: str) -> None:
        import sqlalchemy as sa

        from ...storage import SQLStorage

        storage = SQLStorage(storage_url)
        study = new_study(storage, "old")
        trial = add(storage, study.study_id)
        storage.close()
        engine = sa.create_engine(storage_url)
        with engine.begin() as conn:  # as a shoal that stored neither the scheduler nor devices left it
            conn.exec_driver_sql("ALTER TABLE shoal_studies DROP COLUMN scheduler")
            conn.exec_driver_sql("ALTER TABLE shoal_trials DROP COLUMN device")
            conn.exec_driver_sql("DROP TABLE shoal_notes")  # and neither notes
            conn.exec_driver_sql("ALTER TABLE shoal_trials DROP COLUMN has_note")
        engine.dispose()
        reopened = SQLStorage(storage_url)
        try:
            assert reopened.read_trials(study.study_id)[0].device is None
            reopened.set_device(trial.trial_id, "cuda:0")
            assert reopened.read_trials(study.study_id)[0].device == "cuda:0"
            assert reopened.get_study("old").scheduler is None
            reopened.update_study(study.study_id, scheduler="PBT(population=4)")
            assert reopened.get_study("old").scheduler == "PBT(population=4)"
            reopened.create_study("new", "minimize", {}, "Random()", scheduler="ASHA()")
            assert [s.record.scheduler for s in reopened.list_studies()] == [
                "PBT(population=4)", "ASHA()"]
            assert reopened.read_trials(study.study_id)[0].note is None
            reopened.set_note(study.study_id, "noted", trial_number=trial.number)
            assert reopened.read_trials(study.study_id)[0].note == "noted"
        finally:
            reopened.close()

    def test_values_are_typed_rows_that_sql_reads_and_delete_study_removes(
        self, storage: Storage, storage_url: str
    ) -> None:
        import sqlalchemy as sa

        study = storage.create_study("mo", "maximize", {}, "Random()", objectives=OBJECTIVES)
        other = storage.create_study("kept", "maximize", {}, "Random()", objectives=OBJECTIVES)
        for study_id, accuracy in ((study.study_id, 0.9), (study.study_id, 0.7), (other.study_id, 0.1)):
            storage.set_state(add(storage, study_id).trial_id, RUNNING, COMPLETE, value=accuracy,
                              values={"accuracy": accuracy, "latency_ms": 5.0}, feasible=accuracy > 0.8)
        engine = sa.create_engine(storage_url)
        query = sa.text(
            "SELECT s.name, t.number, t.feasible, m.name, m.value FROM shoal_metrics m "
            "JOIN shoal_trials t ON t.trial_id = m.trial_id JOIN shoal_studies s ON s.study_id = t.study_id "
            "WHERE m.name = 'accuracy' ORDER BY s.name, t.number"
        )
        try:
            with engine.connect() as conn:
                rows = [(s, n, bool(f), m, v) for s, n, f, m, v in conn.execute(query)]
            assert rows == [("kept", 0, False, "accuracy", 0.1), ("mo", 0, True, "accuracy", 0.9),
                            ("mo", 1, False, "accuracy", 0.7)]
            storage.delete_study("mo")
            with engine.connect() as conn:
                left = conn.execute(sa.text("SELECT COUNT(*) FROM shoal_metrics")).scalar()
            assert left == 2  # the kept study's two rows
        finally:
            engine.dispose()

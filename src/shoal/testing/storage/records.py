"""Reading back, types, drivers, summaries, steering, and the typed records beside trials."""

from __future__ import annotations

import math
import threading
from datetime import datetime

import pytest

from ...storage import StateConflict, Storage, StudyNotFound
from .support import (
    COMPLETE,
    FAILED,
    PAUSED,
    PRUNED,
    QUEUED,
    RUNNING,
    TYPED_CONFIG,
    add,
    finish,
    new_study,
    numbers,
    racer_box,
    run_threads,
)


class RecordContract:
    """Part of ``StorageConformance``; needs its ``storage`` (and ``storage_opener``) fixtures."""

    # -- reading incrementally -------------------------------------------------------------------------

    def test_read_trials_after_and_numbers(self, storage: Storage) -> None:
        study = new_study(storage)
        made = [add(storage, study.study_id, x=i / 10) for i in range(6)]
        assert numbers(storage.read_trials(study.study_id)) == [0, 1, 2, 3, 4, 5]
        assert numbers(storage.read_trials(study.study_id, after=3)) == [4, 5]
        assert numbers(storage.read_trials(study.study_id, after=5)) == []
        assert numbers(storage.read_trials(study.study_id, after=3, numbers=[1, 0])) == [0, 1, 4, 5]
        # numbers above `after` are not repeated, unknown numbers are ignored
        assert numbers(storage.read_trials(study.study_id, after=3, numbers={1, 4, 99, -3})) == [1, 4, 5]
        assert numbers(storage.read_trials(study.study_id, after=5, numbers=[2])) == [2]
        assert numbers(storage.read_trials(study.study_id, after=-1, numbers=[2])) == [0, 1, 2, 3, 4, 5]
        assert storage.read_trials(study.study_id, after=1, numbers=[0])[0].config == made[0].config

    def test_read_trials_sees_what_changed_since_the_last_look(self, storage: Storage) -> None:
        """The pattern a driver uses: new trials after the last number seen, plus the ones it watches."""
        study = new_study(storage)
        first = [add(storage, study.study_id) for _ in range(3)]
        seen = storage.read_trials(study.study_id)
        last, watching = seen[-1].number, {t.number for t in seen if t.state == RUNNING}
        finish(storage, first[1], COMPLETE, 4.0)
        storage.add_report(first[2].trial_id, 0, 1.5)
        add(storage, study.study_id, QUEUED)
        update = storage.read_trials(study.study_id, after=last, numbers=watching)
        assert [(t.number, t.state) for t in update] == [
            (0, RUNNING), (1, COMPLETE), (2, RUNNING), (3, QUEUED)
        ]
        assert update[1].value == 4.0 and update[2].reports == [(0, 1.5)]
        assert storage.read_trials(study.study_id, after=3) == []

    def test_trials_read_back_are_copies(self, storage: Storage) -> None:
        study = new_study(storage)
        made = add(storage, study.study_id, x=0.5)
        made.config["x"] = 99
        (stored,) = storage.read_trials(study.study_id)
        stored.config["y"] = 1
        stored.reports.append((0, 1.0))
        (again,) = storage.read_trials(study.study_id)
        assert again.config == {"x": 0.5} and again.reports == []

    # -- types -----------------------------------------------------------------------------------------

    def test_config_and_unit_types_survive_storage(self, storage: Storage) -> None:
        study = new_study(storage)
        unit = {"int": 0.0, "float": 1.0, "tiny": 5e-324, "third": 1 / 3}
        made = storage.create_trial(study.study_id, QUEUED, TYPED_CONFIG, unit)
        claimed = storage.claim_queued(study.study_id, None)
        for trial in (made, claimed, *storage.read_trials(study.study_id)):
            assert [(k, type(v), v) for k, v in trial.config.items()] == [
                (k, type(v), v) for k, v in TYPED_CONFIG.items()
            ]
            assert trial.unit == unit and all(type(v) is float for v in trial.unit.values())

    def test_values_and_errors_keep_their_types(self, storage: Storage) -> None:
        study = new_study(storage)
        values = [0.1, -2.5, 1e-300, 1e300, 7, 0.0]
        for v in values:
            finish(storage, add(storage, study.study_id), COMPLETE, v)
        error = "KeyError: 'ключ' — 🐟\nline 2\ttab"
        finish(storage, add(storage, study.study_id), FAILED, None, error)
        stored = storage.read_trials(study.study_id)
        assert [t.value for t in stored[:-1]] == [float(v) for v in values]
        assert all(type(t.value) is float for t in stored[:-1])
        assert stored[-1].value is None and stored[-1].error == error

    def test_a_config_storage_cannot_keep_is_refused_naming_the_value(self, storage: Storage) -> None:
        """Every backend refuses what SQL could not store, so memory-backed tests catch it too."""
        study = new_study(storage)
        with pytest.raises(ValueError, match=r"config\['x'\] is nan; storage keeps finite numbers only"):
            storage.create_trial(study.study_id, QUEUED, {"ok": 1, "x": math.nan}, {})
        with pytest.raises(ValueError, match=r"unit\['x'\] is inf"):
            storage.create_trial(study.study_id, RUNNING, {"x": 1.0}, {"x": math.inf})
        with pytest.raises(ValueError, match=r"config\['model'\] is .*\(object\); storage keeps str, int"):
            storage.create_trial(study.study_id, QUEUED, {"model": object()}, {})
        assert storage.read_trials(study.study_id) == []
        assert add(storage, study.study_id).number == 0

    # -- drivers ---------------------------------------------------------------------------------------

    def test_register_driver_heartbeat_and_running_with_drivers(self, storage: Storage) -> None:
        study, other = new_study(storage, "s"), new_study(storage, "other")
        d1, d2 = storage.register_driver("node-1", 101), storage.register_driver("node-2", 202)
        assert d1 != d2
        t0 = add(storage, study.study_id, driver_id=d1)
        t1 = add(storage, study.study_id, driver_id=d2)
        add(storage, study.study_id)  # no driver known
        t3 = add(storage, study.study_id, driver_id=d1)
        add(storage, study.study_id, QUEUED, driver_id=d2)
        add(storage, other.study_id, driver_id=d2)
        finish(storage, t3)
        running = storage.running_with_drivers(study.study_id)
        assert [t.number for t, _ in running] == [0, 1, 2]
        assert all(t.state == RUNNING for t, _ in running)
        (_, r0), (_, r1), (_, r2) = running
        assert (r0.driver_id, r0.host, r0.pid) == (d1, "node-1", 101)
        assert (r1.driver_id, r1.host, r1.pid) == (d2, "node-2", 202)
        assert r2 is None
        before = r0.heartbeat_at
        assert isinstance(before, datetime) and before.tzinfo is not None
        storage.heartbeat(d1)
        after = dict((t.number, d) for t, d in storage.running_with_drivers(study.study_id))
        assert after[0].heartbeat_at >= before
        assert after[1].heartbeat_at == r1.heartbeat_at  # only the driver that beat moved
        finish(storage, t0)
        finish(storage, t1, FAILED, None, "gone")
        assert [t.number for t, _ in storage.running_with_drivers(study.study_id)] == [2]

    # -- summaries -------------------------------------------------------------------------------------

    @pytest.mark.parametrize(("direction", "best"), [("minimize", -1.0), ("maximize", 5.0)])
    def test_list_studies_counts_states_and_finds_the_best(
        self, storage: Storage, direction: str, best: float
    ) -> None:
        study = new_study(storage, "s", direction)
        empty = new_study(storage, "empty", direction)
        for value in (3.0, -1.0, 5.0, 0.0):
            finish(storage, add(storage, study.study_id), COMPLETE, value)
        # values of trials that did not complete never count as the best
        finish(storage, add(storage, study.study_id), PRUNED, 100.0 if direction == "maximize" else -100.0)
        finish(storage, add(storage, study.study_id), FAILED, None, "boom")
        add(storage, study.study_id, QUEUED)
        add(storage, study.study_id, RUNNING)
        summaries = {s.record.name: s for s in storage.list_studies()}
        summary = summaries["s"]
        assert summary.record == storage.get_study("s")
        assert summary.counts == {COMPLETE: 4, PRUNED: 1, FAILED: 1, QUEUED: 1, RUNNING: 1}
        assert summary.n_trials == 8
        assert summary.best_value == best
        assert summaries["empty"].counts == {} and summaries["empty"].best_value is None
        assert summaries["empty"].n_trials == 0 and summaries["empty"].record == empty

    # -- steering by a person (the dashboard's panda mode) ---------------------------------------------

    def test_a_study_is_paused_and_resumed_on_its_own(self, storage: Storage) -> None:
        one, two = new_study(storage, "one"), new_study(storage, "two")
        assert (one.paused, storage.is_paused(one.study_id)) == (False, False)
        storage.set_paused(one.study_id, True)
        assert storage.is_paused(one.study_id) and not storage.is_paused(two.study_id)
        assert storage.get_study("one").paused and not storage.get_study("two").paused
        assert [s.record.paused for s in storage.list_studies()] == [True, False]
        storage.update_study(one.study_id, sampler="Grid(5)")  # other updates keep the flag
        assert storage.get_study("one").paused
        storage.set_paused(one.study_id, False)
        assert not storage.is_paused(one.study_id) and not storage.get_study("one").paused

    def test_a_stop_request_is_answered_by_the_trials_next_report(self, storage: Storage) -> None:
        study = new_study(storage)
        target, other = add(storage, study.study_id), add(storage, study.study_id)
        queued = add(storage, study.study_id, QUEUED)
        assert target.stop_requested is False
        assert storage.add_report(target.trial_id, 0, 1.0).stop is False
        assert storage.request_stop(target.trial_id) is True
        assert storage.add_report(target.trial_id, 1, 0.5).stop is True
        assert storage.add_report(target.trial_id, 1, 0.4).stop is True  # a replaced step answers the same
        assert storage.poll_trial(target.trial_id, 2).stop is True  # so does a poll between reports
        assert storage.add_report(other.trial_id, 0, 2.0).stop is False
        got = {t.number: t.stop_requested for t in storage.read_trials(study.study_id)}
        assert got == {0: True, 1: False, 2: False}
        # only a RUNNING trial can be asked to stop; a finished one keeps the request it had
        assert storage.request_stop(queued.trial_id) is False
        finish(storage, other)
        assert storage.request_stop(other.trial_id) is False
        done = finish(storage, target, PRUNED, 0.4)
        assert done.stop_requested is True and done.state == PRUNED

    # -- rung records and resumed trials (successive-halving schedulers) -------------------------------

    def test_rung_records_are_typed_and_the_first_one_wins(self, storage: Storage) -> None:
        from shoal.records import RungRecord

        study, other = new_study(storage, "s"), new_study(storage, "t")
        a, b = add(storage, study.study_id), add(storage, study.study_id)
        elsewhere = add(storage, other.study_id)
        assert storage.read_rungs(study.study_id) == []
        assert storage.add_rung(b.trial_id, RungRecord(b.number, 0, 0, 1, 0.5)) is True
        assert storage.add_rung(a.trial_id, RungRecord(a.number, 0, 1, 3, 2)) is True
        assert storage.add_rung(a.trial_id, RungRecord(a.number, 0, 0, 1, 0.25)) is True
        assert storage.add_rung(a.trial_id, RungRecord(a.number, 0, 0, 2, 9.0)) is False  # first wins
        assert storage.add_rung(a.trial_id, RungRecord(a.number, 1, 0, 3, 7.0)) is True  # other bracket
        assert storage.add_rung(elsewhere.trial_id, RungRecord(0, 0, 0, 1, 1.0)) is True
        got = storage.read_rungs(study.study_id)
        assert got == [
            RungRecord(0, 0, 0, 1, 0.25),
            RungRecord(0, 0, 1, 3, 2.0),
            RungRecord(0, 1, 0, 3, 7.0),
            RungRecord(1, 0, 0, 1, 0.5),
        ]
        assert all(isinstance(r.value, float) and isinstance(r.step, int) for r in got)
        assert storage.read_rungs(other.study_id) == [RungRecord(0, 0, 0, 1, 1.0)]
        storage.delete_study("s")
        assert storage.read_rungs(other.study_id) == [RungRecord(0, 0, 0, 1, 1.0)]

    def test_threads_racing_to_record_one_rung_store_it_once(self, storage: Storage) -> None:
        from shoal.records import RungRecord

        study = new_study(storage)
        trial = add(storage, study.study_id)
        won: list[float] = []

        def record(i: int) -> None:
            if storage.add_rung(trial.trial_id, RungRecord(trial.number, 0, 0, 1, float(i))):
                won.append(float(i))

        run_threads(record, 8)
        assert len(won) == 1
        assert [r.value for r in storage.read_rungs(study.study_id)] == won

    def test_promote_trial_moves_a_paused_trial_back_once(self, storage: Storage) -> None:
        study = new_study(storage)
        driver = storage.register_driver("host", 1)
        trial = add(storage, study.study_id)
        storage.set_state(trial.trial_id, RUNNING, PAUSED)
        resumed = storage.promote_trial(trial.trial_id, driver)
        assert resumed.state == RUNNING and resumed.number == trial.number
        running = storage.running_with_drivers(study.study_id)
        assert [(t.number, d.driver_id if d else None) for t, d in running] == [(trial.number, driver)]
        with pytest.raises(StateConflict, match="not PAUSED"):
            storage.promote_trial(trial.trial_id, driver)
        finish(storage, resumed)
        with pytest.raises(StateConflict):
            storage.promote_trial(trial.trial_id, driver)

    # -- checkpoint references and PBT lineage ---------------------------------------------------------

    def test_checkpoint_references_are_typed_replaced_per_step_and_deleted_by_uri(
        self, storage: Storage
    ) -> None:
        from shoal.checkpoints import CheckpointRef

        study, other = new_study(storage, "s"), new_study(storage, "t")
        a, b = add(storage, study.study_id), add(storage, study.study_id)
        elsewhere = add(storage, other.study_id)
        assert storage.read_checkpoints(study.study_id) == []
        storage.add_checkpoint(b.trial_id, 3, "/c/b/3.pkl")
        storage.add_checkpoint(a.trial_id, 2, "/c/a/2.pkl")
        storage.add_checkpoint(a.trial_id, 1, "/c/a/1.pkl")
        storage.add_checkpoint(a.trial_id, 2, "/c/a/2-again.pkl")  # the same step: replaced
        storage.add_checkpoint(elsewhere.trial_id, 1, "/c/e/1.pkl")
        got = storage.read_checkpoints(study.study_id)
        assert [(r.trial_number, r.step, r.uri) for r in got] == [
            (0, 1, "/c/a/1.pkl"), (0, 2, "/c/a/2-again.pkl"), (1, 3, "/c/b/3.pkl")
        ]
        assert all(isinstance(r, CheckpointRef) and isinstance(r.created_at, datetime) for r in got)
        assert [r.uri for r in storage.read_checkpoints(study.study_id, numbers=[1])] == ["/c/b/3.pkl"]
        # finished trials keep their references (a later segment starts from them)
        finish(storage, a)
        storage.delete_checkpoints(study.study_id, ["/c/a/1.pkl", "/c/e/1.pkl", "/nowhere"])
        assert [r.uri for r in storage.read_checkpoints(study.study_id)] == ["/c/a/2-again.pkl", "/c/b/3.pkl"]
        assert [r.uri for r in storage.read_checkpoints(other.study_id)] == ["/c/e/1.pkl"]  # not this study's

    def test_lineage_records_round_trip_with_their_old_config(self, storage: Storage) -> None:
        from shoal.records import LineageRecord

        study = new_study(storage)
        first, second = add(storage, study.study_id), add(storage, study.study_id, QUEUED)
        storage.add_lineage(second.trial_id, LineageRecord(
            -1, member=1, segment=2, parent=0, checkpoint="/c/0/4.pkl", step=4, donor=0,
            old_config={"lr": 0.1, "opt": None, "n": 3},
        ))
        storage.add_lineage(first.trial_id, LineageRecord(-1, member=0, segment=0))
        [fresh, copied] = storage.read_lineage(study.study_id)
        assert (fresh.trial_number, fresh.member, fresh.segment, fresh.parent, fresh.checkpoint) == (
            0, 0, 0, None, None
        )
        assert (fresh.step, fresh.donor, fresh.old_config) == (0, None, None)
        assert (copied.trial_number, copied.member, copied.segment, copied.parent) == (1, 1, 2, 0)
        assert (copied.checkpoint, copied.step, copied.donor) == ("/c/0/4.pkl", 4, 0)
        assert copied.old_config == {"lr": 0.1, "opt": None, "n": 3}
        assert isinstance(copied.created_at, datetime)
        copied.old_config["lr"] = 9.0  # a copy: storage keeps its own
        assert storage.read_lineage(study.study_id)[1].old_config["lr"] == 0.1
        with pytest.raises(ValueError, match="old_config"):
            storage.add_lineage(first.trial_id, LineageRecord(-1, 0, 1, old_config={"x": math.nan}))

    def test_deleting_a_study_deletes_its_checkpoint_references_and_lineage(self, storage: Storage) -> None:
        from shoal.records import LineageRecord

        study, kept = new_study(storage, "gone"), new_study(storage, "kept")
        trial, other = add(storage, study.study_id), add(storage, kept.study_id)
        storage.add_checkpoint(trial.trial_id, 1, "/c/1.pkl")
        storage.add_lineage(trial.trial_id, LineageRecord(-1, 0, 0))
        storage.add_checkpoint(other.trial_id, 1, "/k/1.pkl")
        storage.add_lineage(other.trial_id, LineageRecord(-1, 0, 0))
        storage.delete_study("gone")
        again = new_study(storage, "gone")
        assert storage.read_checkpoints(again.study_id) == [] and storage.read_lineage(again.study_id) == []
        assert [r.uri for r in storage.read_checkpoints(kept.study_id)] == ["/k/1.pkl"]
        assert len(storage.read_lineage(kept.study_id)) == 1

    # -- coarse-to-fine round boxes --------------------------------------------------------------------

    def test_round_boxes_round_trip_typed_by_round_and_dimension(self, storage: Storage) -> None:
        study, other = new_study(storage, "s"), new_study(storage, "t")
        assert storage.read_round_boxes(study.study_id) == {}
        storage.add_round_box(study.study_id, 2, {"x": (0.25, 0.5), "lr": (0.125, 0.125)})
        storage.add_round_box(study.study_id, 0, {"lr": (0, 1), "x": (0.0, 1.0), "β₁ ключ": (0.1, 0.3)})
        storage.add_round_box(study.study_id, 1, {"x": (1 / 3, 2 / 3)})
        storage.add_round_box(other.study_id, 0, {"y": (0.5, 0.75)})
        got = storage.read_round_boxes(study.study_id)
        assert got == {
            0: {"lr": (0.0, 1.0), "x": (0.0, 1.0), "β₁ ключ": (0.1, 0.3)},
            1: {"x": (1 / 3, 2 / 3)},
            2: {"lr": (0.125, 0.125), "x": (0.25, 0.5)},
        }
        assert list(got) == [0, 1, 2] and [list(box) for box in got.values()] == [
            ["lr", "x", "β₁ ключ"], ["x"], ["lr", "x"]
        ]
        assert all(type(b) is float for box in got.values() for bounds in box.values() for b in bounds)
        assert storage.read_round_boxes(other.study_id) == {0: {"y": (0.5, 0.75)}}
        got[0]["x"] = (0.9, 0.9)  # a copy: storage keeps its own
        assert storage.read_round_boxes(study.study_id)[0]["x"] == (0.0, 1.0)

    def test_the_first_box_of_a_round_wins(self, storage: Storage) -> None:
        study = new_study(storage)
        storage.add_round_box(study.study_id, 1, {"x": (0.2, 0.4), "y": (0.0, 0.5)})
        storage.add_round_box(study.study_id, 1, {"x": (0.6, 0.8), "y": (0.5, 1.0)})  # same dimensions
        storage.add_round_box(study.study_id, 1, {"z": (0.1, 0.2)})  # other dimensions: not merged either
        storage.add_round_box(study.study_id, 0, {"x": (0.0, 1.0)})
        assert storage.read_round_boxes(study.study_id) == {
            0: {"x": (0.0, 1.0)}, 1: {"x": (0.2, 0.4), "y": (0.0, 0.5)}
        }

    def test_a_malformed_round_box_is_refused_naming_what_is_wrong(self, storage: Storage) -> None:
        study = new_study(storage)
        cases = [
            (-1, {"x": (0.0, 1.0)}, r"round must be an int >= 0, got -1"),
            (True, {"x": (0.0, 1.0)}, r"round must be an int >= 0, got True"),
            (0, {}, r"round 0: the box must map dimension names to \(low, high\)"),
            (0, {"": (0.0, 1.0)}, r"a dimension name must be a string of 1 to 255 characters"),
            (0, {"x" * 256: (0.0, 1.0)}, r"a dimension name must be a string of 1 to 255 characters"),
            (0, {"x": 0.5}, r"box\['x'\] must be \(low, high\), got 0.5"),
            (0, {"x": (0.1, 0.2, 0.3)}, r"box\['x'\] must be \(low, high\)"),
            (0, {"x": (0.6, 0.4)}, r"0 <= low <= high <= 1 \(the unit cube\), got \(0.6, 0.4\)"),
            (0, {"x": (-0.1, 0.4)}, r"0 <= low <= high <= 1"),
            (0, {"x": (0.0, math.inf)}, r"0 <= low <= high <= 1"),
            (0, {"x": (math.nan, 0.5)}, r"0 <= low <= high <= 1"),
            (0, {"x": ("0", "1")}, r"0 <= low <= high <= 1"),
            (0, {"ok": (0.0, 1.0), "x": (False, True)}, r"box\['x'\] must be numbers"),
        ]
        for round_, box, message in cases:
            with pytest.raises(ValueError, match=message):
                storage.add_round_box(study.study_id, round_, box)
        assert storage.read_round_boxes(study.study_id) == {}  # nothing of a refused box is kept
        with pytest.raises(StudyNotFound, match="no study with id"):
            storage.add_round_box(study.study_id + 1000, 0, {"x": (0.0, 1.0)})

    def test_threads_racing_to_write_one_round_keep_one_whole_box(self, storage: Storage) -> None:
        study = new_study(storage)
        n_threads = 8
        barrier = threading.Barrier(n_threads)
        errors: list[BaseException] = []

        def writer(index: int) -> None:
            try:
                barrier.wait(30)
                storage.add_round_box(study.study_id, 3, racer_box(index))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        run_threads(writer, n_threads)
        assert errors == []
        (box,) = storage.read_round_boxes(study.study_id).values()
        assert box in [racer_box(i) for i in range(n_threads)]  # one writer's box, whole

    def test_deleting_a_study_deletes_its_round_boxes(self, storage: Storage) -> None:
        kept, gone = new_study(storage, "kept"), new_study(storage, "gone")
        storage.add_round_box(kept.study_id, 0, {"x": (0.0, 1.0)})
        storage.add_round_box(gone.study_id, 0, {"x": (0.25, 0.75)})
        storage.add_round_box(gone.study_id, 1, {"x": (0.5, 0.75)})
        storage.delete_study("gone")
        # the newest study's id may be used again (SQLite does): the new study starts with no boxes
        again = new_study(storage, "gone")
        assert storage.read_round_boxes(again.study_id) == {}
        assert storage.read_round_boxes(gone.study_id) == {}
        storage.add_round_box(again.study_id, 0, {"x": (0.125, 0.25)})  # round 0 is free again
        assert storage.read_round_boxes(again.study_id) == {0: {"x": (0.125, 0.25)}}
        assert storage.read_round_boxes(kept.study_id) == {0: {"x": (0.0, 1.0)}}

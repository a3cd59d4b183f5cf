"""The study and trial contract: studies, numbering, claims, compare-and-set states, reports."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime

import pytest

from ...storage import ClaimTaken, StateConflict, Storage, StudyExists, StudyNotFound
from ...trial import FailureKind
from .support import (
    COMPLETE,
    FAILED,
    FINISHED,
    PAUSED,
    PRUNED,
    QUEUED,
    RUNNING,
    SPACE,
    STALE,
    add,
    finish,
    new_study,
    numbers,
    run_threads,
)


class TrialContract:
    """Part of ``StorageConformance``; needs its ``storage`` (and ``storage_opener``) fixtures."""

    # -- studies ---------------------------------------------------------------------------------------

    def test_create_and_get_a_study(self, storage: Storage) -> None:
        record = new_study(storage, "tune-mlp", "maximize")
        assert (record.name, record.direction, record.sampler) == ("tune-mlp", "maximize", "Random(seed=0)")
        assert record.space == SPACE
        assert isinstance(record.created_at, datetime) and record.created_at.tzinfo is not None
        again = storage.get_study("tune-mlp")
        assert again == record
        # the space keeps its order (a parent before its children) and its value types
        assert list(again.space) == ["lr", "opt", "beta1"]
        values = again.space["opt"]["values"]
        assert [(type(v), v) for v in values] == [(type(v), v) for v in SPACE["opt"]["values"]]

    def test_a_study_name_is_taken_once(self, storage: Storage) -> None:
        new_study(storage, "s")
        with pytest.raises(StudyExists, match=r"'s' already exists"):
            new_study(storage, "s")
        assert issubclass(StudyExists, ValueError)  # Study relies on it when two drivers race to create
        assert [s.record.name for s in storage.list_studies()] == ["s"]

    def test_study_not_found_names_the_studies_that_exist(self, storage: Storage) -> None:
        with pytest.raises(StudyNotFound, match=r"no study named 'nope' .*\(studies: none\)"):
            storage.get_study("nope")
        new_study(storage, "beta")
        new_study(storage, "alpha")
        with pytest.raises(StudyNotFound, match=r"no study named 'nope' .*\(studies: 'alpha', 'beta'\)"):
            storage.get_study("nope")
        with pytest.raises(StudyNotFound, match=r"'nope'.*'alpha', 'beta'"):
            storage.delete_study("nope")
        assert isinstance(StudyNotFound("x"), KeyError)

    def test_list_studies_in_creation_order(self, storage: Storage) -> None:
        assert storage.list_studies() == []
        for name in ("b", "a", "c"):
            new_study(storage, name)
        assert [s.record.name for s in storage.list_studies()] == ["b", "a", "c"]

    def test_update_study_replaces_space_and_sampler(self, storage: Storage) -> None:
        record = new_study(storage)
        wider = {**SPACE, "units": {"type": "int", "low": 1, "high": 8}}
        storage.update_study(record.study_id, space=wider)
        assert storage.get_study("s").space == wider
        assert storage.get_study("s").sampler == "Random(seed=0)"
        storage.update_study(record.study_id, sampler="Grid(resolution=3)")
        after = storage.get_study("s")
        assert (after.space, after.sampler) == (wider, "Grid(resolution=3)")
        assert (after.study_id, after.created_at, after.direction) == (
            record.study_id,
            record.created_at,
            record.direction,
        )

    def test_a_study_keeps_its_scheduler_description(self, storage: Storage) -> None:
        plain = new_study(storage, "plain")
        assert plain.scheduler is None  # none given
        made = storage.create_study("pbt", "minimize", SPACE, "Random()", scheduler="PBT(population=4)")
        assert made.scheduler == storage.get_study("pbt").scheduler == "PBT(population=4)"
        storage.update_study(plain.study_id, sampler="TPE()")  # other updates keep it
        assert storage.get_study("plain").scheduler is None
        storage.update_study(plain.study_id, scheduler="ASHA(min_resource=1)")
        after = storage.get_study("plain")
        assert (after.sampler, after.scheduler) == ("TPE()", "ASHA(min_resource=1)")
        storage.update_study(plain.study_id, space=SPACE)
        assert [s.record.scheduler for s in storage.list_studies()] == ["ASHA(min_resource=1)",
                                                                         "PBT(population=4)"]

    def test_a_trial_keeps_the_device_it_ran_on(self, storage: Storage) -> None:
        record = new_study(storage)
        first, second = add(storage, record.study_id), add(storage, record.study_id)
        assert first.device is None  # none given
        storage.set_device(first.trial_id, "cuda:1")
        storage.set_device(second.trial_id, "cuda:0")
        storage.set_device(second.trial_id, "GPU 3 on tcp://10.0.0.7:4021")  # the last one stands
        finish(storage, first)  # finishing keeps it
        read = {t.number: t for t in storage.read_trials(record.study_id)}
        assert (read[first.number].device, read[second.number].device) == (
            "cuda:1", "GPU 3 on tcp://10.0.0.7:4021")
        assert read[first.number].to_dict()["device"] == "cuda:1"
        for bad in ("", "x" * 256, 3, None):
            with pytest.raises(ValueError, match="device must be a string of 1 to 255 characters"):
                storage.set_device(first.trial_id, bad)  # type: ignore[arg-type]
        assert storage.read_trials(record.study_id)[0].device == "cuda:1"

    def test_update_study_rewrites_unit_coordinates_with_the_space(self, storage: Storage) -> None:
        record = new_study(storage)
        first, second = add(storage, record.study_id, x=0.5), add(storage, record.study_id, x=0.7)
        finish(storage, first)
        wider = {**SPACE, "lr": {"type": "float", "low": 0.0001, "high": 10.0, "scale": "log"}}
        storage.update_study(record.study_id, space=wider, units={first.trial_id: {"lr": 0.25}})
        after = {t.number: t for t in storage.read_trials(record.study_id)}
        assert after[first.number].unit == {"lr": 0.25}  # a finished trial's coordinates move too
        assert after[first.number].state == COMPLETE and after[first.number].config == first.config
        assert after[second.number].unit == second.unit  # trials not named keep theirs
        assert storage.get_study("s").space == wider

    def test_delete_study_removes_it_and_its_trials(self, storage: Storage) -> None:
        record = new_study(storage, "gone")
        keep = new_study(storage, "kept")
        trial = add(storage, record.study_id, claim="g0")
        storage.add_report(trial.trial_id, 0, 1.0)
        finish(storage, trial)
        add(storage, keep.study_id)
        storage.delete_study("gone")
        with pytest.raises(StudyNotFound):
            storage.get_study("gone")
        assert [s.record.name for s in storage.list_studies()] == ["kept"]
        assert numbers(storage.read_trials(keep.study_id)) == [0]
        # the name is free again, and the new study starts from trial 0 with its claims free
        fresh = new_study(storage, "gone")
        assert fresh.study_id != record.study_id
        assert storage.read_trials(fresh.study_id) == []
        assert add(storage, fresh.study_id, claim="g0").number == 0

    # -- trials: numbering, claims, states -------------------------------------------------------------

    def test_trials_are_numbered_from_zero_per_study(self, storage: Storage) -> None:
        a, b = new_study(storage, "a"), new_study(storage, "b")
        made = [add(storage, a.study_id, QUEUED if i % 2 else RUNNING) for i in range(5)]
        assert numbers(made) == [0, 1, 2, 3, 4]
        assert add(storage, b.study_id).number == 0
        assert numbers(storage.read_trials(a.study_id)) == [0, 1, 2, 3, 4]
        assert len({t.trial_id for t in made}) == 5

    def test_a_new_trial_is_queued_or_running(self, storage: Storage) -> None:
        study = new_study(storage)
        queued, running = add(storage, study.study_id, QUEUED), add(storage, study.study_id, RUNNING)
        assert queued.state == QUEUED and queued.started_at is None and queued.created_at is not None
        assert running.state == RUNNING and running.started_at is not None
        assert queued.finished_at is None and queued.value is None and queued.reports == []
        for state in (COMPLETE, FAILED, PAUSED, STALE):
            with pytest.raises(ValueError, match="QUEUED or RUNNING"):
                add(storage, study.study_id, state)
        assert numbers(storage.read_trials(study.study_id)) == [0, 1]

    def test_a_trial_keeps_round_claim_and_lineage(self, storage: Storage) -> None:
        study = new_study(storage)
        first = add(storage, study.study_id, claim="grid:0", round=2)
        again = add(storage, study.study_id, QUEUED, requeued_from=first.number)
        stored = storage.read_trials(study.study_id)
        assert (stored[0].claim, stored[0].round, stored[0].requeued_from) == ("grid:0", 2, None)
        assert (stored[1].claim, stored[1].round, stored[1].requeued_from) == (None, None, 0)
        assert stored[0].trial_id == first.trial_id and stored[1].trial_id == again.trial_id

    def test_a_trial_keeps_which_model_proposed_it(self, storage: Storage) -> None:
        study = new_study(storage)
        told = add(storage, study.study_id, proposed_by="gp: 60 trials planned, 3 continuous dimensions")
        plain = add(storage, study.study_id)
        assert told.proposed_by == "gp: 60 trials planned, 3 continuous dimensions"
        stored = storage.read_trials(study.study_id)
        assert [t.proposed_by for t in stored] == [told.proposed_by, None] and plain.proposed_by is None
        assert stored[0].to_dict()["proposed_by"] == told.proposed_by

    def test_claim_keys_are_unique_within_a_study(self, storage: Storage) -> None:
        a, b = new_study(storage, "a"), new_study(storage, "b")
        add(storage, a.study_id, claim="grid:7")
        with pytest.raises(ClaimTaken, match="grid:7"):
            add(storage, a.study_id, claim="grid:7")
        with pytest.raises(ClaimTaken):
            add(storage, a.study_id, QUEUED, claim="grid:7")
        # another study may hold the same key; trials without a key never collide
        assert add(storage, b.study_id, claim="grid:7").number == 0
        assert numbers([add(storage, a.study_id), add(storage, a.study_id)]) == [1, 2]
        # a refused claim leaves no gap in the numbering and no trial behind
        assert numbers(storage.read_trials(a.study_id)) == [0, 1, 2]

    def test_threads_racing_for_one_claim_key_get_it_once(self, storage: Storage) -> None:
        study = new_study(storage)
        n_threads, n_keys = 6, 8
        barrier = threading.Barrier(n_threads)
        won: list[tuple[int, str]] = []
        errors: list[BaseException] = []

        def racer(index: int) -> None:
            try:
                barrier.wait(30)
                for k in range(n_keys):
                    try:
                        add(storage, study.study_id, claim=f"point:{k}")
                        won.append((index, f"point:{k}"))
                    except ClaimTaken:
                        pass
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        run_threads(racer, n_threads)
        assert errors == []
        assert sorted(key for _, key in won) == sorted(f"point:{k}" for k in range(n_keys))
        trials = storage.read_trials(study.study_id)
        assert numbers(trials) == list(range(n_keys))
        assert sorted(t.claim for t in trials) == sorted(f"point:{k}" for k in range(n_keys))

    def test_claim_queued_takes_the_oldest_queued_trial(self, storage: Storage) -> None:
        study, other = new_study(storage, "s"), new_study(storage, "other")
        assert storage.claim_queued(study.study_id, None) is None
        add(storage, study.study_id, RUNNING, x=0.0)
        add(storage, study.study_id, QUEUED, x=0.1)
        add(storage, study.study_id, QUEUED, x=0.2)
        add(storage, other.study_id, QUEUED, x=0.9)
        driver = storage.register_driver("host-a", 4242)
        first = storage.claim_queued(study.study_id, driver)
        assert (first.number, first.state, first.config) == (1, RUNNING, {"x": 0.1})
        assert first.started_at is not None and first.unit == {"x": 0.1}
        second = storage.claim_queued(study.study_id, None)
        assert second.number == 2
        assert storage.claim_queued(study.study_id, driver) is None
        assert [t.state for t in storage.read_trials(other.study_id)] == [QUEUED]
        owners = {t.number: d for t, d in storage.running_with_drivers(study.study_id)}
        assert owners[1] is not None and owners[1].driver_id == driver
        assert owners[2] is None

    def test_threads_racing_on_one_queue_claim_each_trial_once(self, storage: Storage) -> None:
        study = new_study(storage)
        n_trials, n_threads = 60, 8
        for i in range(n_trials):
            add(storage, study.study_id, QUEUED, x=i)
        barrier = threading.Barrier(n_threads)
        claimed: list[list[int]] = [[] for _ in range(n_threads)]
        errors: list[BaseException] = []

        def worker(index: int) -> None:
            try:
                driver = storage.register_driver("host", 1000 + index)
                barrier.wait(30)
                while (trial := storage.claim_queued(study.study_id, driver)) is not None:
                    assert trial.state == RUNNING
                    claimed[index].append(trial.number)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        run_threads(worker, n_threads)
        assert errors == []
        every = [n for got in claimed for n in got]
        assert Counter(every) == Counter(range(n_trials))  # each exactly once, none lost
        assert all(got == sorted(got) for got in claimed)  # oldest first, for each claimer
        trials = storage.read_trials(study.study_id)
        assert {t.state for t in trials} == {RUNNING}
        owner = {t.number: d.pid for t, d in storage.running_with_drivers(study.study_id)}
        assert all(owner[n] == 1000 + i for i, got in enumerate(claimed) for n in got)

    def test_threads_creating_trials_at_once_number_them_without_gaps(self, storage: Storage) -> None:
        study = new_study(storage)
        n_threads, per_thread = 6, 15
        barrier = threading.Barrier(n_threads)
        made: list[int] = []
        errors: list[BaseException] = []

        def worker(index: int) -> None:
            try:
                barrier.wait(30)
                for k in range(per_thread):
                    trial = add(storage, study.study_id, x=index * 100 + k)
                    finish(storage, trial, value=float(k))
                    made.append(trial.number)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        run_threads(worker, n_threads)
        assert errors == []
        assert sorted(made) == list(range(n_threads * per_thread))
        trials = storage.read_trials(study.study_id)
        assert numbers(trials) == list(range(n_threads * per_thread))
        assert sorted(t.config["x"] for t in trials) == sorted(
            i * 100 + k for i in range(n_threads) for k in range(per_thread)
        )

    # -- state changes are compare-and-set -------------------------------------------------------------

    def test_set_state_finishes_a_running_trial(self, storage: Storage) -> None:
        study = new_study(storage)
        trials = [add(storage, study.study_id) for _ in range(3)]
        done = finish(storage, trials[0], COMPLETE, 0.25)
        assert (done.state, done.value, done.error) == (COMPLETE, 0.25, None)
        assert done.finished_at is not None and done.finished_at >= done.started_at
        assert done.duration is not None and done.duration >= 0
        failed = finish(storage, trials[1], FAILED, None, "ValueError: boom")
        assert (failed.state, failed.value, failed.error) == (FAILED, None, "ValueError: boom")
        pruned = finish(storage, trials[2], PRUNED, 0.5)
        assert (pruned.state, pruned.value) == (PRUNED, 0.5)
        stored = storage.read_trials(study.study_id)
        assert [(t.state, t.value, t.error) for t in stored] == [
            (COMPLETE, 0.25, None),
            (FAILED, None, "ValueError: boom"),
            (PRUNED, 0.5, None),
        ]
        assert stored[0].finished_at == done.finished_at

    def test_set_state_refuses_a_wrong_expected_state(self, storage: Storage) -> None:
        study = new_study(storage)
        queued = add(storage, study.study_id, QUEUED)
        with pytest.raises(StateConflict, match=r"trial 0 is QUEUED, not RUNNING"):
            storage.set_state(queued.trial_id, RUNNING, COMPLETE, value=1.0)
        (stored,) = storage.read_trials(study.study_id)
        assert (stored.state, stored.value, stored.finished_at) == (QUEUED, None, None)
        # the right expected state moves it
        assert storage.set_state(queued.trial_id, QUEUED, RUNNING).state == RUNNING

    def test_finished_trials_never_change(self, storage: Storage) -> None:
        study = new_study(storage)
        for end in FINISHED:
            trial = add(storage, study.study_id)
            done = storage.set_state(trial.trial_id, RUNNING, end, value=2.0, error="why")
            for target in (*FINISHED, RUNNING, QUEUED, PAUSED):
                with pytest.raises(StateConflict):  # as a driver would ask: expecting RUNNING
                    storage.set_state(trial.trial_id, RUNNING, target, value=9.0)
                with pytest.raises(StateConflict):  # even when the caller knows the finished state
                    storage.set_state(trial.trial_id, end, target, value=9.0, error="changed")
            (after,) = storage.read_trials(study.study_id, after=trial.number - 1)
            assert (after.state, after.value, after.error, after.finished_at) == (
                end, 2.0, "why", done.finished_at
            )

    def test_a_failed_trial_keeps_its_failure_kind(self, storage: Storage) -> None:
        study = new_study(storage)
        kinds = list(FailureKind)
        done = [
            storage.set_state(
                add(storage, study.study_id).trial_id, RUNNING, FAILED, error="why", failure=kind
            )
            for kind in kinds
        ]
        assert [t.failure for t in done] == kinds
        untyped = finish(storage, add(storage, study.study_id), FAILED, None, "no kind given")
        complete = finish(storage, add(storage, study.study_id), COMPLETE, 1.0)
        running = add(storage, study.study_id)
        assert (untyped.failure, complete.failure, running.failure) == (None, None, None)
        expected = [*kinds, None, None, None]
        assert [t.failure for t in storage.read_trials(study.study_id)] == expected
        # the other read path (trials picked by number) reads it back too, typed
        picked = storage.read_trials(study.study_id, after=len(expected) - 1, numbers=range(len(kinds)))
        assert [t.failure for t in picked] == kinds
        assert all(type(t.failure) is FailureKind for t in picked)
        assert picked[0].to_dict()["failure"] == kinds[0].value
        # only a move to FAILED takes a failure kind, and only a known one; a refused call moves nothing
        with pytest.raises(ValueError, match="goes with a move to FAILED, not to COMPLETE"):
            storage.set_state(running.trial_id, RUNNING, COMPLETE, value=1.0, failure=FailureKind.TIMEOUT)
        with pytest.raises(ValueError, match=r"failure must be a FailureKind \('objective', .*got 'oom'"):
            storage.set_state(running.trial_id, RUNNING, FAILED, failure="oom")
        (still,) = storage.read_trials(study.study_id, after=running.number - 1)
        assert (still.state, still.failure) == (RUNNING, None)
        assert finish(storage, still, FAILED, None, "late").failure is None

    def test_a_trial_can_pause_and_resume_keeping_its_start(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        paused = storage.set_state(trial.trial_id, RUNNING, PAUSED)
        assert paused.state == PAUSED and paused.finished_at is None
        assert storage.running_with_drivers(study.study_id) == []
        with pytest.raises(StateConflict):
            storage.set_state(trial.trial_id, RUNNING, PAUSED)
        resumed = storage.set_state(trial.trial_id, PAUSED, RUNNING)
        assert resumed.state == RUNNING and resumed.started_at == trial.started_at
        assert finish(storage, resumed, COMPLETE, 3.0).value == 3.0

    def test_set_state_on_an_unknown_trial_is_a_conflict(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        with pytest.raises(StateConflict):
            storage.set_state(trial.trial_id + 1000, RUNNING, COMPLETE, value=1.0)

    def test_threads_racing_to_finish_one_trial_one_wins(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        outcomes: list[object] = [None] * 6
        barrier = threading.Barrier(6)

        def racer(index: int) -> None:
            barrier.wait(30)
            try:
                outcomes[index] = storage.set_state(
                    trial.trial_id, RUNNING, COMPLETE if index % 2 else STALE, value=float(index)
                )
            except StateConflict as exc:
                outcomes[index] = exc

        run_threads(racer, 6)
        winners = [o for o in outcomes if not isinstance(o, StateConflict)]
        assert len(winners) == 1
        (stored,) = storage.read_trials(study.study_id)
        assert (stored.state, stored.value) == (winners[0].state, winners[0].value)

    # -- reports ---------------------------------------------------------------------------------------

    def test_reports_are_ordered_by_step_and_replaced_at_the_same_step(self, storage: Storage) -> None:
        study = new_study(storage)
        a, b = add(storage, study.study_id), add(storage, study.study_id)
        for step, value in ((2, 0.2), (0, 0.0), (5, 0.5), (1, 0.1)):
            storage.add_report(a.trial_id, step, value)
        storage.add_report(a.trial_id, 2, 0.25)  # a second report at step 2 replaces the first
        storage.add_report(b.trial_id, 0, 9.0)
        got = {t.number: t.reports for t in storage.read_trials(study.study_id)}
        assert got == {0: [(0, 0.0), (1, 0.1), (2, 0.25), (5, 0.5)], 1: [(0, 9.0)]}
        assert all(type(s) is int and type(v) is float for s, v in got[0])
        # reports survive finishing and are returned with the finished trial
        done = finish(storage, a, COMPLETE, 0.5)
        assert done.reports == [(0, 0.0), (1, 0.1), (2, 0.25), (5, 0.5)]
        assert done.last_report == (5, 0.5)
        running = storage.running_with_drivers(study.study_id)
        assert [(t.number, t.reports) for t, _ in running] == [(1, [(0, 9.0)])]

    def test_an_integer_report_value_reads_back_as_a_float(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        storage.add_report(trial.trial_id, 3, 7)
        (stored,) = storage.read_trials(study.study_id)
        assert stored.reports == [(3, 7.0)] and type(stored.reports[0][1]) is float

"""Storage conformance tests for any ``Storage`` backend. Needs pytest (a test dependency, not a runtime one).

Subclass ``StorageConformance`` and give it a fresh, empty ``storage`` for each test. A backend with
``shared = True`` also gives ``storage_opener``, a picklable callable that opens another connection to
the same storage; the multi-process tests call it in new processes (and are skipped when not shared)::

    class TestMyBackend(StorageConformance):
        @pytest.fixture
        def storage(self, tmp_path):
            backend = MyStorage(tmp_path / "db")
            yield backend
            backend.close()

        @pytest.fixture
        def storage_opener(self, tmp_path):
            return functools.partial(MyStorage, tmp_path / "db")
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import queue
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from ..storage import ClaimTaken, StateConflict, Storage, StudyExists, StudyNotFound
from ..trial import FailureKind, Trial, TrialState

__all__ = ["StorageConformance"]

QUEUED, RUNNING, PAUSED = TrialState.QUEUED, TrialState.RUNNING, TrialState.PAUSED
COMPLETE, FAILED, PRUNED, STALE = (
    TrialState.COMPLETE,
    TrialState.FAILED,
    TrialState.PRUNED,
    TrialState.STALE,
)
FINISHED = (COMPLETE, FAILED, PRUNED, STALE)

SPACE = {
    "lr": {"type": "float", "low": 0.0001, "high": 1.0, "scale": "log"},
    "opt": {"type": "choice", "values": ["adam", "sgd", 1, "1", 1.0, True, None]},
    "beta1": {"type": "float", "low": 0.8, "high": 0.99, "when": {"opt": ["adam"]}},
}

TYPED_CONFIG = {
    "int": 3,
    "float_whole": 3.0,
    "float": 0.1,
    "tiny": 1e-300,
    "huge_int": 2**62 + 1,
    "negative": -7,
    "true": True,
    "false": False,
    "none": None,
    "str_one": "1",
    "int_one": 1,
    "float_one": 1.0,
    "bool_one": True,
    "empty": "",
    "unicode": "Adam·β₁ — 学习率 🐟",
    "ключ": "значение",
    "quote": 'a "b" \\ c',
}


# -- helpers, also for a backend's own tests ----------------------------------------------------


def new_study(storage: Storage, name: str = "s", direction: str = "minimize"):
    """A study on ``SPACE`` (its sampler description is arbitrary text to storage)."""
    return storage.create_study(name, direction, SPACE, "Random(seed=0)")


def add(storage: Storage, study_id: int, state: TrialState = RUNNING, x: float = 0.5, **kwargs) -> Trial:
    """A new trial with config and unit ``{"x": x}``."""
    return storage.create_trial(study_id, state, {"x": x}, {"x": x}, **kwargs)


def finish(storage: Storage, trial, state: TrialState = COMPLETE, value: float | None = 1.0, error=None):
    """Move a RUNNING trial to a finished state."""
    return storage.set_state(trial.trial_id, RUNNING, state, value=value, error=error)


def numbers(trials) -> list[int]:
    return [t.number for t in trials]


def racer_box(index: int) -> dict[str, tuple[float, float]]:
    """A box for racing writer ``index``: its own bounds and one dimension only it writes."""
    return {"x": (index / 100, 0.5 + index / 100), "y": (0.0, index / 10), f"only{index}": (0.5, 0.5)}


def run_threads(target: Callable[[int], Any], n: int) -> None:
    """Run ``target(i)`` for i in range(n) on n threads; fail if one hangs."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"


def run_processes(target: Callable[..., None], args_for: Callable[[int], tuple], n: int) -> list:
    """Start n fresh interpreters (spawn: nothing inherited) running ``target(*args_for(i), barrier,
    results)`` and collect what each puts on ``results``: ``("ok", detail)`` or ``("error", text)``.

    ``target`` and the arguments must be picklable (``target`` a module-level function)."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(i), barrier, results)) for i in range(n)]
    for p in procs:
        p.start()
    out = []
    try:
        for _ in range(600):  # a generous bound against a hang; a crashed process ends it at once
            try:
                out.append(results.get(timeout=0.5))
            except queue.Empty:
                if all(p.exitcode is not None for p in procs):
                    break
            if len(out) == n:
                break
        if len(out) < n:
            codes = [p.exitcode for p in procs]
            pytest.fail(f"only {len(out)} of {n} processes reported (exit codes {codes}): {out}")
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    errors = [detail for status, detail in out if status != "ok"]
    assert errors == [], errors
    return [detail for _, detail in out]


# -- what the processes of the multi-process tests run ------------------------------------------


def _claim_worker(opener: Callable[[], Storage], study_id: int, barrier, results) -> None:
    """Claim queued trials until none is left; report the numbers claimed."""
    try:
        storage = opener()
        try:
            driver = storage.register_driver("proc", os.getpid())
            barrier.wait(60)
            got = []
            while (trial := storage.claim_queued(study_id, driver)) is not None:
                assert trial.state == RUNNING
                got.append(trial.number)
            results.put(("ok", got))
        finally:
            storage.close()
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        results.put(("error", repr(exc)))


def _write_worker(
    opener: Callable[[], Storage], study_name: str, index: int, n: int, barrier, results
) -> None:
    """Open the storage (creating the schema if needed) and write n finished trials with reports."""
    try:
        storage = opener()
        barrier.wait(60)
        try:
            study_id = storage.get_study(study_name).study_id
            written = []
            for k in range(n):
                trial = storage.create_trial(
                    study_id, RUNNING, {"writer": index, "k": k}, {"k": k / n}, claim=f"{index}:{k}"
                )
                storage.add_report(trial.trial_id, 0, float(k))
                storage.set_state(trial.trial_id, RUNNING, COMPLETE, value=float(index * 1000 + k))
                written.append(trial.number)
            results.put(("ok", written))
        finally:
            storage.close()
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        results.put(("error", repr(exc)))


def _box_worker(opener: Callable[[], Storage], study_id: int, index: int, barrier, results) -> None:
    """Write this process's box for round 0 at the same moment as the others; report what it reads."""
    try:
        storage = opener()
        try:
            barrier.wait(60)
            storage.add_round_box(study_id, 0, racer_box(index))
            results.put(("ok", storage.read_round_boxes(study_id)))
        finally:
            storage.close()
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        results.put(("error", repr(exc)))


def _opener_for_processes(storage: Storage, opener: Callable[[], Storage] | None) -> Callable[[], Storage]:
    """The ``storage_opener`` a multi-process test sends to its processes (skip: the storage is not
    shared; fail: it is, but no picklable opener was given)."""
    if not storage.shared:
        pytest.skip(f"{type(storage).__name__} is not shared between processes (its shared is False)")
    if opener is None:
        pytest.fail(
            f"{type(storage).__name__} is shared between processes, so the multi-process tests need the "
            "storage_opener fixture: a picklable callable that opens another connection to the storage "
            "of the storage fixture (e.g. functools.partial(MyStorage, url))",
            pytrace=False,
        )
    try:
        pickle.dumps(opener)
    except Exception as exc:  # noqa: BLE001 - any reason it cannot travel is reported as is
        why = str(exc)
    else:
        return opener
    pytest.fail(
        f"storage_opener {opener!r} cannot be sent to another process ({why}); make it a module-level "
        "function or a functools.partial of one",
        pytrace=False,
    )


class StorageConformance:
    """The storage contract as pytest tests; subclass it as ``Test...`` and override ``storage`` (and,
    for a shared backend, ``storage_opener``)."""

    @pytest.fixture
    def storage(self) -> Storage:
        """A fresh, empty storage of the backend under test, for one test: override it."""
        pytest.fail(
            f"{type(self).__name__}: override the storage fixture to give a fresh, empty storage",
            pytrace=False,
        )

    @pytest.fixture
    def storage_opener(self) -> Callable[[], Storage] | None:
        """A picklable callable opening another connection to the ``storage`` fixture's storage (None:
        not given). Shared backends override it; the multi-process tests send it to new processes."""
        return None

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
        assert storage.add_report(target.trial_id, 0, 1.0) is False
        assert storage.request_stop(target.trial_id) is True
        assert storage.add_report(target.trial_id, 1, 0.5) is True
        assert storage.add_report(target.trial_id, 1, 0.4) is True  # a replaced step answers the same
        assert storage.add_report(other.trial_id, 0, 2.0) is False
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

    # -- several processes on one storage (shared backends) --------------------------------------------

    def test_processes_racing_on_one_queue_claim_each_trial_once(
        self, storage: Storage, storage_opener: Callable[[], Storage] | None
    ) -> None:
        opener = _opener_for_processes(storage, storage_opener)
        study = new_study(storage)
        n_trials = 80
        for i in range(n_trials):
            add(storage, study.study_id, QUEUED, x=i)
        claimed = run_processes(_claim_worker, lambda i: (opener, study.study_id), 4)
        every = [n for got in claimed for n in got]
        assert Counter(every) == Counter(range(n_trials))
        trials = storage.read_trials(study.study_id)
        assert {t.state for t in trials} == {RUNNING}
        assert len(storage.running_with_drivers(study.study_id)) == n_trials

    def test_processes_writing_at_once_lose_nothing(
        self, storage: Storage, storage_opener: Callable[[], Storage] | None
    ) -> None:
        opener = _opener_for_processes(storage, storage_opener)
        new_study(storage, "shared")
        n_procs, per_proc = 4, 25
        written = run_processes(_write_worker, lambda i: (opener, "shared", i, per_proc), n_procs)
        assert sorted(n for got in written for n in got) == list(range(n_procs * per_proc))
        trials = storage.read_trials(storage.get_study("shared").study_id)
        assert numbers(trials) == list(range(n_procs * per_proc))
        assert {t.state for t in trials} == {COMPLETE}
        by_writer = Counter(t.config["writer"] for t in trials)
        assert by_writer == {i: per_proc for i in range(n_procs)}
        for t in trials:
            assert t.value == t.config["writer"] * 1000 + t.config["k"]
            assert t.reports == [(0, float(t.config["k"]))]
            assert t.claim == f"{t.config['writer']}:{t.config['k']}"
        (summary,) = storage.list_studies()
        assert summary.counts == {COMPLETE: n_procs * per_proc} and summary.best_value == 0.0

    def test_processes_racing_to_write_one_round_keep_one_whole_box(
        self, storage: Storage, storage_opener: Callable[[], Storage] | None
    ) -> None:
        opener = _opener_for_processes(storage, storage_opener)
        study = new_study(storage)
        n_procs = 6
        seen = run_processes(_box_worker, lambda i: (opener, study.study_id, i), n_procs)
        boxes = storage.read_round_boxes(study.study_id)
        assert list(boxes) == [0]
        assert boxes[0] in [racer_box(i) for i in range(n_procs)]  # one writer's box, whole
        assert seen == [boxes] * n_procs  # every writer read back the winner's box

"""Several processes on one shared storage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from ...storage import Storage
from .support import (
    COMPLETE,
    QUEUED,
    RUNNING,
    _box_worker,
    _claim_worker,
    _opener_for_processes,
    _write_worker,
    add,
    new_study,
    numbers,
    racer_box,
    run_processes,
)


class ProcessContract:
    """Part of ``StorageConformance``; needs its ``storage`` (and ``storage_opener``) fixtures."""

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

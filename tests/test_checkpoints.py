"""Checkpoints: trial.save / trial.load in process, in local workers and on Dask; faults; pruning.

Real files in a temporary store, real SQLite, real worker processes (killed for real).
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

import pbt_objectives as po
import pytest
from conftest import sqlite_url_for

import shoal
from shoal.checkpoints import (
    CheckpointError,
    CheckpointRef,
    CheckpointSlot,
    CheckpointStore,
    prunable,
    read_checkpoint,
    resume_point,
    write_checkpoint,
)
from shoal.records import LineageRecord
from shoal.trial import Trial, TrialState

SPACE = {"x": shoal.Float(0.0, 1.0)}


def slot_in(tmp_path: Path, start: str | None = None) -> CheckpointSlot:
    folder = str(tmp_path / "s" / "000000")
    return CheckpointSlot(root=str(tmp_path), folder=folder, start=start, start_step=3)


# -- the file format ------------------------------------------------------------------------------


def test_a_checkpoint_round_trips_any_picklable_object(tmp_path: Path) -> None:
    state = {"weights": [0.5, 1.5], "fn": lambda v: v + 1, "epoch": 3}
    uri = write_checkpoint(slot_in(tmp_path), state, 3)
    assert uri.endswith("step-000000003.pkl") and Path(uri).exists()
    loaded = read_checkpoint(str(tmp_path), uri)
    assert loaded["weights"] == [0.5, 1.5] and loaded["epoch"] == 3 and loaded["fn"](1) == 2
    # no temporary file is left behind
    assert sorted(p.name for p in Path(uri).parent.iterdir()) == ["step-000000003.pkl"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[: len(b) // 2], "is corrupt: .* checksum mismatch"),
        (lambda b: b[:10], "is corrupt: 10 bytes, too short"),
        (lambda b: b"garbage!" + b[8:], "not a shoal checkpoint file"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "checksum mismatch"),
    ],
)
def test_a_damaged_checkpoint_is_refused_with_a_clear_error(tmp_path: Path, damage, message: str) -> None:
    uri = write_checkpoint(slot_in(tmp_path), {"w": list(range(100))}, 2)
    Path(uri).write_bytes(damage(Path(uri).read_bytes()))
    with pytest.raises(CheckpointError, match=message) as info:
        read_checkpoint(str(tmp_path), uri, trial=7)
    assert uri in str(info.value) and "saved by trial 7" in str(info.value)


def test_a_missing_checkpoint_names_the_file_and_the_likely_cause(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"is missing: it was deleted or the store .* is not shared"):
        read_checkpoint(str(tmp_path), str(tmp_path / "nope.pkl"))


def test_bad_input_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="checkpoints must be a directory path, an fsspec URL"):
        CheckpointStore("")
    with pytest.raises(ValueError, match="keep must be an int >= 1"):
        CheckpointStore(tmp_path, keep=0)
    with pytest.raises(ValueError, match="checkpoints must be a directory path"):
        shoal.Study("bad", SPACE, checkpoints=3.5)
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        write_checkpoint(slot_in(tmp_path), {}, -1)
    import threading

    with pytest.raises(ValueError, match=r"cannot be pickled .*state_dict\(\)"):
        write_checkpoint(slot_in(tmp_path), threading.Lock(), 1)


def test_a_url_store_goes_through_fsspec(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    study = shoal.Study("remote", SPACE, checkpoints="memory://shoal-test-store", seed=0)
    study.optimize(partial(po.counting, steps=4), n_trials=1, show_progress=False)
    [ref, last] = study.storage.read_checkpoints(study.id)
    assert ref.uri.startswith("memory://shoal-test-store/") and last.step == 4
    assert read_checkpoint("memory://shoal-test-store", last.uri) == {"step": 4}


# -- through a study ------------------------------------------------------------------------------


def test_ask_and_tell_trials_save_and_load_and_storage_keeps_the_references(tmp_path: Path) -> None:
    study = shoal.Study("ask", SPACE, storage=sqlite_url_for(tmp_path / "study.db"), seed=0)
    trial = study.ask()
    assert trial.load() is None and trial.start_step is None
    trial.report(0.5, 1)
    uri = trial.save({"epoch": 1})  # the step defaults to the last reported one
    study.tell(trial, 0.5)
    [ref] = study.storage.read_checkpoints(study.id)
    assert (ref.trial_number, ref.step, ref.uri) == (trial.number, 1, uri)
    assert uri.startswith(str(tmp_path / "study.db-checkpoints"))  # next to the SQLite file by default


@pytest.mark.parametrize("n_workers", [1, 2])
def test_a_retried_trial_resumes_from_the_last_checkpoint_of_the_one_whose_worker_died(
    tmp_path: Path, n_workers: int, sqlite_url: str
) -> None:
    study = shoal.Study("resume", SPACE, storage=sqlite_url, checkpoints=tmp_path / "ck", seed=0)
    objective = partial(po.die_once_after, marker=str(tmp_path / "died"), at=3, steps=6)
    # n_workers=1 with a timeout runs in a local worker process too, so os._exit kills only the worker
    study.optimize(objective, n_trials=1, n_workers=n_workers, retries=1, timeout_per_trial=60,
                   show_progress=False)
    dead, retry = study.trials[:2]
    assert dead.state == TrialState.FAILED and dead.error == "worker died: exit code 9"
    assert retry.state == TrialState.COMPLETE and retry.requeued_from == dead.number
    # it went on from step 3, the last one the dead worker saved, and trained steps 4..6 itself
    assert [s for s, _ in retry.reports] == [4, 5, 6]
    assert [v for _, v in retry.reports] == [2.0, 2.0, 2.0]  # its trail: [dead, retry]
    assert retry.value == float(dead.number)
    refs = study.storage.read_checkpoints(study.id)
    assert {(r.trial_number, r.step) for r in refs} >= {(retry.number, 6)}


def test_a_corrupt_checkpoint_fails_its_trial_never_the_study(tmp_path: Path, sqlite_url: str) -> None:
    study = shoal.Study("corrupt", SPACE, storage=sqlite_url, checkpoints=tmp_path / "ck", seed=0)
    objective = partial(po.die_once_after, marker=str(tmp_path / "died"), at=3, steps=6)
    study.optimize(objective, n_trials=1, n_workers=1, timeout_per_trial=60, show_progress=False)
    [dead] = study.trials
    [last] = [r for r in study.storage.read_checkpoints(study.id) if r.step == 3]
    Path(last.uri).write_bytes(b"SHOALCK1 but then nothing sensible")
    # the re-run loads it; catch=() would re-raise any other error, a checkpoint error stays in the trial
    rerun = study._repeat(dead, TrialState.QUEUED)
    study.optimize(objective, n_trials=2, catch=(), show_progress=False)
    by_number = {t.number: t for t in study.trials}
    failed = by_number[rerun.number]
    assert failed.state == TrialState.FAILED
    assert "CheckpointError" in failed.error
    assert f"checkpoint {last.uri} (saved by trial 0) is corrupt" in failed.error
    assert [t.state for t in study.trials[2:]] == [TrialState.COMPLETE]  # the study went on


def test_the_path_variant_writes_folders_and_resumes_from_them(tmp_path: Path, sqlite_url: str) -> None:
    study = shoal.Study("files", SPACE, storage=sqlite_url, checkpoints=tmp_path / "ck", seed=0)
    study.optimize(partial(po.big_model_in_files, steps=4), n_trials=1, n_workers=2, show_progress=False)
    [first] = study.trials
    refs = study.storage.read_checkpoints(study.id)
    assert [r.step for r in refs] == [3, 4]  # pruned to keep=2
    assert all(r.is_dir and (Path(r.uri) / "weights.bin").stat().st_size == 1024 for r in refs)
    assert not Path(refs[0].uri).with_name("step-000000001").exists()  # pruned from disk too
    rerun = study._repeat(first, TrialState.QUEUED)
    study.optimize(partial(po.big_model_in_files, steps=6), n_trials=1, show_progress=False)
    again = {t.number: t for t in study.trials}[rerun.number]
    assert again.value == 4.0 and [s for s, _ in again.reports] == [5, 6]


def test_an_incomplete_folder_checkpoint_is_refused(tmp_path: Path) -> None:
    from shoal.checkpoints import reading_dir

    folder = tmp_path / "step-000000002"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"half")
    with pytest.raises(CheckpointError, match="is incomplete: its writer died while saving it"):
        reading_dir(str(tmp_path), str(folder))


def test_pruning_keeps_the_latest_per_trial_and_deletes_the_files(tmp_path: Path, sqlite_url: str) -> None:
    store = CheckpointStore(tmp_path / "ck", keep=3)
    study = shoal.Study("prune", SPACE, storage=sqlite_url, checkpoints=store, seed=0)
    study.optimize(partial(po.counting, steps=8), n_trials=2, show_progress=False)
    refs = study.storage.read_checkpoints(study.id)
    assert [(r.trial_number, r.step) for r in refs] == [(0, 6), (0, 7), (0, 8), (1, 6), (1, 7), (1, 8)]
    on_disk = sorted(p.name for p in (tmp_path / "ck").rglob("*.pkl"))
    assert len(on_disk) == 6


# -- the pure rules: where a trial resumes, what pruning may delete -------------------------------


def _trial(number: int, state: TrialState = TrialState.COMPLETE, requeued_from: int | None = None) -> Trial:
    return Trial(number=number, state=state, config={}, requeued_from=requeued_from)


def test_resume_point_follows_re_runs_then_the_segment_start() -> None:
    trials = {
        0: _trial(0, TrialState.FAILED),
        1: _trial(1, TrialState.FAILED, 0),
        2: _trial(2, TrialState.RUNNING, 1),
    }
    lineage = [LineageRecord(0, member=0, segment=3, parent=9, checkpoint="/9/4.pkl", step=4)]
    assert resume_point(2, trials, [], lineage, include_own=False) == CheckpointRef(9, 4, "/9/4.pkl")
    refs = [CheckpointRef(0, 5, "/0/5.pkl"), CheckpointRef(1, 6, "/1/6.pkl"), CheckpointRef(2, 7, "/2/7.pkl")]
    assert resume_point(2, trials, refs, lineage, include_own=False).uri == "/1/6.pkl"
    assert resume_point(2, trials, refs, lineage).uri == "/2/7.pkl"
    assert resume_point(5, {5: _trial(5)}, refs, lineage) is None


def test_pruning_never_deletes_where_a_living_segment_starts() -> None:
    # member 0 (trials 0, 2) and member 1 (trial 1); trial 3 of member 1 copied trial 0's step 1
    trials = {0: _trial(0), 1: _trial(1), 2: _trial(2, TrialState.RUNNING), 3: _trial(3, TrialState.QUEUED)}
    lineage = [
        LineageRecord(0, 0, 0), LineageRecord(1, 1, 0),
        LineageRecord(2, 0, 1, parent=0, checkpoint="/0/4", step=4),
        LineageRecord(3, 1, 1, parent=0, checkpoint="/0/1", step=1, donor=0),
    ]
    refs = [CheckpointRef(0, s, f"/0/{s}") for s in (1, 2, 3, 4)] + [
        CheckpointRef(1, s, f"/1/{s}") for s in (1, 2, 3)
    ] + [CheckpointRef(2, 5, "/2/5")]
    doomed = set(prunable(refs, lineage, trials, keep=1))
    # member 0 keeps its latest (/2/5) and where its running segment started (/0/4); /0/1 is where a
    # queued segment of member 1 starts; member 1 keeps its latest (/1/3)
    assert doomed == {"/0/2", "/0/3", "/1/1", "/1/2"}


# -- Dask ----------------------------------------------------------------------------------------


def test_checkpoints_are_saved_and_loaded_on_dask_workers(tmp_path: Path, sqlite_url: str) -> None:
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(po)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=50)
    client = distributed.Client(cluster, set_as_default=False)
    try:
        study = shoal.Study("dask", SPACE, storage=sqlite_url, checkpoints=tmp_path / "ck", seed=0)
        study.optimize(partial(po.counting, steps=3), n_trials=1, executor=client, show_progress=False)
        [first] = study.trials
        assert first.value == 3.0
        refs = study.storage.read_checkpoints(study.id)
        assert [r.step for r in refs] == [2, 3]
        pids = client.run(os.getpid)
        assert os.getpid() not in pids.values()  # it ran on the worker, which wrote into the store
        rerun = study._repeat(first, TrialState.QUEUED)
        study.optimize(partial(po.counting, steps=5), n_trials=1, executor=client, show_progress=False)
        again = {t.number: t for t in study.trials}[rerun.number]
        assert again.value == 2.0 and [s for s, _ in again.reports] == [4, 5]
        # PBT on Dask: segments pause on the worker, the next ones load the checkpoints it saved
        from shoal.schedulers import PBT

        pbt = PBT(population=2, interval=2, max_steps=6, seed=0)
        lr = {"lr": shoal.Float(1e-4, 1.0, scale="log")}
        population = shoal.Study("dask-pbt", lr, storage=sqlite_url, scheduler=pbt,
                                 checkpoints=tmp_path / "ck", seed=0)
        population.optimize(partial(po.schedule_task, max_steps=6), executor=client, show_progress=False)
        trials = {t.number: t for t in population.trials}
        lineage = population.storage.read_lineage(population.id)
        assert all(t.state == TrialState.COMPLETE for t in trials.values())
        assert all(trials[r.trial_number].reports[0][0] == r.step + 1 for r in lineage)
        assert {r.step for r in lineage} >= {0, 2} and max(t.reports[-1][0] for t in trials.values()) == 6
    finally:
        cloudpickle.unregister_pickle_by_value(po)
        client.close()
        cluster.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))

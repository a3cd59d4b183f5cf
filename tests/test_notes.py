"""Notes from Python: ``study.note(...)`` on the study and its trials, ``trial.note(...)`` in the
objective wherever it runs (this process, local worker processes, Dask), ``shoal show`` printing
them and ``shoal export``/``import`` carrying them."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import sqlite_url_for

import shoal
from shoal.cli import main
from shoal.records import MAX_NOTE
from shoal.storage import Storage

SPACE = {"x": shoal.Float(0.0, 1.0)}


def test_study_note_reads_sets_and_removes_on_every_backend(storage: Storage) -> None:
    study = shoal.Study("noted", SPACE, storage=storage, seed=0)
    study.optimize(lambda c: c["x"], 3, show_progress=False)
    assert study.note() is None
    study.note("# Plan\n\nsearch *wide* first")
    study.note("too slow", trial=1)
    assert study.note() == "# Plan\n\nsearch *wide* first"
    assert study.note(trial=1) == "too slow"
    assert [t.note for t in study.trials] == [None, "too slow", None]
    assert [t.note for t in shoal.Study.load("noted", storage).trials] == [None, "too slow", None]
    assert [(n.trial_number, n.text) for n in study.notes] == [(None, "# Plan\n\nsearch *wide* first"),
                                                               (1, "too slow")]
    study.note("", trial=1)
    assert study.note(trial=1) is None and study.trials[1].note is None
    with pytest.raises(ValueError, match="no trial number 9"):
        study.note("x", trial=9)
    with pytest.raises(ValueError, match="over the limit"):
        study.note("x" * (MAX_NOTE + 1))
    with pytest.raises(ValueError, match="must be a str"):
        study.note(3)  # type: ignore[arg-type]
    assert study.note() == "# Plan\n\nsearch *wide* first"


def _noting(config, trial):
    trial.report(config["x"], 0)
    trial.note(f"ran with x={config['x']:.3f}")
    if trial.number == 1:
        trial.note("")  # removed again
    return config["x"]


@pytest.mark.parametrize("workers", [1, 2])
def test_trial_note_in_the_objective_is_stored_in_process_and_in_worker_processes(
    workers: int, sqlite_url: str
) -> None:
    def objective(config, trial):  # defined here: cloudpickled by value to the worker processes
        trial.report(config["x"], 0)
        trial.note(f"ran with x={config['x']:.3f}")
        if trial.number == 1:
            trial.note("")
        return config["x"]

    study = shoal.Study("workers", SPACE, storage=sqlite_url, seed=0)
    study.optimize(objective, 4, n_workers=workers, show_progress=False)
    expected = [None if t.number == 1 else f"ran with x={t.config['x']:.3f}" for t in study.trials]
    assert [t.note for t in shoal.Study.load("workers", sqlite_url).trials] == expected
    assert [t.note for t in study.trials] == expected


def test_trial_note_from_ask_and_a_handle_without_a_study() -> None:
    study = shoal.Study("asked", SPACE, seed=0)
    trial = study.ask()
    trial.note("by hand")
    study.tell(trial, 0.5)
    assert study.trials[0].note == "by hand" and study.note(trial=0) == "by hand"
    with pytest.raises(ValueError, match="must be a str"):
        trial.note(None)  # type: ignore[arg-type]


def test_trial_note_travels_from_a_dask_worker(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    url = sqlite_url_for(tmp_path / "dask.db")
    study = shoal.Study("dask", SPACE, storage=url, seed=0)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        study.optimize(_noting, 3, executor=client, show_progress=False)
    notes = {t.number: t.note for t in shoal.Study.load("dask", url).trials}
    assert notes[1] is None
    assert all(notes[t.number] == f"ran with x={t.config['x']:.3f}" for t in study.trials if t.number != 1)


def test_show_prints_the_notes_and_export_import_carries_them(tmp_path: Path, capsys) -> None:
    url, other = sqlite_url_for(tmp_path / "a.db"), sqlite_url_for(tmp_path / "b.db")
    study = shoal.Study("moved", SPACE, storage=url, seed=0)
    study.optimize(lambda c: c["x"], 2, show_progress=False)
    study.note("why: [baseline] for the *paper*")
    study.note("outlier, rerun\nsecond line", trial=0)
    assert main(["show", "moved", "--storage", url]) == 0
    out = capsys.readouterr().out
    assert "why: [baseline] for the *paper*" in out  # rich markup left as text
    assert "note on trial 0" in out and "outlier, rerun" in out and "second line" in out
    assert main(["copy", "moved", "--from", url, "--to", other]) == 0
    capsys.readouterr()
    copied = shoal.Study.load("moved", other)
    assert copied.note() == "why: [baseline] for the *paper*"
    assert [t.note for t in copied.trials] == ["outlier, rerun\nsecond line", None]

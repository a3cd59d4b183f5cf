"""Moving studies between storages: ``shoal export`` / ``shoal import`` / ``shoal copy``.

A round trip SQLite -> (SQLite or PostgreSQL) -> SQLite keeps every field of every trial (a tweaked
trial's changes, a fork, a pending tweak, a PBT study's lineage and checkpoints, an ASHA study's rungs,
a multi-objective study's values, a coarse-to-fine study's round boxes) and each study's description.
Bad files and name clashes end with exit 2 and one line, nothing stored.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from functools import partial
from pathlib import Path

import pbt_objectives as po
import pytest
from conftest import sqlite_url_for

import shoal
from shoal.cli import main as cli
from shoal.samplers import CoarseToFine, Random
from shoal.schedulers import ASHA, PBT
from shoal.storage import SQLStorage, Storage
from shoal.storage.transfer import export_lines, import_study, read_export

SRC = Path(__file__).resolve().parent.parent / "src"
SPACE = {"x": shoal.Float(0.0, 1.0), "k": shoal.Int(1, 4), "o": shoal.Choice(["a", "b"])}
LR = {"lr": shoal.Float(1e-4, 1.0, scale="log")}
STUDIES = ("asha", "pbt", "mo", "panda", "c2f")


def ladder(config: dict, trial) -> float:
    value = config["x"]
    for step in range(1, 10):
        trial.report(value + 1.0 / step, step)
        if trial.should_stop():
            raise shoal.TrialPruned()
    return value


def fill(url: str, tmp_path: Path) -> None:
    """Five studies in one storage, between them every kind of row shoal keeps."""
    asha = shoal.Study("asha", SPACE, storage=url, sampler=Random(seed=0),
                       scheduler=ASHA(1, reduction_factor=3, max_resource=9))
    asha.optimize(ladder, 9, show_progress=False)
    pbt = shoal.Study("pbt", LR, storage=url, scheduler=PBT(population=3, interval=4, max_steps=12, seed=3),
                      checkpoints=tmp_path / "ck", seed=3)
    pbt.optimize(partial(po.schedule_task, max_steps=12), show_progress=False)
    mo = shoal.Study("mo", SPACE, objectives={"acc": "maximize", "ms": "minimize"}, constraints=["mem <= 5"],
                     storage=url, sampler=Random(seed=1))
    mo.optimize(lambda c: {"acc": c["x"], "ms": 1 - c["x"], "mem": 10 * c["x"], "extra": 0.5}, 6,
                show_progress=False)
    panda = shoal.Study("panda", SPACE, storage=url, checkpoints=tmp_path / "ck2", sampler=Random(seed=2))
    tweaked = panda.ask()
    tweaked.report(1.0, 0)
    tweaked.save({"w": 1}, 0)
    panda.tweak(tweaked.number, {"x": 0.5})
    tweaked.report(0.5, 1)  # delivers the tweak: it takes effect at step 2
    panda.tell(tweaked, 0.4)
    panda.fork(tweaked.number, 0, {"x": 0.125})  # a queued trial with a fork's changes and lineage
    forked = panda.ask()
    panda.tweak(forked.number, {"o": "a" if forked.config["o"] == "b" else "b"})  # pending: not delivered
    failed = panda.ask()
    panda.tell(failed, state="FAILED", error="boom")
    panda.enqueue({"x": 0.25})  # queued with part of a config
    panda.pause()
    c2f = shoal.Study("c2f", SPACE, storage=url, sampler=CoarseToFine(rounds=2, round_size=4, seed=0))
    c2f.optimize(lambda c: c["x"], 8, show_progress=False)


def snapshot(storage: Storage, name: str) -> dict:
    """Everything the storage holds of a study, but where it is stored (ids) and when it was created."""
    record = storage.get_study(name)
    trials = []
    for trial in storage.read_trials(record.study_id):
        kept = dataclasses.asdict(trial)
        kept.pop("trial_id")
        kept["config_types"] = {k: type(v).__name__ for k, v in trial.config.items()}
        trials.append(kept)
    return {
        "record": {k: v for k, v in dataclasses.asdict(record).items()
                   if k not in ("study_id", "created_at")},
        "trials": trials,
        "lineage": storage.read_lineage(record.study_id),
        "rungs": storage.read_rungs(record.study_id),
        "checkpoints": storage.read_checkpoints(record.study_id),
        "boxes": storage.read_round_boxes(record.study_id),
    }


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli(list(args))
    return code, out.getvalue()


def run_failing(*args: str) -> str:
    """Run the command line in this process; it must exit 2 with one line on stderr: returns it."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli(list(args))
    assert code == 2 and out.getvalue() == "", (args, out.getvalue())
    assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("shoal: error: "), err.getvalue()
    return err.getvalue()


def run_console(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The ``shoal`` command in a fresh interpreter (what a person runs)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-m", "shoal.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite storage holding the five studies (built once for the module; read only)."""
    where = tmp_path_factory.mktemp("source")
    url = sqlite_url_for(where / "source.db")
    fill(url, where)
    return url


def test_the_source_has_every_kind_of_row(source: str) -> None:
    storage = SQLStorage(source)
    try:
        shots = {name: snapshot(storage, name) for name in STUDIES}
    finally:
        storage.close()
    assert any(t["state"] == "PRUNED" for t in shots["asha"]["trials"]) and shots["asha"]["rungs"]
    assert shots["pbt"]["lineage"] and any(r.donor is not None for r in shots["pbt"]["lineage"])
    assert shots["pbt"]["checkpoints"]
    assert any(t["feasible"] is False for t in shots["mo"]["trials"])
    assert all(set(t["values"]) == {"acc", "ms", "mem", "extra"} for t in shots["mo"]["trials"])
    panda = shots["panda"]
    kinds = [[(c["kind"], c["step"]) for c in t["changes"]] for t in panda["trials"]]
    assert kinds[:2] == [[("tweak", 2)], [("fork", 1), ("tweak", None)]]
    assert [t["state"] for t in panda["trials"]] == ["COMPLETE", "RUNNING", "FAILED", "QUEUED"]
    assert panda["trials"][2]["failure"] == "objective" and panda["trials"][3]["config"] == {"x": 0.25}
    assert panda["record"]["paused"] is True and panda["lineage"]
    assert shots["c2f"]["boxes"] and any(t["round"] for t in shots["c2f"]["trials"])


def test_export_import_round_trip_keeps_every_field(source: str, sql_url: str, tmp_path: Path) -> None:
    """SQLite -> (SQLite or PostgreSQL) -> SQLite, through the command line, every study."""
    back = sqlite_url_for(tmp_path / "back.db")
    for name in STUDIES:
        code, text = run_cli("export", name, "--storage", source)
        assert code == 0
        first = tmp_path / f"{name}.jsonl"
        first.write_text(text)
        assert run_cli("import", str(first), "--storage", sql_url)[0] == 0
        code, again = run_cli("export", name, "--storage", sql_url)
        assert code == 0
        second = tmp_path / f"{name}-2.jsonl"
        second.write_text(again)
        assert run_cli("import", str(second), "--storage", back)[0] == 0
        # the exports agree line by line (the header's creation time is the importing one's)
        assert text.splitlines()[1:] == again.splitlines()[1:]
    stores = [SQLStorage(url) for url in (source, sql_url, back)]
    try:
        for name in STUDIES:
            original, middle, last = (snapshot(s, name) for s in stores)
            assert middle == original, name
            assert last == original, name
    finally:
        for storage in stores:
            storage.close()


def test_an_imported_study_goes_on_where_the_original_stood(source: str, tmp_path: Path) -> None:
    target = sqlite_url_for(tmp_path / "t.db")
    assert run_cli("copy", "panda", "--from", source, "--to", target)[0] == 0
    study = shoal.Study.load("panda", target)
    assert study.paused
    study.unpause()
    queued = next(t for t in study.trials if t.state == shoal.TrialState.QUEUED)
    started = study.ask()  # the partial config is filled as it starts, here as anywhere
    assert started.number == queued.number and started.config["x"] == 0.25
    assert set(started.config) == set(SPACE)
    forked = study.trials[1]
    assert forked.config["x"] == 0.125 and set(forked.pending_changes) == {"o"}
    assert forked.excluded_from_models == "it was forked from another trial's checkpoint"


def test_copy_moves_a_study_and_as_renames_it(source: str, tmp_path: Path) -> None:
    target = sqlite_url_for(tmp_path / "t.db")
    code, text = run_cli("copy", "mo", "--from", source, "--to", target)
    assert code == 0 and "imported study 'mo' (6 trials)" in text
    assert run_cli("copy", "mo", "--from", target, "--to", target, "--as", "mo-copy")[0] == 0
    stores = [SQLStorage(url) for url in (source, target)]
    try:
        original = snapshot(stores[0], "mo")
        assert snapshot(stores[1], "mo") == original
        renamed = snapshot(stores[1], "mo-copy")
        assert renamed["record"]["name"] == "mo-copy"
        assert {**renamed, "record": original["record"]} == original
        assert [s.record.name for s in stores[1].list_studies()] == ["mo", "mo-copy"]
    finally:
        for storage in stores:
            storage.close()


def test_import_into_a_storage_that_has_the_name_exits_2_suggesting_as(source: str, tmp_path: Path) -> None:
    dump = tmp_path / "asha.jsonl"
    dump.write_text(run_cli("export", "asha", "--storage", source)[1])
    target = sqlite_url_for(tmp_path / "t.db")
    before = shoal.Study("asha", {"y": shoal.Float(0, 1)}, storage=target)
    before.tell(before.ask(), 1.0)
    done = run_console("import", str(dump), "--storage", target, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "study 'asha' already exists" in done.stderr and "--as" in done.stderr
    assert "--as" in run_failing("copy", "asha", "--from", source, "--to", target)
    assert len(shoal.Study.load("asha", target).trials) == 1  # the old study is untouched
    assert run_cli("import", str(dump), "--storage", target, "--as", "asha-2")[0] == 0
    assert len(shoal.Study.load("asha-2", target).trials) == 9


def _bad_files(good: str) -> dict[str, tuple[bytes, str]]:
    lines = good.splitlines()
    header = json.loads(lines[0])
    trial = json.loads(lines[1])
    newer = json.dumps({**header, "version": 2})
    bad_state = json.dumps({**trial, "trial": {**trial["trial"], "state": "DONE"}})
    second = json.loads(lines[2])
    twice = json.dumps({**second, "trial": {**second["trial"], "claim": "c", "number": 1}})
    claimed = json.dumps({**trial, "trial": {**trial["trial"], "claim": "c"}})
    return {
        "foreign": (b"number,value\n0,0.5\n", "not a shoal study export"),
        "optuna": (json.dumps({"study_name": "x", "trials": []}).encode(), "not a shoal study export"),
        "empty": (b"", "is empty"),
        "binary": (bytes(range(256)), "not a shoal study export"),
        "cut": ("\n".join(lines[:-1]).encode(), "ends early"),
        "broken": ("\n".join([*lines[:2], lines[2][:40], *lines[3:]]).encode(), "line 3: not JSON"),
        "newer": ("\n".join([newer, *lines[1:]]).encode(), "newer shoal"),
        "state": ("\n".join([lines[0], bad_state, *lines[2:]]).encode(), "line 2: state must be"),
        "order": ("\n".join([lines[0], lines[2], lines[1], *lines[3:]]).encode(), "out of order"),
        "claims": ("\n".join([lines[0], claimed, twice, *lines[3:]]).encode(), "holds claim 'c'"),
        "kind": ("\n".join([*lines[:-1], '{"kind": "note"}', lines[-1]]).encode(), "unknown kind"),
    }


def test_a_corrupt_or_foreign_file_exits_2_with_one_line_and_stores_nothing(
    source: str, tmp_path: Path
) -> None:
    good = run_cli("export", "asha", "--storage", source)[1]
    target = tmp_path / "t.db"
    for label, (content, message) in _bad_files(good).items():
        path = tmp_path / f"{label}.jsonl"
        path.write_bytes(content)
        line = run_failing("import", str(path), "--storage", sqlite_url_for(target))
        assert message in line and str(path) in line, (label, line)
        assert not target.exists(), label  # read and refused before the storage was opened
    line = run_failing("import", str(tmp_path / "nope.jsonl"), "--storage", sqlite_url_for(target))
    assert "no such file" in line
    # the console command says the same in one line, no traceback
    done = run_console("import", str(tmp_path / "state.jsonl"), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "line 2: state must be" in done.stderr


def test_export_of_an_unknown_study_exits_2(source: str) -> None:
    assert "no study named 'nope'" in run_failing("export", "nope", "--storage", source)
    assert "no study named 'nope'" in run_failing("copy", "nope", "--from", source, "--to", source)


def test_a_failure_half_way_leaves_no_study_behind(source: str, tmp_path: Path) -> None:
    storage = SQLStorage(source)
    try:
        export = read_export(export_lines(storage, "asha"))
    finally:
        storage.close()
    target = SQLStorage(sqlite_url_for(tmp_path / "t.db"))
    try:
        export.boxes = {0: {"x": (0.5, 2.0)}}  # written after the trials, refused by the storage
        with pytest.raises(ValueError, match="0 <= low <= high <= 1"):
            import_study(target, export)
        assert target.list_studies() == []
    finally:
        target.close()

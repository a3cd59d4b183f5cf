"""``shoal tweak``, ``shoal fork`` and ``shoal schedule`` on real storage, against a trial that runs in
another process (tests/cli_panda_driver.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_panda_driver import SPACE
from conftest import wait_for

import shoal
from shoal.cli import main
from shoal.records import LineageRecord
from shoal.trial import TrialState

TESTS = Path(__file__).resolve().parent
SHOAL = TESTS.parent / ".venv" / "bin" / "shoal"
DRIVER = TESTS / "cli_panda_driver.py"
CONFIG = {"lr": 0.001, "units": 16, "opt": "adam", "beta1": 0.9}
STORED = {**CONFIG, "seed": 1}  # the Fixed dimension is filled in


def start_driver(url: str, directory: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(DRIVER), url, "demo", str(directory), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> None:
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def shoal_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, in its own process."""
    return subprocess.run([str(SHOAL), *argv], capture_output=True, text=True, timeout=120)


def table_rows(text: str) -> list[list[str]]:
    """The body rows of a rich table, as stripped cells."""
    return [[cell.strip() for cell in line.strip("│ ").split("│")] for line in text.splitlines()
            if line.startswith("│")]


def one_line_error(code: int, err: str, message: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("shoal") and ": error: " in lines[0]
    assert message in lines[0], lines[0]


def trial_of(url: str, number: int) -> shoal.Trial:
    return {t.number: t for t in shoal.Study.load("demo", url).trials}[number]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command line in this process (the driver runs in another)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_tweak_reaches_the_running_trial_and_schedule_shows_it(
    sql_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--storage", sql_url]
    proc = start_driver(sql_url, tmp_path, "--enqueue", json.dumps(CONFIG), "--wait-at", "1")
    try:
        def alive() -> None:
            if proc.poll() is not None:
                pytest.fail(f"the driver exited early: {proc.communicate()[1]}")

        wait_for(lambda: (tmp_path / "waiting-0").exists(), "trial 0 to report step 1", check=alive)
        assert dict(trial_of(sql_url, 0).reports) == {0: 0.001, 1: 0.001}  # stored before the wait
        assert trial_of(sql_url, 0).state == TrialState.RUNNING

        tweaked = shoal_cli("tweak", "demo", "0", "lr=0.0003", *db)
        assert tweaked.returncode == 0, tweaked.stderr
        assert tweaked.stdout.strip() == "lr 0.001 -> 0.0003 (pending: takes effect at trial 0's next report)"

        code, out, err = cli(capsys, "schedule", "demo", "0", *db, "--json")
        assert code == 0, err
        pending = json.loads(out)
        assert pending["schedule"] == [[0, STORED]] and pending["pending"] == {"lr": 0.0003}
        assert [(c["name"], c["old"], c["new"], c["step"]) for c in pending["changes"]] == [
            ("lr", 0.001, 0.0003, None)]
        assert pending["excluded_from_models"] is None  # not yet: it has not trained with it
        code, out, _ = cli(capsys, "schedule", "demo", "0", *db)
        assert ["pending", "lr 0.001 -> 0.0003", "person", "tweak"] in table_rows(out)

        (tmp_path / "go").write_text("go")
        finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    heard = json.loads((tmp_path / "heard-0.json").read_text())
    assert heard == {"start": 0, "changes": [[2, {"lr": [0.001, 0.0003]}]]}  # at the next report
    trial = trial_of(sql_url, 0)
    assert trial.reports == [(0, 0.001), (1, 0.001), (2, 0.001), (3, 0.0003), (4, 0.0003)]
    assert trial.state == TrialState.COMPLETE and trial.value == 0.0003

    code, out, err = cli(capsys, "schedule", "demo", "0", *db, "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["trial"] == 0
    assert found["schedule"] == [[0, STORED], [3, {"lr": 0.0003}]]
    assert [(c["name"], c["old"], c["new"], c["source"], c["step"], c["kind"]) for c in found["changes"]] == [
        ("lr", 0.001, 0.0003, "person", 3, "tweak")]
    assert "changed while it trained (lr)" in found["excluded_from_models"]
    assert found["pending"] == {} and found["forked_from"] is None

    code, out, err = cli(capsys, "schedule", "demo", "0", *db)
    assert code == 0, err
    assert "schedule of trial 0 (COMPLETE)" in out
    assert table_rows(out) == [
        ["0", "lr=0.001, units=16, opt=adam, beta1=0.9, seed=1", "", "start"],
        ["3", "lr 0.001 -> 0.0003", "person", "tweak"],
    ]
    assert "left out of samplers' models" in out

    code, out, _ = cli(capsys, "trials", "demo", *db, "--json")
    assert code == 0 and json.loads(out)[0]["note"] == "tweaked lr"

    again = shoal_cli("tweak", "demo", "0", "lr=0.01", *db)
    one_line_error(again.returncode, again.stderr, "trial 0 is COMPLETE; only a RUNNING or PAUSED trial")
    assert "shoal fork demo 0 --step STEP NAME=VALUE" in again.stderr
    code, _, err = cli(capsys, "fork", "demo", "0", "--step", "2", "lr=0.01", *db)
    one_line_error(code, err, "fork: trial 0 has no checkpoint at or before step 2 (it saved none)")
    assert len(shoal.Study.load("demo", sql_url).trials) == 1  # the refused fork stored nothing


def test_fork_queues_a_trial_that_a_later_optimize_runs_from_the_checkpoint(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    finish(start_driver(sqlite_url, tmp_path, "--enqueue", json.dumps(CONFIG), "--checkpoints"))

    code = main(["fork", "demo", "0", "--step", "1", "--storage", sqlite_url])
    _, err = capsys.readouterr()
    one_line_error(code, err, "trial 0 has no checkpoint at or before step 1 (it saved at steps [3, 4])")

    code = main(["fork", "demo", "0", "--step", "3", "lr=0.0001", "units=20", "--storage", sqlite_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines() == [
        "trial 1: forked from trial 0's checkpoint at step 3; QUEUED, it runs in the next free slot of a "
        "running or later 'shoal run' / study.optimize",
        "lr 0.001 -> 0.0001",
        "units 16 -> 20",
    ]
    forked = {**STORED, "lr": 0.0001, "units": 20}
    assert trial_of(sqlite_url, 1).state == TrialState.QUEUED
    assert trial_of(sqlite_url, 1).config == forked

    finish(start_driver(sqlite_url, tmp_path, "--checkpoints"))  # a later optimize runs the fork
    assert json.loads((tmp_path / "heard-1.json").read_text()) == {"start": 4, "changes": []}
    child = trial_of(sqlite_url, 1)
    assert child.state == TrialState.COMPLETE and child.reports == [(4, 0.0001)]

    assert main(["schedule", "demo", "1", "--storage", sqlite_url, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["schedule"] == [[4, forked]]
    assert [(c["name"], c["old"], c["new"], c["step"], c["kind"]) for c in found["changes"]] == [
        ("lr", 0.001, 0.0001, 4, "fork"), ("units", 16, 20, 4, "fork")]
    assert found["excluded_from_models"] == "it was forked from another trial's checkpoint"
    lineage = found["forked_from"]
    assert (lineage["trial"], lineage["step"]) == (0, 3)
    assert lineage["replay"][0][1] == STORED and lineage["replay"][-1] == [4, forked]

    assert main(["schedule", "demo", "1", "--storage", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert "schedule of trial 1 (COMPLETE), forked from trial 0's checkpoint at step 3" in out
    rows = table_rows(out)
    assert rows[:2] == [["4", "lr=0.0001, units=20, opt=adam, beta1=0.9, seed=1", "", "start"],
                        ["4", "lr 0.001 -> 0.0001, units 16 -> 20", "person", "fork"]]
    assert "replayable schedule" in out and ["4", "0.0001", "20", "adam", "0.9", "1"] in rows


@pytest.fixture
def running_study(sqlite_url: str) -> shoal.Study:
    """Study "demo": trial 0 COMPLETE, trial 1 RUNNING (started here, with no checkpoints)."""
    study = shoal.Study("demo", SPACE, storage=sqlite_url)
    study.enqueue(CONFIG)
    study.enqueue(CONFIG)
    study.tell(study.ask(), 1.0)
    study.ask()
    return study


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tweak", "demo", "1", "lr"], "tweak: expected NAME=VALUE, got 'lr'; write e.g. lr=0.0003"),
        (["tweak", "demo", "1", "=0.1"], "expected NAME=VALUE, got '=0.1'"),
        (["tweak", "demo", "1", "lr=abc"], "'lr=abc': dimension 'lr' is a float; write a number"),
        (["tweak", "demo", "1", "lr=5"], "tweak of trial 1: dimension 'lr': 5.0 is not a legal value (Float("
                                           "low=0.0001, high=1.0, scale='log')); pick one the space allows"),
        (["tweak", "demo", "1", "units=3.5"], "'units=3.5': dimension 'units' is an int"),
        (["tweak", "demo", "1", "opt=rmsprop"], "'rmsprop' is not a choice of dimension 'opt'; use one of "
                                                '"adam", "sgd"'),
        (["tweak", "demo", "1", "opt=sgd"], "a running model cannot gain or lose hyperparameters"),
        (["tweak", "demo", "1", "seed=2"], "dimension 'seed' is Fixed(1); it cannot change"),
        (["tweak", "demo", "1", "nope=1"], "unknown dimension 'nope'; the space has lr, units, opt, beta1"),
        (["tweak", "demo", "1", "lr=0.1", "lr=0.2"], "'lr' is given twice"),
        (["tweak", "demo", "1"], "the following arguments are required: NAME=VALUE"),
        (["tweak", "demo", "0", "lr=0.1"], "trial 0 is COMPLETE; only a RUNNING or PAUSED trial"),
        (["tweak", "demo", "7", "lr=0.1"], "study 'demo' has no trial number 7 (its trials are 0 to 1"),
        (["tweak", "nope", "1", "lr=0.1"], "no study named 'nope'"),
        (["tweak", "demo", "x", "lr=0.1"], "expected an integer >= 0, got 'x'"),
        (["fork", "demo", "0", "--step", "2"], "fork: trial 0 has no checkpoint at or before step 2"),
        (["fork", "demo", "0", "--step", "-1"], "expected an integer >= 0, got '-1'"),
        (["fork", "demo", "0", "lr=0.1"], "the following arguments are required: --step"),
        (["fork", "demo", "0", "--step", "2", "lr=0.1", "--bogus"], "unrecognized arguments: --bogus"),
        (["fork", "demo", "0", "--step", "2", "nope=1"], "fork: unknown dimension 'nope'"),
        (["schedule", "demo", "7"], "study 'demo' has no trial number 7"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_stores_nothing(
    running_study: shoal.Study, sqlite_url: str, capsys: pytest.CaptureFixture[str], argv: list[str],
    message: str,
) -> None:
    code = main([*argv, "--storage", sqlite_url])
    one_line_error(code, capsys.readouterr().err, message)
    trials = shoal.Study.load("demo", sqlite_url).trials
    assert len(trials) == 2 and all(t.changes == [] for t in trials)
    assert trials[1].state == TrialState.RUNNING


def test_tweak_parses_values_by_the_dimension_type(
    running_study: shoal.Study, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["tweak", "demo", "1", "units=32", "beta1=0.95", "lr=1e-2", "--storage", sqlite_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines() == [
        f"{line} (pending: takes effect at trial 1's next report)"
        for line in ("units 16 -> 32", "beta1 0.9 -> 0.95", "lr 0.001 -> 0.01")
    ]
    pending = trial_of(sqlite_url, 1).pending_changes
    assert pending == {"units": 32, "beta1": 0.95, "lr": 0.01}
    assert type(pending["units"]) is int and type(pending["lr"]) is float

    code = main(["tweak", "demo", "1", "units=32", "seed=1", "--storage", sqlite_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == "trial 1: nothing changed (units=32, seed=1: already in force or pending)"
    assert len(trial_of(sqlite_url, 1).changes) == 3


def test_choice_values_keep_their_types(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    choices = ["1", 1, 1.5, True, None, "adam"]
    study = shoal.Study("typed", {"pick": shoal.Choice(choices)}, storage=sqlite_url)
    study.enqueue({"pick": "adam"})
    study.ask()
    typed = [("1", 1), ('"1"', "1"), ("1.5", 1.5), ("true", True), ("None", None), ("adam", "adam")]
    for text, value in typed:
        assert main(["tweak", "typed", "0", f"pick={text}", "--storage", sqlite_url]) == 0
        capsys.readouterr()
        pending = trial_of_study("typed", sqlite_url, 0).pending_changes["pick"]
        assert type(pending) is type(value) and pending == value, text


def trial_of_study(name: str, url: str, number: int) -> shoal.Trial:
    return {t.number: t for t in shoal.Study.load(name, url).trials}[number]


def test_fork_is_refused_in_a_population_based_training_study(
    running_study: shoal.Study, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    member = running_study.trials[1]  # stored as a fresh PBT member's first segment would be
    running_study.storage.add_lineage(member.trial_id, LineageRecord(member.number, member=0, segment=0))
    code = main(["fork", "demo", "1", "--step", "0", "--storage", sqlite_url])
    one_line_error(code, capsys.readouterr().err, "population-based training forks its own members")
    assert len(shoal.Study.load("demo", sqlite_url).trials) == 2


def test_options_may_come_between_the_values(
    running_study: shoal.Study, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tweak", "demo", "1", "--storage", sqlite_url, "lr=0.002", "units=9"]) == 0
    assert "units 16 -> 9" in capsys.readouterr().out
    assert trial_of(sqlite_url, 1).pending_changes == {"lr": 0.002, "units": 9}


def test_a_paused_trial_takes_the_tweak_when_it_resumes(
    running_study: shoal.Study, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trial = running_study.trials[1]
    running_study.storage.set_state(trial.trial_id, TrialState.RUNNING, TrialState.PAUSED)
    assert main(["tweak", "demo", "1", "lr=0.002", "--storage", sqlite_url]) == 0
    assert capsys.readouterr().out.strip() == (
        "lr 0.001 -> 0.002 (pending: takes effect at trial 1's next report, once it resumes)")
    assert main(["trials", "demo", "--json", "--storage", sqlite_url]) == 0
    assert json.loads(capsys.readouterr().out)[1]["note"].endswith("tweak pending lr")

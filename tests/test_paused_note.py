"""Why a trial is PAUSED, in words, wherever a person reads trials (issue 12).

ASHA in promote mode leaves most trials PAUSED when ``optimize`` returns: they were paused at a rung
and never ranked high enough there to be promoted. ``shoal show``, ``shoal trials``, the summary of
``shoal run``, the dashboard's JSON and the HTML report all say so with one wording
(``shoal.analysis.paused``): "paused at rung r, not promoted; a later optimize may promote it".

The study is real: ASHA(min_resource=1, reduction_factor=2, max_resource=6, mode="promote") on 24
seeded trials, the objective saving and loading checkpoints. Rungs sit at steps 1, 2 and 4, so the
rung a trial waits at is read here from its last report, apart from the rung records the code uses.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

import shoal
from shoal.analysis.paused import AT_RUNG, NO_RUNG, paused_note, paused_notes, paused_summary
from shoal.cli import main
from shoal.records import RungRecord
from shoal.samplers import Random
from shoal.schedulers import ASHA
from shoal.trial import Trial, TrialState

EPOCHS = 6
RUNG_OF_STEP = {1: 0, 2: 1, 4: 2}  # min_resource 1, reduction_factor 2, below max_resource 6
STUDY = "promote"


def note(rung: int) -> str:
    return f"paused at rung {rung}, not promoted; a later optimize may promote it"


def train(config: dict, trial: shoal.RunningTrial) -> float:
    state = trial.load()
    first = 1 if state is None else state["epoch"] + 1
    loss = float("nan")
    for epoch in range(first, EPOCHS + 1):
        loss = config["q"] + 1.0 / epoch
        trial.save({"epoch": epoch}, epoch)
        trial.report(loss, epoch)
        if trial.should_stop():
            break
    return loss


def open_study(url: str, checkpoints: Path) -> shoal.Study:
    return shoal.Study(
        STUDY, {"q": shoal.Float(0.0, 1.0)}, storage=url, sampler=Random(), seed=0,
        scheduler=ASHA(1, reduction_factor=2, max_resource=EPOCHS, mode="promote"),
        checkpoints=str(checkpoints),
    )


def expected_notes(trials: list[Trial]) -> dict[int, str]:
    """From the trials' own reports: a paused trial waits at the rung of its last report's step."""
    return {t.number: note(RUNG_OF_STEP[t.reports[-1][0]]) for t in trials if t.state == TrialState.PAUSED}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[int, str]]:
    """A finished promote-mode study in a SQLite file, and the note each PAUSED trial must carry."""
    folder = tmp_path_factory.mktemp("promote")
    url = f"sqlite:///{folder / 'shoal.db'}"
    study = open_study(url, folder / "ckpt")
    study.optimize(train, 24, show_progress=False)
    states = Counter(t.state for t in study.trials)
    assert set(states) == {TrialState.PAUSED, TrialState.COMPLETE}, states
    assert states[TrialState.PAUSED] > states[TrialState.COMPLETE]  # most trials end PAUSED
    expected = expected_notes(study.trials)
    assert len({n for n in expected.values()}) > 1  # trials wait at more than one rung
    return url, expected


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def grouped(expected: dict[int, str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for number in sorted(expected):
        groups.setdefault(expected[number], []).append(number)
    return groups


# -- the wording -----------------------------------------------------------------------------------


def test_the_note_names_the_highest_rung_and_only_paused_trials_have_one() -> None:
    paused = Trial(3, TrialState.PAUSED, {"q": 0.5})
    rungs = [RungRecord(3, 0, 0, 1, 0.9), RungRecord(3, 0, 1, 3, 0.8), RungRecord(4, 0, 2, 9, 0.1)]
    assert paused_note(paused, rungs) == note(1) == AT_RUNG.format(rung=1)
    assert paused_note(paused, []) == NO_RUNG  # a scheduler that pauses without rung records
    for state in TrialState:
        if state != TrialState.PAUSED:
            assert paused_note(Trial(3, state, {"q": 0.5}), rungs) is None, state
    trials = [paused, Trial(4, TrialState.PAUSED, {}), Trial(5, TrialState.COMPLETE, {}, value=1.0)]
    assert paused_notes(trials, rungs) == {3: note(1), 4: note(2)}


def test_the_summary_is_a_line_per_rung_naming_the_trials() -> None:
    trials = [Trial(n, TrialState.PAUSED, {}) for n in range(40)] + [Trial(40, TrialState.PAUSED, {})]
    rungs = [RungRecord(n, 0, 0, 1, 0.5) for n in range(40)] + [RungRecord(40, 0, 1, 2, 0.1)]
    lines = paused_summary(trials, rungs, most=3)
    assert lines == [f"trials 0, 1, 2 and 37 more: {note(0)}", f"trial 40: {note(1)}"]
    assert paused_summary([Trial(0, TrialState.COMPLETE, {}, value=1.0)], rungs) == []


# -- the command line -------------------------------------------------------------------------------


def test_shoal_show_explains_the_paused_trials(stored, capsys) -> None:
    url, expected = stored
    code, out, err = run_cli(capsys, "show", STUDY, "--storage", url)
    assert code == 0, err
    for text, numbers in grouped(expected).items():
        label = "trial" if len(numbers) == 1 else "trials"
        assert f"{label} {', '.join(map(str, numbers))}: {text}" in out, out


def test_shoal_trials_gives_each_paused_trial_its_note(stored, capsys) -> None:
    url, expected = stored
    code, out, err = run_cli(capsys, "trials", STUDY, "--storage", url)
    assert code == 0, err
    rows = {int(m.group(1)): m.group(0) for m in re.finditer(r"^│ (\d+) +│.*$", out, re.M)}
    assert len(rows) == 24
    for number, row in rows.items():
        if number in expected:
            assert "PAUSED" in row and expected[number] in row, row
        else:
            assert "COMPLETE" in row and "not promoted" not in row, row
    code, out, err = run_cli(capsys, "trials", STUDY, "--storage", url, "--json")
    assert code == 0, err
    shown = {t["number"]: t.get("note") for t in json.loads(out)}
    assert {n: v for n, v in shown.items() if v is not None} == expected
    code, out, err = run_cli(capsys, "trials", STUDY, "--storage", url, "--state", "COMPLETE")
    assert code == 0 and "note" not in out and "not promoted" not in out  # no empty column


def test_shoal_run_ends_with_the_explanation(tmp_path: Path, capsys) -> None:
    (tmp_path / "promote_objective.py").write_text(  # the objective above, next to the config
        f"from __future__ import annotations\nimport shoal\nEPOCHS = {EPOCHS}\n\n" + inspect.getsource(train)
    )
    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "study": STUDY, "objective": "promote_objective:train", "direction": "minimize",
        "space": {"q": {"type": "float", "low": 0.0, "high": 1.0}}, "sampler": "random",
        "scheduler": {"name": "asha", "min_resource": 1, "reduction_factor": 2, "max_resource": EPOCHS,
                      "mode": "promote"},
        "n_trials": 24, "seed": 0, "storage": url,
    }, sort_keys=False))
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    trials = shoal.Study.load(STUDY, url).trials
    expected = expected_notes(trials)
    assert expected, "the run left some trial PAUSED"
    for text, numbers in grouped(expected).items():
        label = "trial" if len(numbers) == 1 else "trials"
        assert f"{label} {', '.join(map(str, numbers))}: {text}" in out, out


# -- the dashboard and the report ------------------------------------------------------------------


def test_the_dashboard_json_carries_the_note_and_follows_a_promotion(tmp_path: Path) -> None:
    import urllib.request

    from shoal.dashboard import Dashboard

    url = f"sqlite:///{tmp_path / 'shoal.db'}"  # this test runs optimize again: its own study
    study = open_study(url, tmp_path / "ckpt")
    study.optimize(train, 24, show_progress=False)
    expected = expected_notes(study.trials)
    assert expected
    dashboard = Dashboard(url, port=0).start()
    try:
        def get(path: str) -> dict:
            with urllib.request.urlopen(dashboard.url.rstrip("/") + path, timeout=30) as response:
                return json.loads(response.read())

        rows = get(f"/api/studies/{STUDY}/trials")["trials"]
        assert {r["number"]: r["note"] for r in rows if r["note"] is not None} == expected
        for number, text in expected.items():
            assert get(f"/api/studies/{STUDY}/trials/{number}")["note"] == text
        complete = next(r["number"] for r in rows if r["state"] == "COMPLETE")
        assert get(f"/api/studies/{STUDY}/trials/{complete}")["note"] is None

        # a second optimize promotes paused trials: the notes follow (none stale, new rungs named)
        study.optimize(train, 6, show_progress=False)
        now = expected_notes(study.trials)
        assert now != expected
        dashboard.app._watches[STUDY].invalidate()  # the next poll reads storage at once
        rows = get(f"/api/studies/{STUDY}/trials")["trials"]
        assert {r["number"]: r["note"] for r in rows if r["note"] is not None} == now
        for number, text in now.items():
            assert get(f"/api/studies/{STUDY}/trials/{number}")["note"] == text
    finally:
        dashboard.stop()


def test_the_report_explains_the_paused_trials(stored, tmp_path: Path, capsys) -> None:
    pytest.importorskip("plotly")
    url, expected = stored
    path = tmp_path / "report.html"
    code, out, err = run_cli(capsys, "report", STUDY, "--storage", url, "--output", str(path))
    assert code == 0, err
    page = path.read_text()
    for text, numbers in grouped(expected).items():
        label = "trial" if len(numbers) == 1 else "trials"
        assert f"<li>{label} {', '.join(map(str, numbers))}: {text}</li>" in page


def test_the_dashboard_names_the_new_rung_of_a_trial_paused_again_between_two_reads() -> None:
    """Promoted and paused again at a higher rung before the dashboard looked: still PAUSED, new rung."""
    from shoal.dashboard.data import TrialWatch
    from shoal.storage import InMemoryStorage

    storage = InMemoryStorage()
    record = storage.create_study("s", "minimize", {}, "Random()")
    trial = storage.create_trial(record.study_id, TrialState.RUNNING, {}, {})
    tid = trial.trial_id
    storage.add_report(tid, 1, 0.9)
    storage.add_rung(tid, RungRecord(trial.number, 0, 0, 1, 0.9))
    storage.set_state(tid, TrialState.RUNNING, TrialState.PAUSED)
    watch = TrialWatch(storage, record)
    watch.refresh()
    assert watch.note(trial.number) == note(0)
    storage.promote_trial(tid, None)
    storage.add_report(tid, 2, 0.8)
    storage.add_rung(tid, RungRecord(trial.number, 0, 1, 2, 0.8))
    storage.set_state(tid, TrialState.RUNNING, TrialState.PAUSED)
    watch.invalidate()
    watch.refresh()
    assert watch.note(trial.number) == note(1)
    _, rows = watch.changed_since(-1)
    assert rows[0]["note"] == note(1)
    storage.promote_trial(tid, None)
    watch.invalidate()
    watch.refresh()
    assert watch.note(trial.number) is None and watch.changed_since(-1)[1][0]["note"] is None

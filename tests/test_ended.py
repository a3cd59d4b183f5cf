"""Why a trial ended, in words (``shoal.analysis.ended``): from typed records, and from a real study
pruned by ASHA."""

from __future__ import annotations

import shoal
from shoal.analysis.ended import ended_note, ended_notes, error_line, scheduler_name
from shoal.records import RungRecord
from shoal.schedulers import ASHA
from shoal.trial import FailureKind, Trial, TrialState

TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 3, in f\nValueError: lr too high\n'


def _trial(state: TrialState, **kwargs) -> Trial:
    return Trial(number=kwargs.pop("number", 3), state=state, config={"x": 1}, **kwargs)


def test_each_state_says_why_in_one_line() -> None:
    rungs = [RungRecord(3, 0, 0, 1, 0.5), RungRecord(3, 0, 1, 3, 0.4), RungRecord(4, 0, 2, 9, 0.1)]
    pruned = _trial(TrialState.PRUNED, reports=[(1, 0.5), (3, 0.4)])
    asha = "ASHA(min_resource=1, reduction_factor=3)"
    assert ended_note(pruned, rungs, asha) == "pruned at step 3 by ASHA at rung 1"
    assert ended_note(pruned, (), None) == "pruned at step 3"
    stopped = _trial(TrialState.PRUNED, reports=[(7, 1.0)], stop_requested=True)
    assert ended_note(stopped, rungs, "ASHA()") == "stopped by a person at step 7"
    assert ended_note(_trial(TrialState.PAUSED, reports=[(3, 0.4)]), rungs) == (
        "paused at rung 1, not promoted; a later optimize may promote it")
    assert ended_note(_trial(TrialState.FAILED, error=TRACEBACK, failure=FailureKind.OBJECTIVE)) == (
        "failed: ValueError: lr too high")
    assert ended_note(_trial(TrialState.FAILED, error="objective returned None (NoneType)\nmore")) == (
        "failed: objective returned None (NoneType)")
    died = _trial(TrialState.FAILED, error="worker 12 vanished", failure=FailureKind.WORKER_DIED)
    assert ended_note(died) == "failed: its worker died (worker 12 vanished)"
    assert ended_note(_trial(TrialState.FAILED, failure=FailureKind.TIMEOUT)) == (
        "failed: it ran past timeout_per_trial")
    assert ended_note(_trial(TrialState.STALE)).startswith("stale: its driver stopped sending heartbeats")
    assert ended_note(_trial(TrialState.COMPLETE, value=1.0)) == "completed"
    assert ended_note(_trial(TrialState.COMPLETE, value=1.0, feasible=False)) == (
        "completed, infeasible: misses a constraint")
    assert ended_note(_trial(TrialState.RUNNING)) is None and ended_note(_trial(TrialState.QUEUED)) is None
    assert error_line("") == "" and error_line(None) == ""
    assert scheduler_name("Hyperband(max_resource=9)") == "Hyperband" and scheduler_name(None) is None


def _curve(config, trial):
    for step in range(1, 10):
        trial.report(config["q"] + 1.0 / step, step)
        if trial.should_stop():
            raise shoal.TrialPruned()
    return config["q"]


def test_a_study_pruned_by_asha_names_the_step_scheduler_and_rung() -> None:
    study = shoal.Study("asha", {"q": shoal.Float(0.0, 1.0)}, seed=0,
                        scheduler=ASHA(1, reduction_factor=3, max_resource=9))
    study.optimize(_curve, 20, show_progress=False)
    rungs = study.storage.read_rungs(study.id)
    notes = ended_notes(study.trials, rungs, study.storage.get_study("asha").scheduler)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned
    for trial in pruned:
        rung = max(r.rung for r in rungs if r.trial_number == trial.number)
        assert notes[trial.number] == f"pruned at step {trial.reports[-1][0]} by ASHA at rung {rung}"
    assert {notes[t.number] for t in study.trials if t.state == TrialState.COMPLETE} == {"completed"}

"""Panda mode end to end: tweaks of running trials and forks from checkpoints, on every executor (in
process, local worker processes, Dask), across driver processes and a driver killed mid-trial, kept
out of samplers' models and importance; and a property test of the schedule a trial's tweaks make.

The driver learns what a trial does through its report channel: the studies below override
``Study._report`` to tweak (or stop) a trial right after its step-0 report is stored, so the tests
need no sleeps. The objectives live in ``panda_objectives`` (worker processes import them).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import panda_objectives as po
import pytest
from conftest import wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shoal
from shoal.analysis.importance import importance_of
from shoal.records import Steering
from shoal.samplers import BOHB, GP, TPE, Auto, CoarseToFine, Random, SamplingContext
from shoal.samplers.bohb import observations
from shoal.trial import TrialState

HERE = Path(__file__).parent
SPACE = po.SPACE
NEW_LR = po.NEW_LR
EXECUTORS = ("inprocess", "local", "dask")


# -- executors ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A Dask client on a LocalCluster of two single-threaded workers in this process."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0", silence_logs=50)
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(params=EXECUTORS)
def run_on(request: pytest.FixtureRequest) -> dict[str, Any]:
    """``optimize`` keywords for each executor: in process, two local workers, Dask."""
    if request.param == "inprocess":
        return {}
    if request.param == "local":
        return {"n_workers": 2}
    return {"executor": request.getfixturevalue("dask_client")}


class TweaksAtStepZero(shoal.Study):
    """Tweaks lr of every trial right after its step-0 report is stored (the answer to that report
    is already decided, so the tweak waits for the trial's next report or ``should_stop``)."""

    also_stop = False

    def _report(self, record, step: int, value: float) -> Steering:
        answer = super()._report(record, step, value)
        if step == 0:
            self.tweak(record.number, {"lr": NEW_LR})
            if self.also_stop:
                assert self.stop_trial(record.number)
        return answer


class TweaksAndStopsAtStepZero(TweaksAtStepZero):
    also_stop = True


def changes_of(trial: shoal.Trial) -> list[tuple]:
    """A trial's change rows without their timestamps."""
    assert all(c.created_at is not None for c in trial.changes)
    return [(c.trial_number, c.name, c.old, c.new, c.source, c.step, c.kind) for c in trial.changes]


def states(trials: list[shoal.Trial]) -> list[TrialState]:
    return [t.state for t in trials]


# -- 1. a tweak arrives before the trial's next report returns ------------------------------------
def test_a_tweak_arrives_with_the_next_report_on_every_executor(run_on: dict, sqlite_url: str) -> None:
    study = TweaksAtStepZero("next-report", SPACE, storage=sqlite_url, seed=1)
    study.optimize(po.tweaked_at_next_report, n_trials=2, show_progress=False, **run_on)
    trials = study.trials
    assert states(trials) == [TrialState.COMPLETE] * 2, [t.error for t in trials]
    for reread in (trials, shoal.Study.load("next-report", sqlite_url).trials):
        for trial in reread:
            initial = trial.config["lr"]
            assert initial != NEW_LR  # the stored config is the one the trial started with
            assert trial.value == NEW_LR  # what the objective trained its last steps with
            # delivered with the step-1 report: step 2 is the first trained with the new value
            assert changes_of(trial) == [(trial.number, "lr", initial, NEW_LR, "person", 2, "tweak")]
            assert trial.schedule == [(0, trial.config), (2, {"lr": NEW_LR})]
            assert trial.schedule_at(1) == trial.config
            assert trial.schedule_at(2) == trial.current_config == {**trial.config, "lr": NEW_LR}
            assert trial.pending_changes == {}
            assert trial.excluded_from_models is not None and "lr" in trial.excluded_from_models


def test_a_tweak_heard_by_should_stop_takes_effect_at_the_next_step(run_on: dict, sqlite_url: str) -> None:
    study = TweaksAtStepZero("poll", SPACE, storage=sqlite_url, seed=2)
    study.optimize(po.tweaked_between_reports, n_trials=2, show_progress=False, **run_on)
    trials = study.trials
    assert states(trials) == [TrialState.COMPLETE] * 2, [t.error for t in trials]
    for trial in trials:
        initial = trial.config["lr"]
        # no report delivered it: should_stop after step 0 did, so step 1 trains with it
        assert changes_of(trial) == [(trial.number, "lr", initial, NEW_LR, "person", 1, "tweak")]
        assert trial.schedule == [(0, trial.config), (1, {"lr": NEW_LR})]
        assert [s for s, _ in trial.reports] == [0, 1]


# -- 2. a finished trial cannot be tweaked ------------------------------------------------------
def test_a_tweak_to_a_finished_trial_is_refused_and_nothing_is_stored(run_on: dict, sqlite_url: str) -> None:
    study = shoal.Study("finished", SPACE, storage=sqlite_url, seed=3)
    study.optimize(po.ends_by_number, n_trials=3, show_progress=False, **run_on)
    trials = study.trials
    assert states(trials) == [TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED]
    queued = study.enqueue({"lr": 0.01, "width": 2})
    for trial in [*trials, queued]:
        with pytest.raises(ValueError, match=f"trial {trial.number} is {trial.state.value}; only a RUNNING"):
            study.tweak(trial.number, {"lr": NEW_LR})
    with pytest.raises(ValueError, match="no trial number 9"):
        study.tweak(9, {"lr": NEW_LR})
    reread = shoal.Study.load("finished", sqlite_url).trials
    assert [t.changes for t in reread] == [[]] * 4
    assert [t.config for t in reread] == [t.config for t in [*trials, queued]]


# -- 3. a tweak and a stop sent together --------------------------------------------------------
def test_a_tweak_and_a_stop_sent_together_both_apply(run_on: dict, sqlite_url: str) -> None:
    study = TweaksAndStopsAtStepZero("tweak-stop", SPACE, storage=sqlite_url, seed=4)
    study.optimize(po.stops_with_tweak, n_trials=2, show_progress=False, **run_on)
    trials = study.trials
    assert states(trials) == [TrialState.PRUNED] * 2, [t.error for t in trials]
    for trial in trials:
        assert [s for s, _ in trial.reports] == [0, 1] and trial.value == 1.0
        assert changes_of(trial) == [(trial.number, "lr", trial.config["lr"], NEW_LR, "person", 2, "tweak")]
        assert trial.stop_requested


# -- 5. a fork of a fork ------------------------------------------------------------------------
def test_a_fork_of_a_fork_keeps_lineage_and_starts_from_the_right_checkpoint(
    run_on: dict, sqlite_url: str, tmp_path: Path
) -> None:
    study = shoal.Study("forks", SPACE, storage=sqlite_url, seed=5, checkpoints=str(tmp_path / "ckpt"))
    objective = partial(po.trains_from_checkpoint, directory=str(tmp_path))
    study.optimize(objective, n_trials=1, show_progress=False, **run_on)
    [a] = study.trials
    assert a.state == TrialState.COMPLETE, a.error
    saved = {ref.step: ref.uri for ref in study.storage.read_checkpoints(study.id, numbers=[0])}
    assert sorted(saved) == [2, 4]  # saved at 0, 2, 4; pruning keeps the latest two

    first = study.fork(0, step=3, changes={"lr": 0.01})  # no save at 3: starts from step 2
    assert first.state == TrialState.QUEUED and first.config == {**a.config, "lr": 0.01}
    assert changes_of(first) == [(1, "lr", a.config["lr"], 0.01, "person", 3, "fork")]
    study.optimize(objective, n_trials=1, show_progress=False, **run_on)
    first = study.trials[1]
    assert first.state == TrialState.COMPLETE, first.error
    assert [s for s, _ in first.reports] == [3, 4, 5]

    width = 1 + a.config["width"] % 8
    second = study.fork(1, step=5, changes={"width": width})  # from the first fork's save at 4
    assert second.config == {**first.config, "width": width}
    assert changes_of(second) == [(2, "width", a.config["width"], width, "person", 5, "fork")]
    study.optimize(objective, n_trials=1, show_progress=False, **run_on)
    second = study.trials[2]
    assert second.state == TrialState.COMPLETE, second.error
    assert [s for s, _ in second.reports] == [5]
    assert second.schedule == [(5, second.config)]
    assert all("forked" in t.excluded_from_models for t in (first, second))
    assert a.excluded_from_models is None

    # lineage chains: (parent, checkpoint, step), one line, one segment on each time
    lineage = {r.trial_number: r for r in study.storage.read_lineage(study.id)}
    fork_saves = {ref.step: ref.uri for ref in study.storage.read_checkpoints(study.id, numbers=[1])}
    assert set(lineage) == {1, 2}
    assert (lineage[1].parent, lineage[1].checkpoint, lineage[1].step) == (0, saved[2], 2)
    assert (lineage[2].parent, lineage[2].checkpoint, lineage[2].step) == (1, fork_saves[4], 4)
    assert (lineage[1].member, lineage[1].segment, lineage[2].member, lineage[2].segment) == (0, 1, 0, 2)

    # each fork loaded its parent's state at that step, and trained on with its own config
    def loaded(number: int) -> dict:
        return json.loads((tmp_path / f"loaded-{number}.json").read_text())

    a_path = [[0, s, a.config["lr"], a.config["width"]] for s in range(6)]
    first_path = [*a_path[:3], *([1, s, 0.01, a.config["width"]] for s in (3, 4))]
    assert loaded(0) == {"state": None, "start_step": None, "config": a.config}
    assert loaded(1) == {"state": {"step": 2, "path": a_path[:3]}, "start_step": 2, "config": first.config}
    assert loaded(2) == {"state": {"step": 4, "path": first_path}, "start_step": 4, "config": second.config}

    # no checkpoint at or before the step: refused, nothing stored
    with pytest.raises(ValueError, match=r"trial 2 has no checkpoint at or before step 4 \(it saved none\)"):
        study.fork(2, step=4)
    with pytest.raises(
        ValueError, match=r"trial 1 has no checkpoint at or before step 3 \(it saved at steps \[4\]"
    ):
        study.fork(1, step=3)
    assert len(study.trials) == 3 and len(study.storage.read_lineage(study.id)) == 2


def test_a_forks_rerun_resumes_its_line_and_stays_out_of_models(sqlite_url: str, tmp_path: Path) -> None:
    study = shoal.Study("fork-rerun", SPACE, storage=sqlite_url, seed=7, checkpoints=str(tmp_path / "ckpt"))
    objective = partial(po.trains_from_checkpoint, directory=str(tmp_path), fails=1)
    study.optimize(objective, n_trials=1, show_progress=False)
    study.fork(0, step=2, changes={"lr": 0.01})
    study.optimize(objective, n_trials=1, retries=1, show_progress=False)  # the fork fails once
    a, fork, rerun = study.trials
    assert (fork.state, rerun.state, rerun.requeued_from) == (TrialState.FAILED, TrialState.COMPLETE, 1)
    assert rerun.config == fork.config == {**a.config, "lr": 0.01}
    # the re-run goes on from the fork's own save at 4, on the fork's line: its changes come along
    assert changes_of(rerun) == [(2, "lr", a.config["lr"], 0.01, "person", 3, "fork")]
    assert rerun.schedule == [(3, rerun.config)] and "forked" in rerun.excluded_from_models
    state = json.loads((tmp_path / "loaded-2.json").read_text())["state"]
    assert state["step"] == 4 and [p[0] for p in state["path"]] == [0, 0, 0, 1, 1]
    assert [s for s, _ in rerun.reports] == [5]
    assert [t.number for t in study._context(None).excluded] == [1, 2]


def test_fork_refuses_bad_input_before_storing_anything(tmp_path: Path) -> None:
    study = shoal.Study("fork-input", SPACE, seed=6, checkpoints=str(tmp_path / "ckpt"))
    study.optimize(po.ends_by_number, n_trials=1, show_progress=False)
    for step in (-1, 1.5, True):
        with pytest.raises(ValueError, match="step must be an int >= 0"):
            study.fork(0, step=step)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"no checkpoint at or before step 3 \(it saved none\)"):
        study.fork(0, step=3)
    with pytest.raises(ValueError, match="no trial number 4"):
        study.fork(4, step=0)
    assert len(study.trials) == 1


# -- driver processes ---------------------------------------------------------------------------
class Drivers:
    """Starts ``panda_driver.py`` processes; whatever still runs at the end of the test is killed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[subprocess.Popen] = []

    def start(self, url: str, study: str, *args: str) -> subprocess.Popen:
        path = os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
        log_path = self.directory / f"driver-{len(self.started)}.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [sys.executable, str(HERE / "panda_driver.py"), url, study, str(self.directory), *args],
                env={**os.environ, "PYTHONPATH": path}, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        process.log = log_path  # type: ignore[attr-defined]
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def drivers(tmp_path: Path) -> Iterator[Drivers]:
    started = Drivers(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def alive(process: subprocess.Popen):
    """A ``wait_for`` check: fail at once, with its log, when the driver has exited."""

    def check() -> None:
        assert process.poll() is None, f"driver exited ({process.returncode}): " + Path(
            process.log  # type: ignore[attr-defined]
        ).read_text()[-3000:]

    return check


def finished(process: subprocess.Popen, seconds: float = 90) -> None:
    process.wait(timeout=seconds)
    assert process.returncode == 0, Path(process.log).read_text()[-3000:]  # type: ignore[attr-defined]


# -- 4. a driver killed after a tweak was stored ------------------------------------------------
@pytest.mark.parametrize("moment, checkpoints", [("pending", False), ("delivered", True)])
def test_a_driver_killed_after_a_tweak_resumes_the_trial_with_the_tweak_in_force(
    sql_url: str, tmp_path: Path, drivers: Drivers, moment: str, checkpoints: bool
) -> None:
    store = tmp_path / "ckpt"
    deliver = moment == "delivered"
    options = ["--kw", f"deliver={json.dumps(deliver)}", "--kw", f"checkpoints={json.dumps(checkpoints)}"]
    if checkpoints:
        options += ["--checkpoints", str(store)]
    driver = drivers.start(sql_url, "killed", "--objective", "trains_until_killed", *options)
    wait_for(lambda: (tmp_path / "ready").exists(), "the trial to reach step 2", check=alive(driver))
    other = shoal.Study.load("killed", sql_url, checkpoints=str(store))  # a second driver: nothing stale yet
    [running] = other.trials
    assert running.state == TrialState.RUNNING and [s for s, _ in running.reports] == [0, 1, 2]
    initial = running.config
    [row] = other.tweak(0, {"lr": NEW_LR})
    assert (row.old, row.new, row.step) == (initial["lr"], NEW_LR, None)
    if deliver:  # the running objective asks should_stop: the tweak reaches it and is stamped
        heard = wait_for(lambda: (tmp_path / "heard.json").exists() and (tmp_path / "heard.json").read_text(),
                         "the tweak to reach the trial", check=alive(driver))
        assert json.loads(heard) == {"lr": [initial["lr"], NEW_LR]}
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)

    resumed = shoal.Study.load("killed", sql_url, checkpoints=str(store))  # recovers the dead driver's trial
    stale, queued = resumed.trials
    assert stale.state == TrialState.STALE and "process gone" in stale.error
    assert changes_of(stale) == [(0, "lr", initial["lr"], NEW_LR, "person", 3 if deliver else None, "tweak")]
    assert queued.state == TrialState.QUEUED and queued.requeued_from == 0
    assert queued.config == {**initial, "lr": NEW_LR}  # the tweak in force, delivered or not

    objective = partial(po.trains_until_killed, directory=str(tmp_path), checkpoints=checkpoints,
                        deliver=False, wait_at=None)
    resumed.optimize(objective, n_trials=1, show_progress=False)
    rerun = resumed.trials[1]
    assert rerun.state == TrialState.COMPLETE and rerun.value == NEW_LR, rerun.error
    start = json.loads((tmp_path / "start-1.json").read_text())
    assert start["config"] == {**initial, "lr": NEW_LR}
    if checkpoints:  # from the dead run's last checkpoint, trained with the old value
        assert start["loaded"] == {"step": 2, "lr": initial["lr"]}
        assert [s for s, _ in rerun.reports] == [3, 4]
    else:
        assert start["loaded"] is None and [s for s, _ in rerun.reports] == [0, 1, 2, 3, 4]
    assert all(value == NEW_LR for _, value in rerun.reports)


# -- 6. several drivers on one study ------------------------------------------------------------
def test_a_tweak_from_one_process_reaches_a_trial_another_driver_runs(
    sql_url: str, tmp_path: Path, drivers: Drivers
) -> None:
    driver = drivers.start(sql_url, "shared", "--objective", "waits_for_tweak", "--n-trials", "2",
                           "--n-workers", "2")
    wait_for(lambda: all((tmp_path / f"ready-{n}").exists() for n in (0, 1)), "both trials to report step 0",
             check=alive(driver))
    here = shoal.Study.load("shared", sql_url)
    assert states(here.trials) == [TrialState.RUNNING] * 2
    widths = {t.number: 1 + t.config["width"] % 8 for t in here.trials}
    here.tweak(0, {"lr": NEW_LR})
    here.tweak(1, {"width": widths[1]})
    done = wait_for(lambda: all(t.state.finished for t in here.trials) and here.trials,
                    "the other driver to finish both trials", check=lambda: driver.poll() in (None, 0))
    finished(driver)
    assert states(done) == [TrialState.COMPLETE] * 2, [t.error for t in done]
    lr0, width1 = done[0].config["lr"], done[1].config["width"]
    assert changes_of(done[0]) == [(0, "lr", lr0, NEW_LR, "person", 1, "tweak")]
    assert changes_of(done[1]) == [(1, "width", width1, widths[1], "person", 1, "tweak")]
    for number, heard in ((0, {"lr": [lr0, NEW_LR]}), (1, {"width": [width1, widths[1]]})):
        seen = json.loads((tmp_path / f"heard-{number}.json").read_text())
        assert seen["heard"] == heard
        assert seen["ppid"] == driver.pid  # it ran in a worker of the other driver
    assert (done[0].value, done[1].value) == (NEW_LR, done[1].config["lr"])


# -- 7. tweaked and forked trials stay out of models and importance ------------------------------
class Watching(shoal.Study):
    """Notes, for every ``SamplingContext`` its sampler is given, the trial numbers in its history,
    its excluded trials and all its trials (as they are then: the lists may grow later)."""

    def _context(self, budget: int | None) -> SamplingContext:
        context = super()._context(budget)
        assert all(t.excluded_from_models is not None for t in context.excluded)
        seen = [{t.number for t in trials} for trials in (context.history, context.excluded, context.trials)]
        self.__dict__.setdefault("contexts", []).append(seen)
        return context


SAMPLERS = {
    "auto": lambda: Auto(seed=0),
    "gp": lambda: GP(seed=0, n_startup=4),
    "tpe": lambda: TPE(seed=0, n_startup=4),
    "coarse-to-fine": lambda: CoarseToFine(rounds=3, seed=0),
}


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_tweaked_trials_stay_out_of_models_but_keep_their_claims(sampler: str) -> None:
    n_trials = 15
    study = Watching("models", SPACE, sampler=SAMPLERS[sampler]())
    tweaked: set[int] = set()
    for k in range(n_trials):
        trial = study.ask(budget=n_trials)
        trial.report(1.0, 0)
        if k % 3 == 1:  # one trial in three: lr changes after step 0 (delivered by the step-1 report)
            study.tweak(trial.number, {"lr": NEW_LR})
            tweaked.add(trial.number)
        trial.report(1.0, 1)
        assert ("lr" in trial.changes()) == (trial.number in tweaked)
        # a tweaked trial's value belongs to no config: a great one would lure a model that used it
        study.tell(trial, -100.0 if trial.number in tweaked else trial.config["lr"] + trial.config["width"])
    trials = study.trials
    assert states(trials) == [TrialState.COMPLETE] * n_trials
    claims = [t.claim for t in trials if t.claim is not None]
    assert len(claims) == len(set(claims))
    assert len(study.contexts) >= n_trials
    for history, excluded, every in study.contexts:
        assert excluded == (history | excluded) & tweaked and not history & tweaked
        assert history | excluded <= every
    assert study.contexts[-1][1] == tweaked - {n_trials - 1}  # all but the last are finished then


def test_bohb_leaves_excluded_trials_out_of_its_observations() -> None:
    study = shoal.Study("bohb", SPACE, sampler=BOHB(seed=0))
    for k in range(4):
        trial = study.ask()
        trial.report(1.0, 0)
        if k == 1:
            study.tweak(trial.number, {"lr": NEW_LR})
        trial.report(2.0, 1)
        study.tell(trial, 2.0)
    context = study._context(None)
    assert [t.number for t in context.excluded] == [1]
    observed = {t.number for scored in observations([*context.history, *context.running]).values()
                for t, _ in scored}
    budget, scored = BOHB(seed=0, n_startup=2).budget(context)
    assert budget == 1.0 and sorted(t.number for t, _ in scored) == [0, 2, 3] == sorted(observed)


def test_importance_leaves_tweaked_and_forked_trials_out(tmp_path: Path) -> None:
    study = shoal.Study("importance", SPACE, sampler=Random(seed=0), checkpoints=str(tmp_path))
    left_out = []
    for k in range(16):
        trial = study.ask()
        trial.save({"k": k}, 0)
        trial.report(0.0, 0)
        if k % 5 == 2:
            study.tweak(trial.number, {"width": 1 + trial.config["width"] % 8})
            left_out.append(trial.number)
        trial.report(0.0, 1)
        # lr decides the plain trials' values; the tweaked ones say width matters
        study.tell(trial, 1000.0 * trial.config["width"] if k % 5 == 2 else math.log(trial.config["lr"]))
    fork = study.fork(0, step=0, changes={"width": 1 + study.trials[0].config["width"] % 8})
    forked = study.ask()
    assert forked.number == fork.number
    study.tell(forked, 5000.0)
    left_out.append(fork.number)
    trials = study.trials
    kept = [t for t in trials if t.number not in left_out]
    assert [t.number for t in trials if t.excluded_from_models is not None] == left_out

    result = shoal.importance(study, seed=1)
    assert result.n_trials == len(kept) == 13 and result.excluded == len(left_out) == 4
    assert dict(result) == dict(importance_of(study.space, kept, seed=1))
    assert result.ranking[0] == "lr"
    assert result.to_dict()["excluded"] == 4
    assert "4 left out" in str(result)
    pytest.importorskip("plotly")
    contour = study.plot.contour()  # its surrogate and its dots: the same trials as importance
    assert len(contour.data[1].x) == len(kept)
    with pytest.raises(ValueError, match=r"got 3 \(4 more left out: their hyperparameters changed"):
        importance_of(study.space, [*kept[:3], *(t for t in trials if t.number in left_out)])


# -- 8. the schedule is the delivered tweaks replayed, each delivered once ----------------------
class Hears(shoal.Study):
    """Keeps every answer its running trials got (to reports and to ``should_stop``)."""

    def _report(self, record, step: int, value: float) -> Steering:
        answer = super()._report(record, step, value)
        self.__dict__.setdefault("answers", []).append(answer)
        return answer

    def _poll(self, record, from_step: int) -> Steering:
        answer = super()._poll(record, from_step)
        self.__dict__.setdefault("answers", []).append(answer)
        return answer


def replay(initial: dict[str, Any], delivered: list[tuple[str, Any, int]], step: float) -> dict[str, Any]:
    """The config in force at ``step``: the delivered tweaks up to it, applied in the order made."""
    config = dict(initial)
    for name, new, first in delivered:
        if first <= step:
            config[name] = new
    return config


TWEAKS = st.one_of(
    st.tuples(st.just("lr"), st.floats(1e-4, 1.0, allow_nan=False)),
    st.tuples(st.just("width"), st.integers(1, 8)),
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("tweak"), TWEAKS),
        st.tuples(st.just("report"), st.integers(1, 3)),  # how far the next report's step moves on
        st.tuples(st.just("look"), st.none()),  # should_stop
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_the_schedule_replays_the_delivered_tweaks_and_each_arrives_once(ops: list) -> None:
    study = Hears("property", SPACE, sampler=Random(seed=0))
    trial = study.ask()
    initial = dict(trial.config)
    pending: list[tuple[str, Any]] = []  # tweaks stored, not delivered yet, in order
    delivered: list[tuple[str, Any, int]] = []  # (name, new, first step trained with it), in order
    heard: dict[str, tuple[Any, Any]] = {}
    last_step, after_report, answers = None, False, 0

    def deliver(first: int) -> None:
        nonlocal pending, answers
        answer = study.answers[answers]
        answers += 1
        expected = dict(pending)  # several tweaks of one name arrive as the last one
        assert (answer.changes or {}) == expected and not answer.stop
        delivered.extend((name, new, first) for name, new in pending)
        pending = []

    for op, arg in [*ops, ("report", 1)]:  # a last report delivers whatever is still pending
        if op == "tweak":
            name, value = arg
            before = replay(initial, delivered, math.inf) | dict(pending)
            rows = study.tweak(trial.number, {name: value})
            if value == before[name]:
                assert rows == []
            else:
                assert [(r.name, r.old, r.new, r.step) for r in rows] == [(name, before[name], value, None)]
                pending.append((name, value))
        elif op == "report":
            step = arg - 1 if last_step is None else last_step + arg
            trial.report(0.5, step)
            deliver(step + 1)
            last_step, after_report = step, True
        else:
            assert trial.should_stop() is False
            if not after_report:  # right after a report it answers from that report
                deliver(0 if last_step is None else last_step + 1)
            after_report = False
        assert trial.config == replay(initial, delivered, math.inf)
        for name, (old, new) in trial.changes().items():
            heard[name] = (heard[name][0] if name in heard else old, new)
    assert answers == len(study.answers) and pending == []
    assert {n: (old, new) for n, (old, new) in heard.items() if old != new} == {
        n: (initial[n], v) for n, v in replay(initial, delivered, math.inf).items() if v != initial[n]
    }

    stored = study.tell(trial, 1.0)
    assert [(c.name, c.new, c.step) for c in stored.changes] == delivered  # each stamped once, in order
    assert stored.pending_changes == {} and stored.config == initial
    for step in range(-1, (last_step or 0) + 3):
        assert stored.schedule_at(step) == replay(initial, delivered, step)
    assert stored.current_config == trial.config
    assert (stored.excluded_from_models is None) == (delivered == [])

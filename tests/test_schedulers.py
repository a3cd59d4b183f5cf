"""Schedulers: median stopping, ASHA (stop and promote), Hyperband, and how a Study uses them."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import shoal
from shoal.samplers import Random
from shoal.schedulers import (
    ASHA,
    Decision,
    Hyperband,
    MedianStopping,
    RungRecord,
    Scheduler,
    SchedulerContext,
)
from shoal.trial import Trial, TrialState

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"q": shoal.Float(0.0, 1.0)}
EPOCHS = 27


def curve(q: float, epoch: int) -> float:
    """A loss that falls with epochs and ends at q: the ranking is the same at every epoch."""
    return q + 1.0 / epoch


def objective(config, trial):
    for epoch in range(1, EPOCHS + 1):
        trial.report(curve(config["q"], epoch), epoch)
        if trial.should_stop():
            raise shoal.TrialPruned()
    return curve(config["q"], EPOCHS)


def study_with(scheduler: Scheduler | None, storage=None, name: str = "s", **kwargs) -> shoal.Study:
    return shoal.Study(name, SPACE, storage=storage, sampler=Random(), scheduler=scheduler, seed=0, **kwargs)


def trial(number: int, reports=(), state=TrialState.RUNNING) -> Trial:
    return Trial(number, state, {"q": 0.0}, reports=list(reports))


def ctx(trials=(), rungs=(), direction="minimize") -> SchedulerContext:
    return SchedulerContext("s", direction, list(trials), list(rungs))


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ASHA(0), "min_resource must be an int >= 1"),
        (lambda: ASHA(1, reduction_factor=1), "reduction_factor must be an int >= 2"),
        (lambda: ASHA(1, reduction_factor=2.5), "reduction_factor must be an int"),
        (
            lambda: ASHA(3, reduction_factor=3, max_resource=2),
            r"max_resource \(2\) must be >= min_resource \(3\)",
        ),
        (lambda: ASHA(1, mode="pause"), "mode must be 'stop' or 'promote'"),
        (lambda: Hyperband(1, max_resource=None), "max_resource is required"),
        (lambda: Hyperband(1, max_resource=27, n_brackets=5), r"n_brackets must be an int in \[1, 4\]"),
        (lambda: MedianStopping(n_startup=-1), "n_startup must be an int >= 0"),
        (lambda: MedianStopping(min_others=0), "min_others must be an int >= 1"),
    ],
)
def test_bad_arguments_name_the_parameter(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("make", "keywords"),
    [
        (lambda: ASHA(1, 27), "reduction_factor=..., max_resource=..., mode=..."),
        (lambda: ASHA(1, 3, 27), "reduction_factor=..., max_resource=..., mode=..."),
        (lambda: Hyperband(1, 27), "max_resource=..., reduction_factor=..., mode=..., n_brackets=..."),
    ],
)
def test_only_min_resource_is_positional(make, keywords) -> None:
    """``ASHA(1, 27)`` once set the reduction factor to 27; now the extra number is refused."""
    with pytest.raises(TypeError, match=r"takes at most 1 positional argument \(min_resource\)") as info:
        make()
    assert str(info.value).endswith(f"pass the others by keyword: {keywords}")


def test_a_study_refuses_what_is_not_a_scheduler() -> None:
    with pytest.raises(ValueError, match="scheduler must be a shoal scheduler"):
        shoal.Study("s", SPACE, scheduler="asha")


def test_describe_names_the_settings() -> None:
    assert ASHA(1, reduction_factor=4, max_resource=64, mode="promote").describe() == (
        "ASHA(min_resource=1, reduction_factor=4, max_resource=64, mode='promote')"
    )
    assert "n_brackets=4" in repr(Hyperband(1, max_resource=27))


# -- ASHA as a pure decision ---------------------------------------------------------------------


def test_asha_records_each_rung_a_report_reaches_first() -> None:
    asha = ASHA(1, reduction_factor=3, max_resource=27)
    assert [asha.resource(k) for k in range(4)] == [1, 3, 9, 27]
    t = trial(0, [(1, 0.5), (2, 0.4)])
    assert asha.records(t, 2, 0.4) == []  # between rungs
    jumped = trial(1, [(1, 0.5), (10, 0.3)])  # skipped from 1 to 10: reaches rungs 3 and 9 at once
    assert asha.records(jumped, 10, 0.3) == [RungRecord(1, 0, 1, 10, 0.3), RungRecord(1, 0, 2, 10, 0.3)]
    done = trial(2, [(9, 0.2), (27, 0.1)])
    assert asha.records(done, 27, 0.1) == []  # no rung at max_resource: the trial completes


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_asha_stop_keeps_the_top_third_of_a_rung(direction: str) -> None:
    asha = ASHA(1, reduction_factor=3)
    sign = 1.0 if direction == "minimize" else -1.0
    earlier = [RungRecord(n, 0, 0, 1, sign * v) for n, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])]

    def verdict(value: float) -> Decision:
        me = trial(5, [(1, sign * value)])
        rungs = [*earlier, RungRecord(5, 0, 0, 1, sign * value)]
        return asha.decide(ctx([me], rungs, direction), me, 1, sign * value)

    # six values at the rung: the best 6 // 3 = 2 go on
    assert verdict(0.05) == Decision.CONTINUE
    assert verdict(0.15) == Decision.CONTINUE
    assert verdict(0.25) == Decision.STOP


def test_asha_stop_lets_the_best_so_far_through_a_young_rung() -> None:
    asha = ASHA(1, reduction_factor=3)
    first = trial(0, [(1, 0.5)])
    assert asha.decide(ctx([first], [RungRecord(0, 0, 0, 1, 0.5)]), first, 1, 0.5) == Decision.CONTINUE
    second = trial(1, [(1, 0.6)])
    rungs = [RungRecord(0, 0, 0, 1, 0.5), RungRecord(1, 0, 0, 1, 0.6)]
    assert asha.decide(ctx([first, second], rungs), second, 1, 0.6) == Decision.STOP


def test_asha_judges_a_trial_by_its_first_record_at_a_rung() -> None:
    asha = ASHA(1, reduction_factor=3)
    rungs = [RungRecord(0, 0, 0, 1, 0.1), RungRecord(1, 0, 0, 1, 0.9)]
    # trial 1 re-reports step 1 with a better value: the stored record (0.9) still decides
    me = trial(1, [(1, 0.01)])
    assert asha.decide(ctx([me], rungs), me, 1, 0.01) == Decision.STOP


def test_asha_promote_pauses_until_a_trial_ranks_in_the_top_third() -> None:
    asha = ASHA(1, reduction_factor=3, mode="promote")
    a, b = trial(0, [(1, 0.2)]), trial(1, [(1, 0.3)])
    # one or two values at a rung: nobody is promotable yet (2 // 3 == 0)
    assert asha.decide(ctx([a], [RungRecord(0, 0, 0, 1, 0.2)]), a, 1, 0.2) == Decision.PAUSE
    paused_a = trial(0, [(1, 0.2)], TrialState.PAUSED)
    rungs = [RungRecord(0, 0, 0, 1, 0.2), RungRecord(1, 0, 0, 1, 0.3)]
    assert asha.decide(ctx([paused_a, b], rungs), b, 1, 0.3) == Decision.PAUSE
    assert asha.promote(ctx([paused_a, trial(1, [(1, 0.3)], TrialState.PAUSED)], rungs)) is None
    # a third value: the best of three (trial 0, paused) is promotable
    c = trial(2, [(1, 0.4)])
    rungs.append(RungRecord(2, 0, 0, 1, 0.4))
    paused_b = trial(1, [(1, 0.3)], TrialState.PAUSED)
    assert asha.decide(ctx([paused_a, paused_b, c], rungs), c, 1, 0.4) == Decision.PAUSE
    paused_c = trial(2, [(1, 0.4)], TrialState.PAUSED)
    assert asha.promote(ctx([paused_a, paused_b, paused_c], rungs)) == 0
    # once trial 0 went on, nobody else at rung 0 is promotable
    running_a = trial(0, [(1, 0.2), (2, 0.15)])
    assert asha.promote(ctx([running_a, paused_b, paused_c], rungs)) is None


def test_asha_promotes_from_the_highest_rung_first() -> None:
    asha = ASHA(1, reduction_factor=3, mode="promote")
    rungs = [RungRecord(n, 0, 0, 1, v) for n, v in enumerate([0.5, 0.1, 0.6, 0.7])]
    rungs += [RungRecord(n, 0, 1, 3, v) for n, v in ((4, 0.2), (5, 0.3), (6, 0.4))]
    trials = [trial(n, [(1, 0.0)], TrialState.PAUSED) for n in range(4)]
    trials += [trial(n, [(3, 0.0)], TrialState.PAUSED) for n in (4, 5, 6)]
    assert asha.promote(ctx(trials, rungs)) == 4  # rung 1's best before rung 0's best (trial 1)
    trials[4] = trial(4, [(3, 0.2), (4, 0.2)])
    assert asha.promote(ctx(trials, rungs)) == 1


# -- through a Study -----------------------------------------------------------------------------


def test_asha_stop_prunes_trials_and_finds_the_best_with_fewer_epochs() -> None:
    plain = study_with(None, name="plain")
    plain.optimize(objective, 40, show_progress=False)
    asha = study_with(ASHA(1, reduction_factor=3, max_resource=EPOCHS), name="plain")
    asha.optimize(objective, 40, show_progress=False)
    assert [t.config for t in plain.trials] == [t.config for t in asha.trials]  # same configurations
    epochs = sum(t.reports[-1][0] for t in asha.trials)
    assert epochs < 0.4 * sum(t.reports[-1][0] for t in plain.trials)
    assert asha.best.value == plain.best.value  # the ranking never changes along these curves
    states = Counter(t.state for t in asha.trials)
    assert states[TrialState.PRUNED] > 20 and states[TrialState.COMPLETE] >= 1
    for t in asha.trials:
        if t.state == TrialState.PRUNED:  # a pruned trial keeps its last value, at a rung
            assert t.value == t.reports[-1][1]
            assert t.reports[-1][0] in (1, 3, 9)


def test_asha_stop_decisions_replay_from_the_stored_rungs() -> None:
    study = study_with(ASHA(1, reduction_factor=3, max_resource=EPOCHS))
    study.optimize(objective, 30, show_progress=False)
    rungs = study.storage.read_rungs(study.id)
    by_trial: dict[int, list[RungRecord]] = {}
    for r in rungs:
        by_trial.setdefault(r.trial_number, []).append(r)
    for t in study.trials:  # trials ran one at a time: replay each one's verdict at its last rung
        last = by_trial[t.number][-1]
        earlier = [r.value for r in rungs if r.rung == last.rung and r.trial_number < t.number]
        kept = max(1, (len(earlier) + 1) // 3)
        went_on = sum(v < last.value for v in earlier) < kept
        assert (t.state == TrialState.COMPLETE) == (went_on and last.rung == 2), t.number


def test_an_objective_that_returns_after_a_stop_is_pruned_with_its_value() -> None:
    def polite(config, trial):
        for epoch in range(1, EPOCHS + 1):
            trial.report(curve(config["q"], epoch), epoch)
            if trial.should_stop():
                return curve(config["q"], epoch)
        return curve(config["q"], EPOCHS)

    study = study_with(ASHA(1, reduction_factor=3, max_resource=EPOCHS))
    study.optimize(polite, 15, show_progress=False)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned and all(t.value == t.reports[-1][1] for t in pruned)


def test_asha_promote_pauses_and_resumes_from_a_checkpoint() -> None:
    checkpoints: dict[int, int] = {}
    runs: Counter[int] = Counter()

    def resumable(config, trial):
        runs[trial.number] += 1
        for epoch in range(checkpoints.get(trial.number, 0) + 1, EPOCHS + 1):
            checkpoints[trial.number] = epoch
            trial.report(curve(config["q"], epoch), epoch)
            if trial.should_stop():
                raise shoal.TrialPruned()
        return curve(config["q"], EPOCHS)

    study = study_with(ASHA(1, reduction_factor=3, max_resource=EPOCHS, mode="promote"))
    study.optimize(resumable, 30, show_progress=False)
    trials = study.trials
    assert {t.state for t in trials} == {TrialState.PAUSED, TrialState.COMPLETE}
    for t in trials:  # every epoch ran once: reports are 1, 2, ... without a gap or a repeat
        assert [s for s, _ in t.reports] == list(range(1, t.reports[-1][0] + 1))
        assert t.state != TrialState.PAUSED or t.reports[-1][0] in (1, 3, 9)
    assert max(runs.values()) > 1  # some trials were resumed
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best_q = min(t.config["q"] for t in trials)
    assert study.best.config["q"] == best_q  # the best configuration was promoted to the end
    rungs = study.storage.read_rungs(study.id)
    for k in (0, 1, 2):
        here = sorted((r for r in rungs if r.rung == k), key=lambda r: r.value)
        above = {r.trial_number for r in rungs if r.rung == k + 1} | {t.number for t in complete}
        went_on = {r.trial_number for r in here} & above
        # the top third of every rung went on (nothing promotable is left paused), and, the
        # decisions being asynchronous, few more than that
        assert {r.trial_number for r in here[: len(here) // 3]} <= went_on
        assert len(went_on) <= len(here) // 2
    # a second optimize call goes on from the paused trials before sampling new ones
    before = len(trials)
    study.optimize(resumable, 3, show_progress=False)
    assert len(study.trials) == before + 3


def test_asha_promote_resumes_a_paused_trial_from_its_own_saved_checkpoint(tmp_path) -> None:
    starts: dict[int, list[int]] = {}

    def saving(config, trial):
        state = trial.load()  # None the first time; the epoch it reached when it was paused after
        first = 1 if state is None else state["epoch"] + 1
        starts.setdefault(trial.number, []).append(first)
        for epoch in range(first, EPOCHS + 1):
            trial.save({"epoch": epoch}, epoch)
            trial.report(curve(config["q"], epoch), epoch)
            if trial.should_stop():
                raise shoal.TrialPruned()
        return curve(config["q"], EPOCHS)

    study = study_with(
        ASHA(1, reduction_factor=3, max_resource=EPOCHS, mode="promote"), checkpoints=str(tmp_path / "ckpt")
    )
    study.optimize(saving, 20, show_progress=False)
    resumed = {n: s for n, s in starts.items() if len(s) > 1}
    assert resumed, "some paused trial was promoted"
    for number, firsts in resumed.items():
        reports = [s for s, _ in study.trials[number].reports]
        assert firsts[0] == 1 and all(f in (2, 4, 10) for f in firsts[1:]), firsts
        assert reports == list(range(1, reports[-1] + 1))  # no epoch trained twice


def test_hyperband_spreads_trials_over_brackets_in_hyperband_proportions() -> None:
    hb = Hyperband(1, max_resource=27, reduction_factor=3)
    counts = Counter(hb.bracket_of(n) for n in range(len(hb._cycle)))
    # Hyperband with s_max = 3: 27, 12, 6 and 4 configurations from the most aggressive bracket on
    assert dict(counts) == {0: 27, 1: 12, 2: 6, 3: 4}
    assert [hb.bracket_of(n) for n in range(49)] == [hb.bracket_of(n + 49) for n in range(49)]
    t = trial(3, [(1, 0.5), (2, 0.4), (3, 0.3)])
    bracket = hb.bracket_of(3)
    assert [r.rung for r in hb.records(t, 3, 0.3)] == ([1] if bracket <= 1 else [])


def test_hyperband_never_stops_a_trial_of_its_last_bracket() -> None:
    hb = Hyperband(1, max_resource=27, reduction_factor=3)
    study = study_with(hb)
    study.optimize(objective, 49, show_progress=False)
    for t in study.trials:
        bracket = hb.bracket_of(t.number)
        if bracket == 3:
            assert t.state == TrialState.COMPLETE
        if t.state == TrialState.PRUNED:  # stopped at a rung of its own bracket
            assert t.reports[-1][0] in [3**k for k in range(bracket, 3)]
    assert {r.bracket for r in study.storage.read_rungs(study.id)} == {0, 1, 2}


def test_median_stopping_compares_the_best_so_far_with_the_median_at_that_step() -> None:
    median = MedianStopping(n_startup=2, n_warmup=2)
    done = [trial(n, [(1, v), (2, v), (3, v)], TrialState.COMPLETE) for n, v in enumerate([0.2, 0.4, 0.6])]
    slow = trial(3, [(1, 0.9), (2, 0.5)])
    assert median.decide(ctx([*done, slow]), slow, 1, 0.9) == Decision.CONTINUE  # warm-up
    assert median.decide(ctx([*done, slow]), slow, 2, 0.5) == Decision.STOP  # 0.5 worse than 0.4
    recovered = trial(3, [(1, 0.3), (2, 0.5)])  # its best so far (0.3) beats the median
    assert median.decide(ctx([*done, recovered]), recovered, 2, 0.5) == Decision.CONTINUE
    early = MedianStopping(n_startup=4)
    assert early.decide(ctx([*done, slow]), slow, 2, 0.5) == Decision.CONTINUE  # 3 finished < 4


def test_median_stopping_through_a_study() -> None:
    study = study_with(MedianStopping(n_startup=3, n_warmup=1))
    study.optimize(objective, 25, show_progress=False)
    states = Counter(t.state for t in study.trials)
    assert states[TrialState.PRUNED] >= 5
    assert study.best.config["q"] == min(t.config["q"] for t in study.trials)


# -- several drivers and executors ---------------------------------------------------------------


def test_two_drivers_on_one_sqlite_study_see_the_same_rungs(sqlite_url: str) -> None:
    first = study_with(ASHA(1, reduction_factor=3, max_resource=9), sqlite_url)
    second = study_with(ASHA(1, reduction_factor=3, max_resource=9), sqlite_url)
    # three good trials through the first driver
    for q in (0.3, 0.2, 0.1):  # each the best so far
        run = first.ask()
        for epoch in (1, 2, 3):
            assert run.report(q + 1.0 / epoch, epoch) is None
            assert not run.should_stop()
        first.tell(run, q + 1 / 3)
    # a bad trial through the second driver is stopped at its first rung: it sees the first's rungs
    bad = second.ask()
    bad.report(0.9 + 1.0, 1)
    assert bad.should_stop()
    second.tell(bad, state="PRUNED")
    # interleaved: each driver's rung record is seen by the other's next decision
    a, b = first.ask(), second.ask()
    a.report(0.05 + 1.0, 1)
    assert not a.should_stop()  # the best so far at rung 0
    b.report(0.95 + 1.0, 1)
    assert b.should_stop()
    rungs_a = first.storage.read_rungs(first.id)
    rungs_b = second.storage.read_rungs(second.id)
    assert rungs_a == rungs_b and len([r for r in rungs_a if r.rung == 0]) == 6


def test_asha_stop_with_local_worker_processes() -> None:
    study = study_with(ASHA(1, reduction_factor=3, max_resource=EPOCHS))
    study.optimize(objective, 12, n_workers=2, show_progress=False)
    states = Counter(t.state for t in study.trials)
    assert states[TrialState.PRUNED] >= 3 and states[TrialState.COMPLETE] >= 1
    assert sum(states.values()) == 12
    assert study.storage.read_rungs(study.id)


def test_asha_promote_with_local_worker_processes_resumes_from_files(tmp_path) -> None:
    folder = str(tmp_path)

    def resumable(config, trial):
        import json
        import os

        path = os.path.join(folder, f"{trial.number}.json")
        with open(os.path.join(folder, f"{trial.number}.runs"), "a") as runs:
            runs.write("run\n")
        start = json.load(open(path))["epoch"] if os.path.exists(path) else 0
        for epoch in range(start + 1, 10):
            with open(path, "w") as f:
                json.dump({"epoch": epoch}, f)
            trial.report(curve(config["q"], epoch), epoch)
            if trial.should_stop():
                raise shoal.TrialPruned()
        return curve(config["q"], 9)

    study = study_with(ASHA(1, reduction_factor=3, max_resource=9, mode="promote"))
    for k in range(12):  # best first: each later, worse trial makes an earlier paused one promotable
        study.enqueue({"q": k / 12})
    study.optimize(resumable, 12, n_workers=2, show_progress=False)
    trials = study.trials
    assert len(trials) == 12
    assert {t.state for t in trials} <= {TrialState.PAUSED, TrialState.COMPLETE}
    assert any(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:  # each epoch trained once, across the runs of a resumed trial
        assert [s for s, _ in t.reports] == list(range(1, t.reports[-1][0] + 1))
    runs = [len((tmp_path / f"{t.number}.runs").read_text().splitlines()) for t in trials]
    assert max(runs) > 1  # paused trials were resumed in a worker


# -- the example ---------------------------------------------------------------------------------


def test_the_asha_example_runs_on_a_small_budget() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "asha_mlp.py"), "--small"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("random search") and lines[2].startswith("ASHA (stop)")
    base, asha = int(lines[1].split()[2]), int(lines[2].split()[2])
    assert base == 8 * 9 and asha < base
    assert "of the epochs" in lines[3]

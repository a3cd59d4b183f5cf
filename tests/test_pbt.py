"""Population-based training: the pure explore/exploit rules, then whole runs on the schedule task.

Whole runs use real storage (memory and SQLite), real checkpoint files and, for the fault cases, real
worker processes that die.
"""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout
from functools import partial
from pathlib import Path

import numpy as np
import pbt_objectives as po
import pytest

import shoal
from shoal.checkpoints import CheckpointRef, CheckpointStore, read_checkpoint
from shoal.cli import main as cli
from shoal.records import ConfigChange, LineageRecord
from shoal.samplers import SearchExhausted
from shoal.schedulers import PBT, Decision, SchedulerContext, best_schedule, schedule_of
from shoal.schedulers.explore import explore, perturb_value, split_population
from shoal.schedules import lineage_events
from shoal.space import Space
from shoal.trial import FailureKind, Trial, TrialState

LR = {"lr": shoal.Float(1e-4, 1.0, scale="log")}


# -- explore: one move per dimension on its own scale ---------------------------------------------


@pytest.mark.parametrize(
    "dim, value, factor, expected",
    [
        (shoal.Float(1e-4, 1.0, scale="log"), 0.01, 1.2, 0.012),
        (shoal.Float(1e-4, 1.0, scale="log"), 0.01, 0.8, 0.008),
        (shoal.Float(1e-4, 1.0, scale="log"), 0.9, 1.2, 1.0),  # clipped to the bound
        (shoal.Float(0.9, 0.999, scale="reverse_log"), 0.99, 1.2, 0.988),  # 1 - x grows
        (shoal.Float(0.9, 0.999, scale="reverse_log"), 0.99, 0.8, 0.992),
        (shoal.Float(0.9, 0.999, scale="reverse_log"), 0.91, 1.2, 0.9),  # clipped
        (shoal.Float(0.0, 1.0), 0.5, 1.2, 0.6),
        (shoal.Float(0.0, 1.0), 0.0, 1.2, 0.01),  # zero would never move: a 1/100 step off it
        (shoal.Float(0.0, 1.0, step=0.1), 0.5, 1.2, 0.6),  # snapped to the steps
        (shoal.Float(0.0, 1.0, step=0.25), 0.5, 1.2, 0.75),
        (shoal.Float(0.0, 1.0, step=0.1), 0.0, 1.2, 0.1),  # stuck: one step in the factor's direction
        (shoal.Int(1, 100), 10, 1.2, 12),
        (shoal.Int(1, 100), 2, 1.2, 3),  # 2.4 rounds back to 2: moves one step instead
        (shoal.Int(1, 100), 2, 0.8, 1),
        (shoal.Int(0, 100, step=10), 30, 1.2, 40),  # 36 snaps to 40
        (shoal.Int(0, 100, step=10), 10, 0.8, 0),
        (shoal.Int(1, 100), 100, 1.2, 100),
        (shoal.Choice(["a", "b", "c"]), "b", 1.2, "c"),
        (shoal.Choice(["a", "b", "c"]), "b", 0.8, "a"),
        (shoal.Choice(["a", "b", "c"]), "c", 1.2, "c"),  # clipped at the end of the list
        (shoal.Fixed(3), 3, 1.2, 3),
    ],
)
def test_perturb_moves_on_the_dimensions_own_scale(dim, value, factor, expected) -> None:
    space = Space({"d": dim})
    moved = perturb_value(space["d"], value, factor)
    assert type(moved) is type(expected)
    assert moved == pytest.approx(expected) if isinstance(expected, float) else moved == expected
    assert space["d"].contains(moved)


def test_explore_perturbs_every_dimension_and_keeps_unit_coordinates_consistent() -> None:
    space = Space({
        "lr": shoal.Float(1e-4, 1.0, scale="log"),
        "beta": shoal.Float(0.9, 0.999, scale="reverse_log"),
        "units": shoal.Int(16, 256, step=16),
        "opt": shoal.Choice(["sgd", "adam"]),
    })
    config = {"lr": 0.01, "beta": 0.99, "units": 64, "opt": "sgd"}
    unit = {n: float(space[n].to_unit(v)) for n, v in config.items()}
    new, new_unit = explore(space, config, unit, np.random.default_rng(0), factors=(1.2,),
                            resample_probability=0.0)
    assert new == {"lr": pytest.approx(0.012), "beta": pytest.approx(0.988), "units": 80, "opt": "adam"}
    assert new_unit == {n: pytest.approx(space[n].to_unit(v)) for n, v in new.items()}
    # the same generator state gives the same move; other draws differ
    a = explore(space, config, unit, np.random.default_rng(5))
    assert a == explore(space, config, unit, np.random.default_rng(5))
    assert any(explore(space, config, unit, np.random.default_rng(s))[0] != a[0] for s in range(6, 12))


def test_explore_resamples_from_the_prior_and_follows_conditions() -> None:
    space = Space({
        "opt": shoal.Choice(["sgd", "adam"]),
        "momentum": shoal.Float(0.0, 0.99, when={"opt": ["sgd"]}),
        "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
    })
    config, unit = {"opt": "sgd", "momentum": 0.5}, {"opt": 0.25, "momentum": 0.5}
    moved, moved_unit = explore(space, config, unit, np.random.default_rng(1), factors=(1.2,),
                                resample_probability=0.0)
    # the choice moved to adam: momentum is dropped, beta1 (now active) is drawn from its prior
    assert moved["opt"] == "adam" and "momentum" not in moved and 0.8 <= moved["beta1"] <= 0.99
    assert set(moved_unit) == {"opt", "beta1"}
    seen = set()
    for seed in range(40):
        drawn, _ = explore(space, config, unit, np.random.default_rng(seed), resample_probability=1.0)
        space.validate(drawn)
        seen.add(drawn["opt"])
    assert seen == {"sgd", "adam"}


def test_explore_refuses_bad_settings() -> None:
    space = Space(LR)
    with pytest.raises(ValueError, match="factors must be a non-empty sequence"):
        explore(space, {"lr": 0.1}, {}, np.random.default_rng(0), factors=())
    with pytest.raises(ValueError, match=r"resample_probability must be in \[0, 1\]"):
        explore(space, {"lr": 0.1}, {}, np.random.default_rng(0), resample_probability=2.0)
    with pytest.raises(ValueError, match="factor must be a finite number > 0"):
        perturb_value(space["lr"], 0.1, -1.0)


@pytest.mark.parametrize(
    "n, quantile, size", [(8, 0.25, 2), (4, 0.25, 1), (2, 0.25, 1), (10, 0.5, 5), (3, 0.5, 1)]
)
def test_split_population_takes_the_quantile_from_each_end(n: int, quantile: float, size: int) -> None:
    scores = {m: float(m) for m in range(n)}
    bottom, top = split_population(scores, quantile, "minimize")
    assert sorted(top) == list(range(size)) and sorted(bottom) == list(range(n - size, n))
    bottom, top = split_population(scores, quantile, "maximize")
    assert sorted(bottom) == list(range(size)) and sorted(top) == list(range(n - size, n))


def test_split_population_needs_two_members_and_a_sane_quantile() -> None:
    assert split_population({0: 1.0}, 0.25, "minimize") == ([], [])
    with pytest.raises(ValueError, match=r"quantile must be in \(0, 0.5\]"):
        split_population({0: 1.0, 1: 2.0}, 0.75, "minimize")


# -- the scheduler's decisions on fabricated histories -------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"population": 1}, "population must be an int >= 2"),
        ({"interval": 0}, "interval must be an int >= 1"),
        ({"quantile": 0.6}, r"quantile must be in \(0, 0.5\]"),
        ({"resample_probability": -0.1}, r"resample_probability must be in \[0, 1\]"),
        ({"factors": ()}, "factors must be a non-empty tuple"),
        ({"factors": (1.2, -1)}, "factors must be a non-empty tuple"),
        ({"max_steps": 0}, "max_steps must be an int >= 1 or None"),
        ({"max_restarts": -1}, "max_restarts must be an int >= 0"),
    ],
)
def test_pbt_refuses_bad_settings_naming_them(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PBT(**kwargs)


def _t(number: int, state: TrialState, reports: list[tuple[int, float]], lr: float = 0.01,
       error: str | None = None, requeued_from: int | None = None,
       failure: FailureKind | None = None) -> Trial:
    return Trial(number=number, state=state, config={"lr": lr}, unit={"lr": 0.5}, reports=reports,
                 error=error, requeued_from=requeued_from, failure=failure)


def _context(trials: list[Trial], lineage: list[LineageRecord], refs: list[CheckpointRef] = ()):
    return SchedulerContext("s", "minimize", trials, lineage=lineage, checkpoints=list(refs), space=Space(LR))


def test_segments_end_at_multiples_of_the_interval() -> None:
    pbt = PBT(population=2, interval=4)
    fresh = _t(0, TrialState.RUNNING, [])
    restarted = _t(1, TrialState.RUNNING, [])
    context = _context([fresh, restarted], [LineageRecord(0, 0, 0), LineageRecord(1, 1, 2, parent=0, step=6)])
    assert [pbt.decide(context, fresh, s, 1.0) for s in (3, 4)] == [Decision.CONTINUE, Decision.COMPLETE]
    # a segment that resumed at step 6 ends at 8, in step with the others
    assert [pbt.decide(context, restarted, s, 1.0) for s in (7, 8)] == [Decision.CONTINUE, Decision.COMPLETE]


def test_trials_left_counts_the_segments_members_have_left() -> None:
    pbt = PBT(population=3, interval=3, max_steps=8)  # segments end at 3, 6 and 8 (max_steps)
    assert pbt.ends_by_itself and not PBT(population=3).ends_by_itself
    assert PBT(population=3).trials_left(_context([], [])) is None  # no max_steps: no end in sight
    assert pbt.trials_left(_context([], [])) == 9
    busy = _t(0, TrialState.RUNNING, [(1, 0.5)])  # its first segment runs: 2 more to go
    ready = _t(1, TrialState.COMPLETE, [(2, 0.5), (3, 0.4)])  # done up to step 3: 2 more
    done = _t(2, TrialState.COMPLETE, [(7, 0.3), (8, 0.2)])  # reached max_steps
    lineage = [LineageRecord(0, 0, 0), LineageRecord(1, 1, 0), LineageRecord(2, 2, 2, parent=0, step=6)]
    assert pbt.trials_left(_context([busy, ready, done], lineage)) == 4
    # a member that died mid-segment starts that segment again
    died = _t(2, TrialState.FAILED, [(7, 0.3)], failure=FailureKind.WORKER_DIED, error="worker died")
    assert pbt.trials_left(_context([busy, ready, died], lineage)) == 5


def test_the_progress_bar_counts_the_segments_that_run(capsys) -> None:
    pbt = PBT(population=2, interval=2, max_steps=5, synch=True, seed=1)  # 3 segments a member: 6
    study = shoal.Study("bar", LR, scheduler=pbt, seed=1)
    study.optimize(po.schedule_task, n_trials=2, show_progress=False)
    from shoal.study.loop import planned

    assert planned(study, 40) == 4 and planned(study, 3) == 3 and planned(study, None) == 4
    capsys.readouterr()
    study.optimize(po.schedule_task, n_trials=40)  # a cap: the members end after 4 more segments
    assert len(study.trials) == 6
    err = capsys.readouterr().err
    assert "4/4" in err and "/40" not in err


def test_the_population_is_filled_first() -> None:
    pbt = PBT(population=3, interval=4)
    plan = pbt.next_trial(_context([_t(0, TrialState.RUNNING, [])], [LineageRecord(0, 0, 0)]))
    assert (plan.lineage.member, plan.lineage.segment, plan.config, plan.start) == (1, 0, None, None)


def test_synchronous_pbt_waits_for_every_member_at_the_boundary() -> None:
    ready = _t(0, TrialState.COMPLETE, [(3, 0.5), (4, 0.4)], lr=0.01)
    behind = _t(1, TrialState.RUNNING, [(1, 0.9), (2, 0.8)], lr=0.1)
    lineage = [LineageRecord(0, 0, 0), LineageRecord(1, 1, 0)]
    refs = [CheckpointRef(0, 4, "/0/4.pkl"), CheckpointRef(1, 2, "/1/2.pkl")]
    synch = PBT(population=2, interval=4, synch=True)
    assert synch.next_trial(_context([ready, behind], lineage, refs)) is None
    plan = PBT(population=2, interval=4).next_trial(_context([ready, behind], lineage, refs))
    # asynchronous: member 0 ranks best among the latest values and goes on from its own checkpoint
    line = plan.lineage
    assert (line.member, line.segment, plan.config, line.donor) == (0, 1, {"lr": 0.01}, None)
    assert plan.start.uri == "/0/4.pkl" and plan.changes == ()  # continuing writes no rows


def test_the_bottom_member_copies_a_top_members_checkpoint_and_perturbs_its_config() -> None:
    good = _t(0, TrialState.RUNNING, [(4, 0.2), (5, 0.1)], lr=0.01)
    bad = _t(1, TrialState.COMPLETE, [(3, 0.9), (4, 0.8)], lr=0.5)
    lineage = [LineageRecord(0, 0, 0), LineageRecord(1, 1, 0)]
    refs = [CheckpointRef(0, 5, "/0/5.pkl"), CheckpointRef(1, 4, "/1/4.pkl")]
    pbt = PBT(population=2, interval=4, resample_probability=0.0, seed=0)
    plan = pbt.next_trial(_context([good, bad], lineage, refs))
    line = plan.lineage
    assert (line.member, line.segment, line.donor, line.old_config) == (1, 1, 0, {"lr": 0.5})
    assert plan.start == CheckpointRef(0, 5, "/0/5.pkl")  # the donor's latest (asynchronous)
    assert plan.config["lr"] in (pytest.approx(0.008), pytest.approx(0.012))
    # the explore step, as the fork rows the study stores with the new trial
    assert plan.changes == (ConfigChange(-1, "lr", 0.01, plan.config["lr"], "pbt", 6, "fork"),)
    # the donor went on past the boundary: synchronous PBT copies its checkpoint at the boundary, not later
    bad = _t(0, TrialState.COMPLETE, [(3, 0.9), (4, 0.8)], lr=0.5)
    good = _t(1, TrialState.COMPLETE, [(4, 0.2)], lr=0.01)
    good_next = _t(2, TrialState.RUNNING, [(5, 0.15), (6, 0.1)], lr=0.01)
    lineage = [LineageRecord(0, 0, 0), LineageRecord(1, 1, 0), LineageRecord(2, 1, 1, parent=1, step=4)]
    refs = [CheckpointRef(0, 4, "/0/4"), CheckpointRef(1, 4, "/1/4"), CheckpointRef(2, 6, "/2/6")]
    context = _context([bad, good, good_next], lineage, refs)
    for synch, expected in ((True, "/1/4"), (False, "/2/6")):
        pbt = PBT(population=2, interval=4, synch=synch, resample_probability=0.0, seed=0)
        plan = pbt.next_trial(context)
        assert (plan.lineage.member, plan.lineage.donor, plan.start.uri) == (0, 1, expected)


def test_pbt_follows_tweaks_a_copy_takes_the_donors_config_in_force_at_the_checkpoint() -> None:
    space = Space(LR)
    # the donor was tweaked to 0.05 from step 3 and to 0.07 from step 6, after the checkpoint at 5
    good = _t(0, TrialState.RUNNING, [(4, 0.2), (5, 0.1)], lr=0.01)
    good.changes = [ConfigChange(0, "lr", 0.01, 0.05, "person", 3),
                    ConfigChange(0, "lr", 0.05, 0.07, "person", 6)]
    # the copying member had a tweak pending when its segment ended
    bad = _t(1, TrialState.COMPLETE, [(3, 0.9), (4, 0.8)], lr=0.5)
    bad.changes = [ConfigChange(1, "lr", 0.5, 0.4, "person")]
    lineage = [LineageRecord(0, 0, 0), LineageRecord(1, 1, 0)]
    refs = [CheckpointRef(0, 5, "/0/5.pkl"), CheckpointRef(1, 4, "/1/4.pkl")]
    pbt = PBT(population=2, interval=4, resample_probability=0.0, seed=0)
    plan = pbt.next_trial(_context([good, bad], lineage, refs))
    assert plan.lineage.old_config == {"lr": 0.4}  # what it had in force, its pending tweak included
    [row] = plan.changes
    assert (row.name, row.old, row.step) == ("lr", 0.05, 6) and row.new == plan.config["lr"]
    assert row.new in (pytest.approx(0.04), pytest.approx(0.06))
    assert plan.unit == {"lr": pytest.approx(space["lr"].to_unit(row.new))}
    # the top member goes on with what it has in force: delivered tweaks and a pending one
    best = _t(0, TrialState.COMPLETE, [(3, 0.2), (4, 0.1)], lr=0.01)
    best.changes = [ConfigChange(0, "lr", 0.01, 0.05, "person", 3),
                    ConfigChange(0, "lr", 0.05, 0.07, "person")]
    worst = _t(1, TrialState.RUNNING, [(4, 0.9), (5, 0.8)], lr=0.5)
    refs = [CheckpointRef(0, 4, "/0/4.pkl"), CheckpointRef(1, 5, "/1/5.pkl")]
    plan = pbt.next_trial(_context([best, worst], lineage, refs))
    assert (plan.lineage.member, plan.lineage.donor, plan.changes) == (0, None, ())
    assert plan.config == {"lr": 0.07} and plan.unit == {"lr": pytest.approx(space["lr"].to_unit(0.07))}
    # untweaked, it keeps its unit coordinate as stored
    untouched = _t(0, TrialState.COMPLETE, [(3, 0.2), (4, 0.1)], lr=0.01)
    plan = pbt.next_trial(_context([untouched, worst], lineage, refs))
    assert (plan.config, plan.unit) == ({"lr": 0.01}, {"lr": 0.5})


def test_a_member_whose_worker_died_restarts_and_one_that_failed_does_not() -> None:
    died = _t(0, TrialState.FAILED, [(1, 0.9), (2, 0.8)], error="worker died: signal 9 (SIGKILL)",
              failure=FailureKind.WORKER_DIED)
    broke = _t(1, TrialState.FAILED, [(1, 0.9)], error="Traceback (most recent call last):\nValueError: x",
               failure=FailureKind.OBJECTIVE)
    lineage = [LineageRecord(0, 0, 0), LineageRecord(1, 1, 0)]
    refs = [CheckpointRef(0, 1, "/0/1.pkl"), CheckpointRef(0, 2, "/0/2.pkl")]
    plan = PBT(population=2, interval=4).next_trial(_context([died, broke], lineage, refs))
    line = plan.lineage
    assert (line.member, line.segment, plan.config, plan.start.uri) == (0, 1, {"lr": 0.01}, "/0/2.pkl")
    assert plan.changes == ()
    # a member tweaked before its worker died restarts with the tweak in force
    died.changes = [ConfigChange(0, "lr", 0.01, 0.02, "person", 2)]
    plan = PBT(population=2, interval=4).next_trial(_context([died, broke], lineage, refs))
    assert (plan.config, plan.start.uri, plan.changes) == ({"lr": 0.02}, "/0/2.pkl", ())
    # after max_restarts deaths in a row the member is failed for good, and with it the run ends
    with pytest.raises(SearchExhausted, match="every one of the 2 members has finished"):
        PBT(population=2, interval=4, max_restarts=0).next_trial(_context([died, broke], lineage, refs))


# -- whole runs ----------------------------------------------------------------------------------


def _segments(study: shoal.Study) -> tuple[dict[int, Trial], list[LineageRecord]]:
    return {t.number: t for t in study.trials}, study.storage.read_lineage(study.id)


def test_a_pbt_run_trains_members_in_segments_that_resume_where_their_checkpoint_left_off(
    tmp_path: Path,
) -> None:
    store = CheckpointStore(tmp_path / "ck", keep=1000)
    pbt = PBT(population=4, interval=4, max_steps=po.MAX_STEPS, resample_probability=0.0, seed=3)
    study = shoal.Study("pbt", LR, scheduler=pbt, checkpoints=store, seed=3)
    study.optimize(po.schedule_task, show_progress=False)
    trials, lineage = _segments(study)
    assert len(lineage) == len(trials) and {r.member for r in lineage} == {0, 1, 2, 3}
    refs = {(r.trial_number, r.step): r for r in study.storage.read_checkpoints(study.id)}
    exploits = [r for r in lineage if r.donor is not None]
    assert exploits, "the bottom quarter must have copied someone"
    for record in lineage:
        trial = trials[record.trial_number]
        assert trial.state == TrialState.COMPLETE
        assert trial.reports[0][0] == record.step + 1  # it went on from the step it loaded
        if record.parent is not None:
            assert refs[(record.parent, record.step)].uri == record.checkpoint
            # the state it saved names the trial it came from
            saved = read_checkpoint(store.root, refs[(trial.number, trial.reports[-1][0])].uri)
            assert saved["trail"][-2:] == [record.parent, trial.number]
    for record in exploits:
        donor_trial = trials[record.parent]
        assert any(r.trial_number == record.parent and r.member == record.donor for r in lineage)
        ratio = trials[record.trial_number].config["lr"] / donor_trial.config["lr"]
        assert ratio == pytest.approx(0.8) or ratio == pytest.approx(1.2)
        assert record.old_config != trials[record.trial_number].config
    # every member trained to the end, and no segment ran past it
    last = {}
    for record in lineage:
        last[record.member] = max(last.get(record.member, 0), trials[record.trial_number].reports[-1][0])
    assert last == {m: po.MAX_STEPS for m in range(4)}


def test_the_best_schedule_replays_to_the_same_model() -> None:
    pbt = PBT(population=4, interval=3, max_steps=po.MAX_STEPS, seed=11)
    study = shoal.Study("replay", LR, scheduler=pbt, seed=11)
    study.optimize(po.schedule_task, show_progress=False)
    schedule = best_schedule(study)
    assert schedule.trial == study.best.number and len(schedule.changes()) >= 2
    lrs = {step: schedule.config_at(step)["lr"] for step in range(1, po.MAX_STEPS + 1)}
    assert po.replay(lrs) == pytest.approx(study.best.value, rel=1e-12)


def test_pbt_records_its_explore_steps_and_carries_a_persons_tweak(storage, tmp_path: Path) -> None:
    """Member 0 is tweaked to lr 0.9 while its first segment runs (values are the lr: it then ranks
    top): it goes on with 0.9; member 1 copies it and explores from 0.9, not from its initial lr."""
    pbt = PBT(population=2, interval=4, max_steps=12, synch=True, resample_probability=0.0, seed=0)
    store = CheckpointStore(tmp_path / "ck", keep=1000)
    study = shoal.Study("panda", LR, storage=storage, scheduler=pbt, direction="maximize",
                        checkpoints=store, seed=0)
    trained: dict[int, list[float]] = {}

    def objective(config, trial):  # remembers, through its checkpoints, the lr of every step
        state = trial.load() or {"step": 0, "lrs": []}
        step, lrs = state["step"], state["lrs"]
        while step < 12:
            step += 1
            lrs = [*lrs, config["lr"]]
            trial.save({"step": step, "lrs": lrs}, step)
            trial.report(config["lr"], step)
            if trial.number == 0 and step == 1:
                study.tweak(0, {"lr": 0.9})
            if trial.should_stop():
                break
        trained[trial.number] = lrs
        return config["lr"]

    study.optimize(objective, show_progress=False)
    trials, lineage = _segments(study)
    first = trials[0]
    [tweak] = first.changes
    assert (tweak.kind, tweak.source, tweak.new) == ("tweak", "person", 0.9) and 1 < tweak.step <= 4
    assert trials[1].config["lr"] < 0.9  # so member 0 ranks top at step 4
    [goes_on] = [r for r in lineage if r.parent == 0 and r.member == 0]
    assert goes_on.donor is None and trials[goes_on.trial_number].config == {"lr": 0.9}
    [copy] = [r for r in lineage if r.parent == 0 and r.member == 1]
    assert copy.donor == 0 and copy.step == 4 and copy.old_config == trials[1].config
    exploits = [r for r in lineage if r.donor is not None]
    for record in lineage:
        trial = trials[record.trial_number]
        if record.donor is None:  # a fresh member, or one continuing: no rows (but trial 0's tweak)
            assert trial.changes == ([tweak] if trial.number == 0 else [])
            continue
        in_force = trials[record.parent].schedule_at(record.step)
        assert [(c.kind, c.source, c.step) for c in trial.changes] == [("fork", "pbt", record.step + 1)]
        assert [(c.name, c.old, c.new) for c in trial.changes] == [("lr", in_force["lr"], trial.config["lr"])]
        assert trial.excluded_from_models is not None
    assert trials[copy.trial_number].changes[0].old == 0.9  # the donor's lr in force, not its first
    events = {row["trial"]: row for row in lineage_events(list(trials.values()), lineage)}
    for record in exploits:
        [row] = trials[record.trial_number].changes
        assert events[record.trial_number]["changed"] == {"lr": [row.old, row.new]}
    # every model's schedule replays the lrs it was trained with; the best one's has the tweak
    for number, lrs in trained.items():
        schedule = schedule_of(study, number)
        assert [schedule.config_at(s)["lr"] for s in range(1, len(lrs) + 1)] == lrs
    best = best_schedule(study)
    assert best.changes()[:2] == [(0, first.config), (tweak.step, {"lr": 0.9})]


def test_synchronous_pbt_starts_a_generation_only_when_the_last_one_is_done(sqlite_url: str) -> None:
    pbt = PBT(population=3, interval=4, max_steps=12, synch=True, seed=2)
    study = shoal.Study("synch", LR, storage=sqlite_url, scheduler=pbt, seed=2)
    study.optimize(partial(po.schedule_task, max_steps=12), n_workers=2, show_progress=False)
    trials, lineage = _segments(study)
    assert {r.step for r in lineage} == {0, 4, 8}
    for record in lineage:
        if record.step == 0:
            continue
        ending_here = [trials[r.trial_number] for r in lineage if r.step == record.step - 4]
        assert len(ending_here) == 3
        assert all(t.finished_at <= record.created_at for t in ending_here)


def test_a_member_whose_worker_dies_restarts_from_its_last_checkpoint(
    tmp_path: Path, sqlite_url: str
) -> None:
    pbt = PBT(population=2, interval=4, max_steps=12, seed=0)
    study = shoal.Study("die", LR, storage=sqlite_url, scheduler=pbt, seed=0)
    # the first resumed segment to save step 6 kills its worker
    objective = partial(po.schedule_task, max_steps=12, die_in=-1, die_at=6, marker=str(tmp_path / "m"))
    study.optimize(objective, n_workers=2, show_progress=False)
    trials, lineage = _segments(study)
    [dead] = [t for t in trials.values() if t.state == TrialState.FAILED]
    # it died after saving step 6 and before reporting it (it may have started at step 5: a copy
    # starts from its donor's latest checkpoint, wherever the donor's segment had got to)
    assert dead.error == "worker died: exit code 7" and all(step < 6 for step, _ in dead.reports)
    assert dead.failure == FailureKind.WORKER_DIED  # typed: PBT restarts on the kind, not the text
    dead_member = next(r.member for r in lineage if r.trial_number == dead.number)
    # (the other member may copy the checkpoint the dead one saved: it is sound)
    [restart] = [r for r in lineage if r.parent == dead.number and r.member == dead_member]
    assert (restart.member, restart.step, restart.donor) == (dead_member, 6, None)
    assert trials[restart.trial_number].reports[0][0] == 7
    assert trials[restart.trial_number].config == dead.config
    finished = [t for t in trials.values() if t.state == TrialState.COMPLETE and t.reports[-1][0] == 12]
    assert {r.member for r in lineage if r.trial_number in {t.number for t in finished}} == {0, 1}


def test_a_corrupt_checkpoint_fails_the_members_that_load_it_never_the_study(sqlite_url: str) -> None:
    pbt = PBT(population=3, interval=4, max_steps=12, synch=True, quantile=1 / 3, seed=1)
    study = shoal.Study("corrupt", LR, storage=sqlite_url, scheduler=pbt, seed=1)
    corrupted: list[int] = []

    def corrupt_the_best_once_all_reach_step_4(study: shoal.Study, trial: Trial) -> None:
        first = [t for t in study.trials if t.reports and t.reports[0][0] == 1 and t.state.finished]
        if len(first) == 3 and not corrupted:
            best = min(first, key=lambda t: t.value)
            [ref] = [r for r in study.storage.read_checkpoints(study.id)
                     if r.trial_number == best.number and r.step == 4]
            Path(ref.uri).write_bytes(Path(ref.uri).read_bytes()[:100])
            corrupted.append(best.number)

    # catch=(): any error other than a checkpoint's would be raised
    study.optimize(po.schedule_task, catch=(), callbacks=[corrupt_the_best_once_all_reach_step_4],
                   show_progress=False)
    trials, lineage = _segments(study)
    # the best member continues from its own checkpoint and fails; nobody copies a failed member
    best_member = next(r.member for r in lineage if r.trial_number == corrupted[0])
    [loaded] = [r for r in lineage if r.parent == corrupted[0] and r.step == 4]
    failed = trials[loaded.trial_number]
    assert loaded.member == best_member and failed.state == TrialState.FAILED
    assert "CheckpointError" in failed.error and f"(saved by trial {corrupted[0]}) is corrupt" in failed.error
    assert [t.number for t in trials.values() if t.state == TrialState.FAILED] == [failed.number]
    assert max(r.segment for r in lineage if r.member == best_member) == loaded.segment  # no more segments
    for member in {0, 1, 2} - {best_member}:
        assert max(trials[r.trial_number].reports[-1][0] for r in lineage if r.member == member) == 12
        assert all(r.donor != best_member for r in lineage if r.member == member and r.step >= 4)


def test_the_cli_shows_the_lineage_and_the_best_schedule(sqlite_url: str) -> None:
    pbt = PBT(population=4, interval=4, max_steps=po.MAX_STEPS, seed=3)
    study = shoal.Study("pop", LR, storage=sqlite_url, scheduler=pbt, seed=3)
    study.optimize(po.schedule_task, show_progress=False)
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli(["lineage", "pop", "--storage", sqlite_url, "--json"]) == 0
    data = json.loads(out.getvalue())
    trials, lineage = _segments(study)
    assert [row["trial"] for row in data["lineage"]] == [r.trial_number for r in lineage]
    exploit_rows = [row for row in data["lineage"] if row["donor"] is not None]
    assert exploit_rows and all(row["event"].startswith("exploit: copied member") for row in exploit_rows)
    assert all(set(row["changed"]) == {"lr"} for row in exploit_rows)
    assert data["best"] == study.best.number
    assert [(s["first_step"], s["config"]) for s in data["schedule"]] == best_schedule(study).changes()
    text = io.StringIO()
    with redirect_stdout(text):
        assert cli(["lineage", "pop", "--storage", sqlite_url]) == 0
    assert "lineage: pop (4 members" in text.getvalue() and "schedule of the best model" in text.getvalue()
    plain = shoal.Study("plain", LR, storage=sqlite_url, seed=0)
    plain.optimize(lambda c: c["lr"], n_trials=2, show_progress=False)
    assert cli(["lineage", "plain", "--storage", sqlite_url]) == 2


def test_pbt_beats_a_fixed_learning_rate_on_the_schedule_task() -> None:
    """Not a benchmark (see benchmarks/pbt_schedule.py): a sanity check that exploit and explore work."""
    pbt = PBT(population=6, interval=3, max_steps=po.MAX_STEPS, seed=4)
    study = shoal.Study("beats", LR, scheduler=pbt, seed=4)
    study.optimize(po.schedule_task, show_progress=False)
    initial = [t for t in study.trials if t.reports and t.reports[0][0] == 1]
    fixed_best = min(po.replay(dict.fromkeys(range(1, po.MAX_STEPS + 1), t.config["lr"])) for t in initial)
    assert study.best.value < fixed_best
    assert math.isfinite(study.best.value)


def test_the_pbt_mlp_example_prints_the_best_members_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sklearn")
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "examples" / "pbt_mlp.py"
    spec = importlib.util.spec_from_file_location("shoal_example_pbt_mlp", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = io.StringIO()
    with redirect_stdout(out):
        example.main(["--population", "4", "--epochs", "6", "--interval", "2"])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("4 members, ") and "best validation accuracy 0." in lines[0]
    accuracy = float(lines[0].split("best validation accuracy ")[1].split()[0])
    assert accuracy > 0.8  # six epochs of a working MLP on the digits
    rows = [line.split() for line in lines[3:]]
    assert rows[0][0].startswith("1-") and rows[-1][0].endswith("-6")
    assert all(1e-3 <= float(lr) <= 1.0 and 0.5 <= float(m) <= 0.99 for _, lr, m in rows)

"""Several objectives and constraints: a study's stored objectives, and each trial's named values
(typed rows written with its finishing state change) and feasibility."""

from __future__ import annotations

import math
import threading

import pytest

from ...storage import StateConflict, Storage
from .support import (
    COMPLETE,
    FAILED,
    PAUSED,
    PRUNED,
    QUEUED,
    RUNNING,
    SPACE,
    add,
    finish,
    new_study,
    run_threads,
)

#: The stored form of a study's objectives (``shoal.objectives.Objectives.to_dict``).
OBJECTIVES = {
    "objectives": [["accuracy", "maximize"], ["latency_ms", "minimize"]],
    "constraints": ["memory_mb <= 512", "latency_ms <= 20"],
}

#: Values an objective may return: objectives and extra metrics, awkward names and numbers.
VALUES = {
    "accuracy": 0.9,
    "latency_ms": 12,  # an int reads back as a float
    "memory_mb": 300.5,
    "tiny": 1e-300,
    "huge": 1e300,
    "negative": -2.5e-5,
    "third": 1 / 3,
    "ключ 🐟": -7.25,
    "n" * 255: 1.0,
}


class MetricContract:
    """Part of ``StorageConformance``; needs its ``storage`` fixture."""

    # -- the study's objectives --------------------------------------------------------------------------

    def test_a_study_keeps_its_objectives(self, storage: Storage) -> None:
        plain = new_study(storage, "plain")
        assert plain.objectives is None
        several = storage.create_study("mo", "maximize", SPACE, "Random()", objectives=OBJECTIVES)
        assert several.objectives == OBJECTIVES and several.direction == "maximize"
        assert storage.get_study("mo") == several
        assert storage.get_study("plain").objectives is None
        by_name = {s.record.name: s.record for s in storage.list_studies()}
        assert by_name["mo"].objectives == OBJECTIVES and by_name["plain"].objectives is None
        with pytest.raises(ValueError, match=r"objectives\['bad'\] is nan"):
            storage.create_study("nan", "minimize", SPACE, "Random()", objectives={"bad": math.nan})
        assert [s.record.name for s in storage.list_studies()] == ["plain", "mo"]

    # -- a trial's values and feasibility ------------------------------------------------------------------

    def test_values_and_feasible_round_trip_typed(self, storage: Storage) -> None:
        study = new_study(storage)
        trials = [add(storage, study.study_id) for _ in range(5)]
        done = storage.set_state(
            trials[0].trial_id, RUNNING, COMPLETE, value=0.9, values=VALUES, feasible=True
        )
        infeasible = storage.set_state(
            trials[1].trial_id, RUNNING, COMPLETE, value=0.5, values={"accuracy": 0.5, "memory_mb": 900},
            feasible=False,
        )
        pruned = storage.set_state(
            trials[2].trial_id, RUNNING, PRUNED, value=0.1, values={"accuracy": 0.1}, feasible=True
        )
        plain = finish(storage, trials[3], COMPLETE, 2.0)  # a one-number trial: no values, not judged
        judged_only = storage.set_state(trials[4].trial_id, RUNNING, COMPLETE, value=1.0, feasible=True)
        expected = [
            (COMPLETE, 0.9, {k: float(v) for k, v in VALUES.items()}, True),
            (COMPLETE, 0.5, {"accuracy": 0.5, "memory_mb": 900.0}, False),
            (PRUNED, 0.1, {"accuracy": 0.1}, True),
            (COMPLETE, 2.0, {}, None),
            (COMPLETE, 1.0, {}, True),
        ]
        returned = [done, infeasible, pruned, plain, judged_only]
        for trials_read in (
            returned,
            storage.read_trials(study.study_id),
            storage.read_trials(study.study_id, after=3, numbers=[0, 1, 2, 3]),
        ):
            assert [(t.state, t.value, t.values, t.feasible) for t in trials_read] == expected
            for t in trials_read:
                assert all(type(v) is float for v in t.values.values())
                assert t.feasible is None or type(t.feasible) is bool
        assert done.to_dict()["values"] == expected[0][2] and done.to_dict()["feasible"] is True
        # unfinished trials have none
        running = add(storage, study.study_id)
        assert (running.values, running.feasible) == ({}, None)
        ((listed, _),) = storage.running_with_drivers(study.study_id)
        assert (listed.values, listed.feasible) == ({}, None)
        # a copy: changing what was read changes nothing stored
        read = storage.read_trials(study.study_id)[1]
        read.values["accuracy"] = 99.0
        assert storage.read_trials(study.study_id)[1].values["accuracy"] == 0.5

    def test_values_with_reports_and_a_failed_trial_without_values(self, storage: Storage) -> None:
        study = new_study(storage)
        trial, failed = add(storage, study.study_id), add(storage, study.study_id)
        storage.add_report(trial.trial_id, 0, 0.25)
        done = storage.set_state(trial.trial_id, RUNNING, COMPLETE, value=1.0, values={"a": 1.0, "b": 2.0},
                                 feasible=False)
        assert (done.reports, done.values, done.feasible) == ([(0, 0.25)], {"a": 1.0, "b": 2.0}, False)
        gone = storage.set_state(failed.trial_id, RUNNING, FAILED, error="returned no 'a'")
        assert (gone.values, gone.feasible) == ({}, None)
        stored = storage.read_trials(study.study_id)
        assert [(t.reports, t.values, t.feasible) for t in stored] == [
            ([(0, 0.25)], {"a": 1.0, "b": 2.0}, False), ([], {}, None)
        ]

    def test_refused_values_write_nothing(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        for kwargs, message in [
            ({"values": {"a": 1.0}}, "values go with feasible=True or False"),
            ({"values": {"a": math.nan}, "feasible": True}, r"values\['a'\] must be a finite number"),
            ({"values": {"a": math.inf}, "feasible": True}, r"values\['a'\] must be a finite number"),
            ({"values": {"a": True}, "feasible": True}, r"values\['a'\] must be a finite number"),
            ({"values": {"a": "1"}, "feasible": True}, r"values\['a'\] must be a finite number"),
            ({"values": {"": 1.0}, "feasible": True}, "a string of 1 to 255 characters"),
            ({"values": {"n" * 256: 1.0}, "feasible": True}, "a string of 1 to 255 characters"),
            ({"values": {3: 1.0}, "feasible": True}, "a string of 1 to 255 characters, got 3"),
            ({"feasible": "yes"}, "feasible must be True, False or None"),
        ]:
            with pytest.raises(ValueError, match=message):
                storage.set_state(trial.trial_id, RUNNING, COMPLETE, value=1.0, **kwargs)
        with pytest.raises(ValueError, match="go with a move to a finished state, not to PAUSED"):
            storage.set_state(trial.trial_id, RUNNING, PAUSED, values={"a": 1.0}, feasible=True)
        with pytest.raises(ValueError, match="go with a move to a finished state, not to PAUSED"):
            storage.set_state(trial.trial_id, RUNNING, PAUSED, feasible=False)
        (still,) = storage.read_trials(study.study_id)
        assert (still.state, still.values, still.feasible) == (RUNNING, {}, None)
        done = storage.set_state(trial.trial_id, RUNNING, COMPLETE, value=1.0, values={"a": 1.0},
                                 feasible=True)
        assert (done.values, done.feasible) == ({"a": 1.0}, True)

    def test_a_refused_state_change_writes_no_values(self, storage: Storage) -> None:
        study = new_study(storage)
        queued, done = add(storage, study.study_id, QUEUED), add(storage, study.study_id)
        with pytest.raises(StateConflict):
            storage.set_state(queued.trial_id, RUNNING, COMPLETE, value=1.0, values={"a": 1.0}, feasible=True)
        storage.set_state(done.trial_id, RUNNING, COMPLETE, value=1.0, values={"a": 1.0}, feasible=True)
        with pytest.raises(StateConflict):
            storage.set_state(done.trial_id, RUNNING, COMPLETE, value=2.0, values={"a": 2.0, "b": 2.0},
                              feasible=False)
        stored = storage.read_trials(study.study_id)
        assert [(t.state, t.values, t.feasible) for t in stored] == [
            (QUEUED, {}, None), (COMPLETE, {"a": 1.0}, True)
        ]
        claimed = storage.claim_queued(study.study_id, None)
        assert claimed is not None and (claimed.values, claimed.feasible) == ({}, None)

    def test_threads_racing_to_finish_one_trial_store_the_winners_values_only(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        outcomes: list[object] = [None] * 6
        barrier = threading.Barrier(6)

        def racer(index: int) -> None:
            values = {"shared": float(index), f"only{index}": float(index)}
            barrier.wait(30)
            try:
                outcomes[index] = storage.set_state(
                    trial.trial_id, RUNNING, COMPLETE, value=float(index), values=values,
                    feasible=bool(index % 2),
                )
            except StateConflict as exc:
                outcomes[index] = exc

        run_threads(racer, 6)
        (winner,) = [o for o in outcomes if not isinstance(o, StateConflict)]
        index = int(winner.value)  # type: ignore[attr-defined]
        (stored,) = storage.read_trials(study.study_id)
        assert stored.values == {"shared": float(index), f"only{index}": float(index)}
        assert stored.feasible is bool(index % 2)

    def test_list_studies_finds_the_best_feasible_value(self, storage: Storage) -> None:
        constrained = storage.create_study(
            "c", "minimize", SPACE, "Random()",
            objectives={"objectives": [["value", "minimize"]], "constraints": ["m <= 1"]},
        )
        several = storage.create_study("mo", "maximize", SPACE, "Random()", objectives=OBJECTIVES)
        for value, feasible in ((0.1, False), (0.5, True), (0.7, True)):
            storage.set_state(add(storage, constrained.study_id).trial_id, RUNNING, COMPLETE, value=value,
                              values={"value": value, "m": 0.0 if feasible else 2.0}, feasible=feasible)
        storage.set_state(add(storage, several.study_id).trial_id, RUNNING, COMPLETE, value=0.9,
                          values={"accuracy": 0.9, "latency_ms": 3.0}, feasible=True)
        best = {s.record.name: s.best_value for s in storage.list_studies()}
        assert best == {"c": 0.5, "mo": None}  # several objectives: a front, not one best value

    def test_deleting_a_study_deletes_its_values(self, storage: Storage) -> None:
        study = storage.create_study("mo", "maximize", SPACE, "Random()", objectives=OBJECTIVES)
        for k in range(3):
            storage.set_state(add(storage, study.study_id).trial_id, RUNNING, COMPLETE, value=float(k),
                              values={"accuracy": float(k), f"old{k}": 1.0}, feasible=True)
        storage.delete_study("mo")
        # a new study of that name starts empty: no values of the old trials (whose ids a backend may
        # hand out again) come back with the new ones
        again = storage.create_study("mo", "maximize", SPACE, "Random()", objectives=OBJECTIVES)
        for _ in range(3):
            storage.set_state(add(storage, again.study_id).trial_id, RUNNING, COMPLETE, value=1.0,
                              values={"accuracy": 1.0}, feasible=False)
        stored = storage.read_trials(again.study_id)
        assert [(t.values, t.feasible) for t in stored] == [({"accuracy": 1.0}, False)] * 3

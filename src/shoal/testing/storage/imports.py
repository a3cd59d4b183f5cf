"""Trials taken in whole (``import_trial``: a copied study, a result obtained elsewhere) and configs
completed as a queued trial starts (``fill_config``)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from ...records import CheckpointRef, ConfigChange, LineageRecord, RungRecord
from ...storage import ClaimTaken, StateConflict, Storage
from ...trial import FailureKind, Trial
from .support import (
    COMPLETE,
    FAILED,
    PAUSED,
    PRUNED,
    QUEUED,
    RUNNING,
    STALE,
    TYPED_CONFIG,
    add,
    new_study,
    numbers,
)

_T0 = datetime(2024, 5, 17, 9, 30, 12, 345678, tzinfo=timezone.utc)


def _whole(number: int = 41, **fields) -> Trial:
    """A finished trial with every field set, as another storage would hand it over."""
    base = Trial(
        number=number, state=COMPLETE, config=dict(TYPED_CONFIG), unit={"lr": 0.25, "opt": 0.75},
        value=0.125, error="a note", reports=[(0, 3.5), (2, 1.25), (5, 0.125)], round=2,
        claim="grid:17", requeued_from=3, created_at=_T0, started_at=_T0 + timedelta(seconds=1.5),
        finished_at=_T0 + timedelta(seconds=90.25), stop_requested=True, proposed_by="GP: improvement",
        values={"accuracy": 0.125, "latency_ms": 12.0}, feasible=False,
        changes=[
            ConfigChange(number, "lr", 0.1, 0.01, "person", 3, "tweak", _T0 + timedelta(seconds=30)),
            ConfigChange(number, "units", 8, None, "rule", 4, "tweak", _T0 + timedelta(seconds=40)),
        ],
    )
    return dataclasses.replace(base, **fields)


def _fields(trial: Trial) -> dict:
    """Everything a trial holds but where it is stored (id, number)."""
    kept = dataclasses.asdict(trial)
    kept.pop("trial_id")
    kept.pop("number")
    kept["changes"] = [dataclasses.replace(c, trial_number=-1) for c in trial.changes]
    return kept


class ImportContract:
    """Part of ``StorageConformance``; needs its ``storage`` fixture."""

    def test_an_imported_trial_keeps_every_field_and_takes_the_next_number(self, storage: Storage) -> None:
        study = new_study(storage)
        add(storage, study.study_id)
        given = _whole()
        stored = storage.import_trial(study.study_id, given)
        assert stored.number == 1 and stored.trial_id is not None
        read = storage.read_trials(study.study_id, numbers=[1])[-1]
        for got in (stored, read):
            assert _fields(got) == _fields(given)
            assert [type(v) for v in got.config.values()] == [type(v) for v in TYPED_CONFIG.values()]
            assert all(c.trial_number == 1 for c in got.changes)
        assert storage.read_trials(study.study_id, after=1) == []
        summary = storage.list_studies()[0]
        assert summary.counts == {RUNNING: 1, COMPLETE: 1}

    def test_its_lineage_rungs_and_checkpoints_come_with_it(self, storage: Storage) -> None:
        study = new_study(storage)
        stored = storage.import_trial(
            study.study_id, _whole(state=PRUNED, values={}, feasible=None, changes=[]),
            lineage=LineageRecord(99, member=2, segment=3, parent=0, checkpoint="m2/s3.pkl", step=12, donor=1,
                                  old_config={"lr": 0.5, "opt": None}, created_at=_T0),
            rungs=[RungRecord(99, 0, 1, 9, 0.5), RungRecord(99, 0, 0, 3, 0.75), RungRecord(99, 0, 1, 9, 7.0)],
            checkpoints=[CheckpointRef(99, 4, "t0/4.pkl", _T0), CheckpointRef(99, 8, "t0/8", _T0)],
        )
        assert stored.number == 0
        [lineage] = storage.read_lineage(study.study_id)
        assert lineage == LineageRecord(0, 2, 3, 0, "m2/s3.pkl", 12, 1, {"lr": 0.5, "opt": None}, _T0)
        assert storage.read_rungs(study.study_id) == [
            RungRecord(0, 0, 0, 3, 0.75), RungRecord(0, 0, 1, 9, 0.5)]
        assert storage.read_checkpoints(study.study_id) == [
            CheckpointRef(0, 4, "t0/4.pkl", _T0), CheckpointRef(0, 8, "t0/8", _T0)]

    def test_imported_trials_of_every_state_read_back_as_given(self, storage: Storage) -> None:
        study = new_study(storage)
        bare = dict(values={}, feasible=None, changes=[], reports=[], claim=None, finished_at=None)
        given = [
            _whole(state=QUEUED, value=None, error=None, started_at=None, **bare),
            _whole(state=RUNNING, value=None, error=None, **bare),
            _whole(state=PAUSED, value=None, **bare),
            _whole(state=FAILED, value=None, failure=FailureKind.TIMEOUT, **{**bare, "finished_at": _T0}),
            _whole(state=STALE, value=None, error="driver vanished", **{**bare, "finished_at": _T0}),
            _whole(created_at=None, **{**bare, "finished_at": _T0}),
        ]
        for trial in given:
            storage.import_trial(study.study_id, trial)
        read = storage.read_trials(study.study_id)
        assert numbers(read) == [0, 1, 2, 3, 4, 5]
        for got, want in zip(read[:5], given, strict=False):
            assert _fields(got) == _fields(want)
        assert read[5].created_at is not None  # none given: the time it was stored
        assert [t.number for t, _ in storage.running_with_drivers(study.study_id)] == [1]
        assert storage.claim_queued(study.study_id, None).number == 0

    def test_an_imported_pending_tweak_arrives_at_the_next_report(self, storage: Storage) -> None:
        study = new_study(storage)
        pending = ConfigChange(0, "lr", 0.1, 0.05, "person", None, "tweak", _T0)
        trial = storage.import_trial(study.study_id, _whole(
            state=RUNNING, value=None, values={}, feasible=None, finished_at=None, reports=[],
            changes=[pending]))
        assert trial.pending_changes == {"lr": 0.05}
        assert storage.add_report(trial.trial_id, 0, 1.0).changes == {"lr": 0.05}
        assert storage.add_report(trial.trial_id, 1, 1.0).changes is None

    def test_an_import_whose_claim_is_held_stores_nothing(self, storage: Storage) -> None:
        study = new_study(storage)
        add(storage, study.study_id, claim="grid:17")
        with pytest.raises(ClaimTaken):
            storage.import_trial(study.study_id, _whole())
        assert numbers(storage.read_trials(study.study_id)) == [0]
        other = new_study(storage, "other")  # claims are per study
        assert storage.import_trial(other.study_id, _whole()).claim == "grid:17"

    @pytest.mark.parametrize("wrong", [
        {"state": "DONE"},
        {"value": float("nan")},
        {"reports": [(-1, 1.0)]},
        {"reports": [(1, float("inf"))]},
        {"failure": FailureKind.OBJECTIVE},  # on a COMPLETE trial
        {"feasible": None},  # values without their feasibility
        {"config": {"x": object()}},
        {"changes": [ConfigChange(0, "lr", 1, 2, "someone")]},
        {"changes": [ConfigChange(0, "lr", 1, 2, "person", 1, "rename")]},
    ], ids=["state", "nan", "step", "report", "failure", "feasible", "config", "source", "kind"])
    def test_an_import_it_cannot_keep_is_refused_before_anything_is_stored(
        self, storage: Storage, wrong: dict
    ) -> None:
        study = new_study(storage)
        with pytest.raises(ValueError):
            storage.import_trial(study.study_id, _whole(**wrong))
        assert storage.read_trials(study.study_id) == []
        assert storage.import_trial(study.study_id, _whole()).number == 0  # the number is still free

    def test_fill_config_adds_to_a_running_trials_config(self, storage: Storage) -> None:
        study = new_study(storage)
        queued = storage.create_trial(study.study_id, QUEUED, {"opt": "adam"}, {"opt": 0.0})
        claimed = storage.claim_queued(study.study_id, None)
        assert claimed.number == queued.number
        filled = storage.fill_config(claimed.trial_id, {"lr": 0.01, "opt": "adam", "beta1": 0.9},
                                     {"lr": 0.5, "opt": 0.0, "beta1": 0.5},
                                     proposed_by="enqueued; TPE: model")
        read = storage.read_trials(study.study_id)[0]
        for got in (filled, read):
            assert got.config == {"lr": 0.01, "opt": "adam", "beta1": 0.9} and got.state == RUNNING
            assert got.unit == {"lr": 0.5, "opt": 0.0, "beta1": 0.5}
            assert got.proposed_by == "enqueued; TPE: model"
        again = storage.fill_config(claimed.trial_id, read.config, {"lr": 0.25, "opt": 0.0, "beta1": 0.5})
        assert again.proposed_by == "enqueued; TPE: model" and again.unit["lr"] == 0.25

    @pytest.mark.parametrize("config", [{"lr": 0.01}, {"opt": "sgd", "lr": 0.01}, {"opt": 1, "lr": 0.1}],
                             ids=["drops", "changes", "retypes"])
    def test_fill_config_never_drops_or_changes_a_stored_value(self, storage: Storage, config: dict) -> None:
        study = new_study(storage)
        storage.create_trial(study.study_id, QUEUED, {"opt": "1"}, {})
        claimed = storage.claim_queued(study.study_id, None)
        with pytest.raises(ValueError, match="keeps it"):
            storage.fill_config(claimed.trial_id, config, {})
        assert storage.read_trials(study.study_id)[0].config == {"opt": "1"}

    def test_fill_config_needs_a_running_trial(self, storage: Storage) -> None:
        study = new_study(storage)
        queued = storage.create_trial(study.study_id, QUEUED, {"opt": "adam"}, {})
        done = storage.set_state(add(storage, study.study_id).trial_id, RUNNING, COMPLETE, value=1.0)
        for trial in (queued, done):
            with pytest.raises(StateConflict):
                storage.fill_config(trial.trial_id, {**trial.config, "lr": 0.1}, {})
        assert [t.config for t in storage.read_trials(study.study_id)] == [{"opt": "adam"}, {"x": 0.5}]

"""Hyperparameter changes (panda mode): pending tweaks, their delivery with a report or a poll,
and a fork's changes, as typed rows."""

from __future__ import annotations

from ...records import ConfigChange
from ...storage import Storage
from .support import COMPLETE, PAUSED, QUEUED, RUNNING, TYPED_CONFIG, add, finish, new_study, run_threads


def _tweak(name: str, old, new, source: str = "person") -> ConfigChange:
    return ConfigChange(-1, name, old, new, source)


class ChangeContract:
    """Part of ``StorageConformance``; needs its ``storage`` fixture."""

    def test_a_tweak_waits_for_the_next_report_and_takes_effect_after_it(self, storage: Storage) -> None:
        study = new_study(storage)
        trial, other = add(storage, study.study_id), add(storage, study.study_id)
        assert storage.add_report(trial.trial_id, 0, 1.0).changes is None
        assert storage.request_changes(trial.trial_id, [_tweak("lr", 0.1, 0.01), _tweak("units", 8, 16)])
        pending = storage.read_trials(study.study_id, numbers=[trial.number])[0].changes
        assert [(c.name, c.old, c.new, c.step, c.kind, c.source) for c in pending] == [
            ("lr", 0.1, 0.01, None, "tweak", "person"), ("units", 8, 16, None, "tweak", "person")]
        assert storage.add_report(other.trial_id, 0, 5.0).changes is None  # another trial hears nothing
        answer = storage.add_report(trial.trial_id, 3, 0.5)
        assert answer.changes == {"lr": 0.01, "units": 16} and answer.stop is False
        assert storage.add_report(trial.trial_id, 4, 0.4).changes is None  # delivered once
        stored = storage.read_trials(study.study_id, numbers=[trial.number])[0]
        assert [(c.name, c.step) for c in stored.changes] == [("lr", 4), ("units", 4)]
        assert stored.schedule == [(0, {"x": 0.5}), (4, {"lr": 0.01, "units": 16})]
        assert all(c.trial_number == trial.number and c.created_at is not None for c in stored.changes)

    def test_a_poll_delivers_pending_tweaks_at_the_step_it_names(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        assert storage.poll_trial(trial.trial_id, 0).changes is None
        storage.request_changes(trial.trial_id, [_tweak("lr", 0.1, 0.2, "rule")])
        storage.request_changes(trial.trial_id, [_tweak("lr", 0.2, 0.3, "pbt")])  # the later one wins
        answer = storage.poll_trial(trial.trial_id, 7)
        assert answer.changes == {"lr": 0.3}
        stored = storage.read_trials(study.study_id)[0]
        assert [(c.new, c.step, c.source) for c in stored.changes] == [(0.2, 7, "rule"), (0.3, 7, "pbt")]
        assert stored.schedule_at(6) == {"x": 0.5} and stored.schedule_at(7) == {"x": 0.5, "lr": 0.3}

    def test_only_a_running_or_paused_trial_takes_a_tweak(self, storage: Storage) -> None:
        study = new_study(storage)
        queued = add(storage, study.study_id, QUEUED)
        paused = add(storage, study.study_id)
        paused = storage.set_state(paused.trial_id, RUNNING, PAUSED)
        done = finish(storage, add(storage, study.study_id))
        assert storage.request_changes(queued.trial_id, [_tweak("lr", 1, 2)]) is False
        assert storage.request_changes(done.trial_id, [_tweak("lr", 1, 2)]) is False
        assert storage.request_changes(paused.trial_id, [_tweak("lr", 1, 2)]) is True
        got = {t.number: len(t.changes) for t in storage.read_trials(study.study_id)}
        assert got == {queued.number: 0, paused.number: 1, done.number: 0}

    def test_a_stop_and_a_tweak_sent_together_both_arrive(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        storage.request_changes(trial.trial_id, [_tweak("lr", 0.1, 0.05)])
        storage.request_stop(trial.trial_id)
        answer = storage.add_report(trial.trial_id, 2, 1.0)
        assert answer.stop is True and answer.changes == {"lr": 0.05}
        ended = finish(storage, trial, COMPLETE, 1.0)
        assert [(c.name, c.step) for c in ended.changes] == [("lr", 3)]

    def test_change_values_keep_their_types(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        rows = [_tweak(name, None, value) for name, value in TYPED_CONFIG.items()]
        storage.request_changes(trial.trial_id, rows)
        delivered = storage.add_report(trial.trial_id, 0, 1.0).changes
        assert delivered is not None
        for name, value in TYPED_CONFIG.items():
            assert delivered[name] == value and type(delivered[name]) is type(value), name
        stored = storage.read_trials(study.study_id)[0]
        assert [(c.name, c.new, type(c.new)) for c in stored.changes] == [
            (n, v, type(v)) for n, v in TYPED_CONFIG.items()]

    def test_a_forks_changes_are_stored_in_force(self, storage: Storage) -> None:
        study = new_study(storage)
        child = add(storage, study.study_id, QUEUED)
        storage.add_changes(child.trial_id, [
            ConfigChange(child.number, "lr", 0.1, 0.01, "person", 13, "fork")])
        stored = storage.read_trials(study.study_id)[0]
        got = [(c.name, c.old, c.new, c.step, c.kind) for c in stored.changes]
        assert got == [("lr", 0.1, 0.01, 13, "fork")]
        assert stored.schedule == [(13, {"x": 0.5})]
        assert storage.add_report(child.trial_id, 0, 1.0).changes is None  # nothing pending

    def test_deleting_a_study_deletes_its_changes(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        storage.request_changes(trial.trial_id, [_tweak("lr", 1, 2)])
        storage.delete_study("s")
        again = new_study(storage)
        assert storage.read_trials(again.study_id) == []
        fresh = add(storage, again.study_id)
        assert storage.read_trials(again.study_id, numbers=[fresh.number])[0].changes == []

    def test_tweaks_racing_reports_are_each_delivered_once(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        heard: list[dict] = []

        def role(k: int) -> None:  # two tweakers and one reporter
            if k < 2:
                for i in range(10):
                    storage.request_changes(trial.trial_id, [_tweak(f"t{k}_{i}", None, i)])
                return
            for step in range(40):
                changes = storage.add_report(trial.trial_id, step, float(step)).changes
                if changes:
                    heard.append(changes)

        run_threads(role, 3)
        heard.append(storage.poll_trial(trial.trial_id, 100).changes or {})
        names = [name for batch in heard for name in batch]
        assert sorted(names) == sorted(f"t{k}_{i}" for k in (0, 1) for i in range(10))
        stored = storage.read_trials(study.study_id)[0]
        assert all(c.step is not None for c in stored.changes) and len(stored.changes) == 20

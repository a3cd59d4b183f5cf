"""A person's Markdown notes on studies and trials: set, replaced, removed, read back with the
trials, carried by ``import_trial`` and gone with their study."""

from __future__ import annotations

import dataclasses

import pytest

from ...records import MAX_NOTE
from ...storage import Storage, StudyNotFound
from .support import COMPLETE, add, finish, new_study, run_threads


class NoteContract:
    """Part of ``StorageConformance``; needs its ``storage`` fixture."""

    def test_a_study_note_and_trial_notes_are_set_replaced_and_removed(self, storage: Storage) -> None:
        study = new_study(storage)
        other = new_study(storage, "other")
        first, second = add(storage, study.study_id), add(storage, study.study_id)
        assert storage.read_notes(study.study_id) == []
        made = storage.set_note(study.study_id, "# Plan\n\n*wide* search first")
        assert made is not None and made.trial_number is None and made.updated_at is not None
        storage.set_note(study.study_id, "diverged <b>early</b>", trial_number=second.number)
        storage.set_note(other.study_id, "another study's")
        notes = storage.read_notes(study.study_id)
        assert [(n.trial_number, n.text) for n in notes] == [
            (None, "# Plan\n\n*wide* search first"), (second.number, "diverged <b>early</b>")]
        assert all(n.updated_at is not None for n in notes)
        read = {t.number: t.note for t in storage.read_trials(study.study_id)}
        assert read == {first.number: None, second.number: "diverged <b>early</b>"}
        finish(storage, second, COMPLETE, 0.5)  # a finished trial keeps its note
        assert storage.read_trials(study.study_id, after=0)[0].note == "diverged <b>early</b>"
        storage.set_note(study.study_id, "replaced", trial_number=second.number)
        storage.set_note(study.study_id, "plan B")
        assert [(n.trial_number, n.text) for n in storage.read_notes(study.study_id)] == [
            (None, "plan B"), (second.number, "replaced")]
        assert storage.set_note(study.study_id, "  \n", trial_number=second.number) is None  # blank: removed
        assert storage.read_trials(study.study_id, numbers=[1], after=1)[0].note is None
        assert [n.trial_number for n in storage.read_notes(study.study_id)] == [None]
        assert [n.text for n in storage.read_notes(other.study_id)] == ["another study's"]

    def test_bad_notes_are_refused_before_anything_is_stored(self, storage: Storage) -> None:
        study = new_study(storage)
        add(storage, study.study_id)
        with pytest.raises(ValueError, match="no trial number 7"):
            storage.set_note(study.study_id, "x", trial_number=7)
        with pytest.raises(ValueError, match="must be a str"):
            storage.set_note(study.study_id, 42)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=f"over the limit of {MAX_NOTE}"):
            storage.set_note(study.study_id, "x" * (MAX_NOTE + 1))
        with pytest.raises(StudyNotFound):
            storage.set_note(study.study_id + 100, "x")
        assert storage.read_notes(study.study_id) == []
        assert storage.read_trials(study.study_id)[0].note is None

    def test_notes_travel_with_imported_trials_and_go_with_their_study(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = finish(storage, add(storage, study.study_id), COMPLETE, 0.5)
        storage.set_note(study.study_id, "kept", trial_number=trial.number)
        storage.set_note(study.study_id, "the study's")
        read = storage.read_trials(study.study_id)[0]
        copied = storage.import_trial(study.study_id, dataclasses.replace(read))
        assert copied.note == "kept"
        assert storage.read_trials(study.study_id, after=0)[0].note == "kept"
        assert [n.trial_number for n in storage.read_notes(study.study_id)] == [None, 0, 1]
        storage.delete_study("s")
        again = new_study(storage)
        assert storage.read_notes(again.study_id) == []

    def test_writers_racing_on_one_note_leave_one_of_theirs(self, storage: Storage) -> None:
        study = new_study(storage)
        trial = add(storage, study.study_id)
        texts = [f"writer {i}" for i in range(6)]
        def write(i: int) -> None:
            storage.set_note(study.study_id, texts[i], trial_number=trial.number)

        run_threads(write, len(texts))
        notes = storage.read_notes(study.study_id)
        assert len(notes) == 1 and notes[0].text in texts
        assert storage.read_trials(study.study_id)[0].note == notes[0].text

"""A study's checkpoint policy, driver side: which slot each trial gets, which checkpoint it starts
from, recording the references workers announce, and pruning old ones."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ..checkpoints.files import CheckpointStore, default_root, register_store, slot, store_for
from ..checkpoints.points import prunable, resume_point
from ..records import CheckpointRef, CheckpointSlot
from ..trial import Trial

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

__all__ = ["Checkpointing"]

logger = logging.getLogger("shoal")


class Checkpointing:
    """One study's checkpoints, driver side: the slot each call gets, the references storage keeps,
    and pruning (the latest ``keep`` per member, never one a segment starts or resumes from)."""

    def __init__(self, study: Study, root: CheckpointStore | str | os.PathLike[str] | None) -> None:
        if root is not None and not isinstance(root, CheckpointStore):
            root = CheckpointStore(root)  # validates now, before any work
        if root is not None:
            register_store(root)
        self._study = study
        self._given = None if root is None else root.root
        self.keep = 2 if root is None else root.keep
        self._root: str | None = None
        #: where the trials this driver started resume from (absent: from scratch)
        self._starts: dict[int, CheckpointRef] = {}

    @property
    def root(self) -> str:
        if self._root is None:
            given = self._given or default_root(self._study.storage.url, self._study.name)
            self._root = store_for(given).root
        return self._root

    @property
    def store(self) -> CheckpointStore:
        return store_for(self.root)

    def begin(
        self, record: Trial, *, start: CheckpointRef | None = None, promoted: bool = False,
        queued: bool = False,
    ) -> None:
        """Fix the checkpoint a trial this driver starts resumes from: ``start`` when a scheduler's plan
        names one; for a trial promoted from PAUSED (it runs again under its own number) its own latest
        save; for a re-run of a failed or stale trial the last checkpoint that one saved, else where
        that one started; for a ``queued`` trial (enqueued, re-queued or forked) where its lineage says. A
        fresh trial starts from scratch (nothing is read)."""
        if start is None and (promoted or queued or record.requeued_from is not None):
            start = resume_point(
                record.number,
                self._study._log.by_number,
                self._study.storage.read_checkpoints(self._study.id),
                self._study.storage.read_lineage(self._study.id),
                include_own=promoted,
            )
        if start is not None:
            self._starts[record.number] = start

    def slot_for(self, record: Trial) -> CheckpointSlot:
        """Where trial ``record`` saves, and the checkpoint it resumes from."""
        return slot(self.root, self._study.name, record.number, self._starts.get(record.number))

    def record(self, trial: Trial, step: int, uri: str) -> None:
        """Keep the reference of a checkpoint a trial saved, then prune old ones."""
        self._study.storage.add_checkpoint(trial.trial_id, step, uri)
        self.prune()

    def prune(self) -> list[str]:
        """Delete all but the latest ``keep`` checkpoints of each member (a trial and its re-runs,
        or a PBT member's segments), keeping every one a segment starts or resumes from."""
        study, storage = self._study, self._study.storage
        study_id = study.id
        refs = storage.read_checkpoints(study_id)
        if len(refs) <= self.keep:
            return []
        study.refresh()
        trials = study._log.by_number
        lineage = storage.read_lineage(study_id)
        doomed = prunable(refs, lineage, trials, self.keep, protect=self._starts.values())
        if doomed:
            storage.delete_checkpoints(study_id, doomed)
            for uri in doomed:
                try:
                    self.store.delete(uri)
                except OSError as exc:  # the store may not be reachable from the driver
                    logger.warning("checkpoint %s not deleted: %s", uri, exc)
        return doomed

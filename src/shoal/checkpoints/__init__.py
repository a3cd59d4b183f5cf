"""Checkpoints: what an objective saves with ``trial.save(obj)`` and resumes with ``trial.load()``.

``files`` reads and writes the store (a local folder or an fsspec URL), ``points`` decides where a
line of training resumes and what pruning may delete; the study's policy (which slot a trial gets,
recording references, pruning) lives in ``shoal.study.checkpointing``.
"""

from __future__ import annotations

from ..errors import CheckpointError
from ..records import CheckpointRef, CheckpointSlot
from .files import CheckpointStore, read_checkpoint, reading_dir, store_for, write_checkpoint, writing_dir
from .points import prunable, resume_point

__all__ = [
    "CheckpointError",
    "CheckpointRef",
    "CheckpointSlot",
    "CheckpointStore",
    "read_checkpoint",
    "write_checkpoint",
    "reading_dir",
    "writing_dir",
    "store_for",
    "resume_point",
    "prunable",
]

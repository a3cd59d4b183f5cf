"""Checkpoints: what an objective saves with ``trial.save(obj)`` and resumes with ``trial.load()``.

The store is a directory: a local path, or any fsspec URL the user gives (``s3://bucket/run``; fsspec
is imported only then). Storage keeps a typed reference per checkpoint (trial, step, uri, created);
the files live in the store under ``<study>/<trial number>/``.

Both sides of an executor use this module: the driver hands each call a ``CheckpointSlot`` (where its
saves go, which checkpoint it starts from), the worker reads and writes the store directly (so big
models never travel through the driver) and announces each save; the driver records the reference
and prunes old ones. A pickled checkpoint carries a header with its length and SHA-256, so a truncated
or corrupt file is refused with a clear ``CheckpointError`` rather than unpickled into garbage; a
directory checkpoint (``trial.checkpoint_dir``) is complete only once its marker file is written.

Imports only the standard library at module level (workers load it on their first save).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "Checkpointing",
    "CheckpointError",
    "CheckpointRef",
    "CheckpointSlot",
    "CheckpointStore",
    "read_checkpoint",
    "write_checkpoint",
]

_MAGIC = b"SHOALCK1"
_HEADER = struct.Struct(">8sQ32s")  # magic, payload length, sha256 of the payload
_DONE = ".shoal-complete"  # written last into a directory checkpoint


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupt or cannot be read: the trial fails, the study goes on."""


@dataclass(frozen=True)
class CheckpointRef:
    """A stored checkpoint: the trial that saved it, at which step, where it is, and when."""

    trial_number: int
    step: int
    uri: str
    created_at: datetime | None = None

    @property
    def is_dir(self) -> bool:
        return not self.uri.endswith(".pkl")


@dataclass(frozen=True)
class CheckpointSlot:
    """What one call needs to save and load: the store, this trial's folder in it, its start."""

    root: str
    folder: str
    start: str | None = None
    start_step: int | None = None
    start_trial: int | None = None


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _local(path: str) -> str:
    return path[len("file://"):] if path.startswith("file://") else path


class CheckpointStore:
    """A directory of checkpoints: a local path, or an fsspec URL (``pip install fsspec`` and the
    filesystem's own package, e.g. ``s3fs``). ``keep``: how many checkpoints pruning leaves per member
    (a trial and its re-runs, or a PBT member), besides any a segment starts or resumes from."""

    def __init__(self, root: str | os.PathLike[str], *, keep: int = 2) -> None:
        if not isinstance(root, (str, os.PathLike)) or not str(root).strip():
            raise ValueError(
                f"checkpoints must be a directory path, an fsspec URL such as 's3://bucket/checkpoints' "
                f"or a shoal.checkpoints.CheckpointStore, got {root!r}"
            )
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(
                f"CheckpointStore: keep must be an int >= 1 (checkpoints kept per member), got {keep!r}"
            )
        self.keep = keep
        text = str(root).rstrip("/")
        self.remote = _is_url(text)
        self.root = text if self.remote else os.path.abspath(_local(text))
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        """The fsspec filesystem of a URL store (imported on first use)."""
        if self._fs is None:
            try:
                import fsspec
            except ImportError:
                raise ImportError(
                    f"checkpoint store {self.root!r} is a URL, which needs fsspec: "
                    "pip install 'shoal[fsspec]' (plus the filesystem's package, e.g. s3fs)"
                ) from None
            self._fs, _ = fsspec.core.url_to_fs(self.root)
        return self._fs

    def join(self, *parts: str) -> str:
        return "/".join([self.root, *parts]) if self.remote else os.path.join(self.root, *parts)

    # -- bytes -----------------------------------------------------------------------------------
    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write a file whole: a reader never sees half of it (rename on a local disk)."""
        if self.remote:
            self.fs.pipe_file(uri, data)
            return
        folder = os.path.dirname(uri)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, uri)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def read_bytes(self, uri: str) -> bytes:
        if self.remote:
            return self.fs.cat_file(uri)
        with open(uri, "rb") as f:
            return f.read()

    def exists(self, uri: str) -> bool:
        return self.fs.exists(uri) if self.remote else os.path.exists(uri)

    def delete(self, uri: str) -> None:
        """Remove a checkpoint file or folder; one already gone is fine."""
        try:
            if self.remote:
                self.fs.rm(uri, recursive=True)
            elif os.path.isdir(uri):
                shutil.rmtree(uri)
            else:
                os.unlink(uri)
        except FileNotFoundError:
            pass

    def __repr__(self) -> str:
        return f"CheckpointStore({self.root!r})"


_STORES: dict[str, CheckpointStore] = {}


def store_for(root: str) -> CheckpointStore:
    """One store object per root per process (an fsspec filesystem is costly to open)."""
    if root not in _STORES:
        _STORES[root] = CheckpointStore(root)
    return _STORES[root]


def _folder_name(study_name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in study_name)
    digest = hashlib.sha1(study_name.encode("utf-8")).hexdigest()[:8]
    return f"{safe[:60]}-{digest}"


def slot(root: str, study_name: str, number: int, start: CheckpointRef | None) -> CheckpointSlot:
    """The slot of trial ``number``: saves go to ``<root>/<study>/<number>/``."""
    store = store_for(root)
    return CheckpointSlot(
        root=store.root,
        folder=store.join(_folder_name(study_name), f"{number:06d}"),
        start=None if start is None else start.uri,
        start_step=None if start is None else start.step,
        start_trial=None if start is None else start.trial_number,
    )


# -- the worker side: writing and reading --------------------------------------------------------
def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"save: step must be an int >= 0, got {step!r}")
    return step


def write_checkpoint(slot_: CheckpointSlot, obj: Any, step: int) -> str:
    """Pickle ``obj`` (cloudpickle) into the slot's folder as ``step-<step>.pkl``; return its uri."""
    import cloudpickle

    step = _check_step(step)
    try:
        payload = cloudpickle.dumps(obj)
    except Exception as exc:  # noqa: BLE001 - say what cannot be saved
        raise ValueError(
            f"save: the object cannot be pickled ({type(exc).__name__}: {exc}); save its state "
            "(e.g. model.state_dict()) or use trial.checkpoint_dir() and write files yourself"
        ) from None
    header = _HEADER.pack(_MAGIC, len(payload), hashlib.sha256(payload).digest())
    store = store_for(slot_.root)
    uri = store.join(slot_.folder, f"step-{step:09d}.pkl") if store.remote else os.path.join(
        slot_.folder, f"step-{step:09d}.pkl"
    )
    store.write_bytes(uri, header + payload)
    return uri


def read_checkpoint(root: str, uri: str, *, trial: int | None = None) -> Any:
    """The object a pickled checkpoint holds; ``CheckpointError`` naming the file if it is missing,
    truncated or corrupt."""
    import cloudpickle

    whose = "" if trial is None else f" (saved by trial {trial})"
    store = store_for(root)
    try:
        data = store.read_bytes(uri)
    except FileNotFoundError:
        raise CheckpointError(
            f"checkpoint {uri}{whose} is missing: it was deleted or the store {root!r} is not "
            "shared with this worker"
        ) from None
    except OSError as exc:
        raise CheckpointError(f"checkpoint {uri}{whose} cannot be read: {exc}") from None
    if len(data) < _HEADER.size:
        raise CheckpointError(f"checkpoint {uri}{whose} is corrupt: {len(data)} bytes, too short")
    magic, length, digest = _HEADER.unpack_from(data)
    payload = data[_HEADER.size:]
    if magic != _MAGIC:
        raise CheckpointError(f"checkpoint {uri}{whose} is corrupt: not a shoal checkpoint file")
    if len(payload) != length or hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(
            f"checkpoint {uri}{whose} is corrupt: {len(payload)} of {length} bytes, checksum mismatch"
        )
    try:
        return cloudpickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - e.g. a class the worker cannot import
        raise CheckpointError(
            f"checkpoint {uri}{whose} cannot be unpickled ({type(exc).__name__}: {exc})"
        ) from None


@contextmanager
def writing_dir(slot_: CheckpointSlot, step: int) -> Iterator[tuple[Path, str]]:
    """A local folder to write a checkpoint into; on a clean exit it becomes ``step-<step>/``.

    Local stores: the folder is in the store itself and is renamed into place. URL stores: files are
    written to a temporary local folder, then uploaded.
    """
    step = _check_step(step)
    store = store_for(slot_.root)
    name = f"step-{step:09d}"
    if store.remote:
        uri = store.join(slot_.folder, name)
        with tempfile.TemporaryDirectory(prefix="shoal-ckpt-") as tmp:
            yield Path(tmp), uri
            (Path(tmp) / _DONE).write_text("ok")
            store.delete(uri)
            store.fs.put(tmp, uri, recursive=True)
        return
    uri = os.path.join(slot_.folder, name)
    os.makedirs(slot_.folder, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=slot_.folder, prefix=".tmp-")
    try:
        yield Path(tmp), uri
        Path(tmp, _DONE).write_text("ok")
        if os.path.exists(uri):
            shutil.rmtree(uri)
        os.replace(tmp, uri)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def reading_dir(root: str, uri: str, *, trial: int | None = None) -> Path:
    """A local path to a directory checkpoint (downloaded first from a URL store)."""
    whose = "" if trial is None else f" (saved by trial {trial})"
    store = store_for(root)
    if store.remote:
        if not store.exists(store.join(uri, _DONE) if not uri.endswith("/") else uri + _DONE):
            raise CheckpointError(f"checkpoint {uri}{whose} is missing or was not written completely")
        local = Path(tempfile.mkdtemp(prefix="shoal-ckpt-"))
        store.fs.get(uri, str(local), recursive=True)
        return local
    if not os.path.isdir(uri):
        raise CheckpointError(
            f"checkpoint {uri}{whose} is missing: it was deleted or the store {root!r} is not "
            "shared with this worker"
        )
    if not os.path.exists(os.path.join(uri, _DONE)):
        raise CheckpointError(f"checkpoint {uri}{whose} is incomplete: its writer died while saving it")
    return Path(uri)


# -- the driver side: slots, references, pruning -----------------------------------------------
def _default_root(storage_url: str, study_name: str) -> str:
    prefix, sep, path = storage_url.partition(":///")
    if prefix.startswith("sqlite") and sep and path:
        return os.path.abspath(path.split("?")[0]) + "-checkpoints"
    # created only on the first save; one folder per process and study
    return os.path.join(tempfile.gettempdir(), f"shoal-checkpoints-{os.getpid()}-{_folder_name(study_name)}")


class Checkpointing:
    """One study's checkpoints, driver side: the slot each call gets, the references storage keeps,
    and pruning (the latest ``keep`` per member, never one a segment starts or resumes from)."""

    def __init__(self, study: Any, root: CheckpointStore | str | os.PathLike[str] | None) -> None:
        if root is not None and not isinstance(root, CheckpointStore):
            root = CheckpointStore(root)  # validates now, before any work
        if root is not None:
            _STORES.setdefault(root.root, root)
        self._study = study
        self._given = None if root is None else root.root
        self.keep = 2 if root is None else root.keep
        self._root: str | None = None
        #: starts of trials this driver created (PBT segments): no storage read at submit
        self._starts: dict[int, CheckpointRef | None] = {}

    @property
    def root(self) -> str:
        if self._root is None:
            given = self._given or _default_root(self._study.storage.url, self._study.name)
            self._root = store_for(given).root
        return self._root

    @property
    def store(self) -> CheckpointStore:
        return store_for(self.root)

    def remember_start(self, number: int, start: CheckpointRef | None) -> None:
        self._starts[number] = start

    def slot_for(self, record: Any) -> CheckpointSlot:
        """Where trial ``record`` saves, and the checkpoint it resumes from."""
        return slot(self.root, self._study.name, record.number, self.start_of(record))

    def start_of(self, record: Any) -> CheckpointRef | None:
        """The checkpoint a trial starts from: its segment's start (PBT), its own latest save when a
        promoting scheduler resumes it from PAUSED, or for a re-run of a failed or stale trial the last
        checkpoint that one saved (else where that one started)."""
        if record.number in self._starts:
            return self._starts[record.number]
        scheduler = self._study.scheduler
        creates = getattr(scheduler, "creates_trials", False)
        pauses = getattr(scheduler, "pauses", False)
        if record.requeued_from is None and not creates and not pauses:
            return None
        study_id = self._study._record.study_id
        return resume_point(
            record.number,
            self._study._log.by_number,
            self._study.storage.read_checkpoints(study_id),
            self._study.storage.read_lineage(study_id),
            # a trial promoted from PAUSED runs again under its own number: it resumes from its own saves
            include_own=pauses and not creates,
        )

    def record(self, trial: Any, step: int, uri: str) -> None:
        """Keep the reference of a checkpoint a trial saved, then prune old ones."""
        self._study.storage.add_checkpoint(trial.trial_id, step, uri)
        self.prune()

    def prune(self) -> list[str]:
        """Delete all but the latest ``keep`` checkpoints of each member (a trial and its re-runs,
        or a PBT member's segments), keeping every one a segment starts or resumes from."""
        study, storage = self._study, self._study.storage
        study_id = study._record.study_id
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
                    import logging

                    logging.getLogger("shoal").warning("checkpoint %s not deleted: %s", uri, exc)
        return doomed


def _root_of(number: int, trials: dict[int, Any]) -> int:
    """The first trial of a chain of re-runs (``requeued_from``)."""
    seen = set()
    while number in trials and trials[number].requeued_from is not None and number not in seen:
        seen.add(number)
        number = trials[number].requeued_from
    return number


def resume_point(
    number: int,
    trials: dict[int, Any],
    refs: list[CheckpointRef],
    lineage: list[Any],
    *,
    include_own: bool = True,
) -> CheckpointRef | None:
    """Where a trial's line of training stands: the latest checkpoint it (or a run it repeats) saved,
    else the checkpoint its segment started from, else None. ``include_own=False`` skips the trial's
    own saves (the start of a re-run that has saved nothing yet)."""
    chain = [number]
    while chain[-1] in trials and trials[chain[-1]].requeued_from is not None and len(chain) < 1000:
        chain.append(trials[chain[-1]].requeued_from)
    members = set(chain if include_own else chain[1:])
    saved = [r for r in refs if r.trial_number in members]
    if saved:
        return max(saved, key=lambda r: (r.step, r.trial_number))
    by_trial = {rec.trial_number: rec for rec in lineage}
    start = by_trial.get(chain[-1])
    if start is None or start.checkpoint is None or start.parent is None:
        return None
    return CheckpointRef(start.parent, start.step, start.checkpoint)


def prunable(
    refs: list[CheckpointRef],
    lineage: list[Any],
    trials: dict[int, Any],
    keep: int,
    protect: Any = (),
) -> list[str]:
    """The uris pruning may delete (pure): beyond the latest ``keep`` of each member, and neither the
    start of any segment whose member has not moved on nor the resume point of a member's latest
    segment, nor in ``protect``."""
    member_of = {rec.trial_number: rec.member for rec in lineage}

    def group(number: int) -> tuple[str, int]:
        root = _root_of(number, trials)
        return ("member", member_of[root]) if root in member_of else ("trial", root)

    kept: set[str] = {r.uri for r in protect if r is not None}
    latest: dict[int, Any] = {}
    for rec in lineage:
        if rec.member not in latest or rec.segment > latest[rec.member].segment:
            latest[rec.member] = rec
    for rec in latest.values():
        if rec.checkpoint:
            kept.add(rec.checkpoint)
        point = resume_point(rec.trial_number, trials, refs, lineage)
        if point is not None:
            kept.add(point.uri)
    for number, trial in trials.items():  # unfinished trials keep where they start
        if not trial.state.finished:
            point = resume_point(number, trials, refs, lineage, include_own=False)
            if point is not None:
                kept.add(point.uri)
    groups: dict[tuple[str, int], list[CheckpointRef]] = {}
    for ref in refs:
        groups.setdefault(group(ref.trial_number), []).append(ref)
    doomed = []
    for members in groups.values():
        members.sort(key=lambda r: (r.step, r.trial_number), reverse=True)
        doomed += [r.uri for r in members[keep:] if r.uri not in kept]
    return doomed

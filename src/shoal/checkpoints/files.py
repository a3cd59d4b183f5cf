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
from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from ..records import CheckpointRef, CheckpointSlot

__all__ = [
    "CheckpointStore",
    "store_for",
    "register_store",
    "slot",
    "default_root",
    "read_checkpoint",
    "write_checkpoint",
    "writing_dir",
    "reading_dir",
]

_MAGIC = b"SHOALCK1"
_HEADER = struct.Struct(">8sQ32s")  # magic, payload length, sha256 of the payload
_DONE = ".shoal-complete"  # written last into a directory checkpoint


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


def register_store(store: CheckpointStore) -> None:
    """Use ``store`` (with its options) for its root in this process, unless one is already there."""
    _STORES.setdefault(store.root, store)


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


def default_root(storage_url: str, study_name: str) -> str:
    prefix, sep, path = storage_url.partition(":///")
    if prefix.startswith("sqlite") and sep and path:
        return os.path.abspath(path.split("?")[0]) + "-checkpoints"
    # created only on the first save; one folder per process and study
    return os.path.join(tempfile.gettempdir(), f"shoal-checkpoints-{os.getpid()}-{_folder_name(study_name)}")


"""The checks of single run-config values: storage, checkpoint store, Dask address, numbers, names.

Each returns the value (or raises ``ConfigError`` naming the key); ``RunConfig.from_dict`` calls them.
"""

from __future__ import annotations

import builtins
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..schedulers.base import Scheduler
from ..space import import_object

__all__ = ["DEFAULT_STORAGE", "STORAGE_ENV", "default_storage", "check_checkpoints", "check_dask_address"]

#: Where studies live when neither ``--storage``, the config nor ``SHOAL_STORAGE`` says otherwise.
DEFAULT_STORAGE = "sqlite:///shoal.db"
STORAGE_ENV = "SHOAL_STORAGE"
#: ``scheme://host:port`` as ``dask scheduler`` prints it (tcp, tls, inproc, ucx, ws, wss).
_DASK_ADDRESS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def default_storage() -> str:
    """``$SHOAL_STORAGE`` if set, else ``sqlite:///shoal.db`` (relative to the working directory)."""
    return os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


def check_checkpoints(value: Any) -> str:
    """A checkpoint store as a config gives it: a folder (relative to the working directory, like a
    SQLite storage path) or an fsspec URL whose filesystem is installed. Returns it unchanged."""
    from ..checkpoints import CheckpointStore

    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"checkpoints: must be a folder path or a URL such as 's3://bucket/run', got {value!r}"
        )
    if CheckpointStore(value).remote:
        protocol = value.split("://", 1)[0]
        try:
            import fsspec

            fsspec.get_filesystem_class(protocol)
        except ImportError as exc:
            raise ConfigError(
                f"checkpoints: {value!r} is a URL, which needs fsspec and the filesystem's package "
                f"(pip install 'shoal[fsspec]'; {exc})"
            ) from None
        except ValueError as exc:
            raise ConfigError(f"checkpoints: {value!r}: {exc}") from None
    return value


def _default_store_is_shared(storage: str, dask: str | None) -> bool:
    """Whether the study's default checkpoint store (next to a SQLite file) serves every run of it.

    Other storages put checkpoints in a temporary folder of each ``shoal run`` process, and Dask
    workers on other machines cannot reach a folder of the driver's.
    """
    prefix, sep, path = storage.partition(":///")
    database = path.split("?")[0]
    return dask is None and prefix.startswith("sqlite") and bool(sep) and database not in ("", ":memory:")


def _check_scheduler_fits(
    spec: Any, scheduler: Scheduler | None, checkpoints: str | None, storage: str, dask: str | None
) -> None:
    """A scheduler that pauses trials and resumes them from checkpoints (``pbt``, ``asha`` or
    ``hyperband`` with ``mode: promote``) needs a store every run reaches."""
    if scheduler is None or not scheduler.needs_checkpoints or checkpoints is not None:
        return
    if _default_store_is_shared(storage, dask):
        return
    name = spec if isinstance(spec, str) else spec.get("name")
    where = "on a Dask cluster" if dask is not None else f"with storage {storage!r}"
    raise ConfigError(
        f"checkpoints: scheduler {name!r} resumes trials from checkpoints, and {where} the default "
        "store is a folder that other drivers or workers cannot reach; set checkpoints: to a folder "
        "every worker shares, or a URL such as 's3://bucket/run'"
    )


def _exception_class(name: Any) -> type[BaseException]:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"catch: expected exception names like ValueError, got {name!r}")
    obj = getattr(builtins, name, None) if ":" not in name else None
    if obj is None and ":" in name:
        try:
            obj = import_object(name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"catch: cannot import {name!r} ({exc})") from None
        except (Exception, SystemExit) as exc:  # the module failed while importing
            raise ConfigError(
                f"catch: importing {name!r} raised {type(exc).__name__} ({exc}); fix the module"
            ) from None
    if not (isinstance(obj, type) and issubclass(obj, BaseException)):
        raise ConfigError(
            f"catch: {name!r} is not an exception class; give a builtin name such as ValueError "
            "or 'module:ExceptionClass'"
        )
    return obj


def _add_import_paths(base_dir: str | os.PathLike[str] | None) -> None:
    """Put the working directory and the config's directory at the front of ``sys.path``."""
    for directory in (os.getcwd(), None if base_dir is None else str(Path(base_dir).resolve())):
        if directory is not None and directory not in sys.path:
            sys.path.insert(0, directory)


def _positive_int(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}: must be a positive integer, got {value!r}")
    return value


def _seconds(key: str, value: Any) -> float | None:
    """A positive, finite number of seconds; YAML 1.1 reads ``3e2`` as a string, so strings parse."""
    if value is None:
        return None
    number = value
    if isinstance(number, str):
        try:
            number = float(number)
        except ValueError:
            pass
    if isinstance(number, int) and not isinstance(number, bool) and number > 10**300:
        number = math.inf  # an integer beyond any float: not a finite number of seconds
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not (math.isfinite(number) and number > 0)
    ):
        shown = f"a {len(str(value))}-digit number" if number is math.inf else repr(value)
        raise ConfigError(f"{key}: must be a number of seconds > 0, got {shown}")
    return float(number)


def check_dask_address(address: Any) -> str:
    """A Dask scheduler address with its scheme: ``tcp://10.0.0.5:8786``, ``tls://host:8786``.

    Raises ``ConfigError`` (its message starts with ``dask:``) for anything else.
    """
    if not (isinstance(address, str) and _DASK_ADDRESS.fullmatch(address)):
        raise ConfigError(
            f"dask: must be a Dask scheduler address such as 'tcp://10.0.0.5:8786' (what 'dask "
            f"scheduler' prints), got {address!r}"
        )
    return address

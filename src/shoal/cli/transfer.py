"""Moving studies between storages: ``export`` (a study as JSON lines on stdout), ``import`` (such a
file into a storage) and ``copy`` (both in one command). The format: ``shoal.storage.transfer``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import default_storage
from ..errors import CLIError
from ..storage import Storage, StudyExists, StudyNotFound
from ..storage.transfer import StudyExport, export_lines, import_study, read_export
from ._output import esc, new_console
from ._stored import check_writable, open_storage, storage_url


def _exported(storage: Storage, name: str) -> list[str]:
    try:
        return list(export_lines(storage, name))
    except StudyNotFound as exc:
        raise CLIError(str(exc)) from None


def cmd_export(args: argparse.Namespace) -> int:
    storage = open_storage(storage_url(args), must_exist=True, read_only=True)
    lines = _exported(storage, args.study)
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


def _read_file(path: str) -> StudyExport:
    if path == "-":
        return read_export(sys.stdin, "stdin")
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"{path}: no such file; make one with 'shoal export STUDY > {path}'")
    try:
        with file.open(encoding="utf-8") as handle:
            return read_export(handle, path)
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a shoal study export (not UTF-8 text); make one with "
                       "'shoal export STUDY > FILE'") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _write(export: StudyExport, url: str, name: str | None, command: str) -> int:
    """Create the study in the storage at ``url``; exit 2 naming ``--as`` when the name is taken."""
    if name is not None and not name.strip():
        raise CLIError("--as: expected a study name, got an empty one")
    check_writable(url, command)
    target = open_storage(url, must_exist=False)
    wanted = export.name if name is None else name
    try:
        record = import_study(target, export, wanted)
    except StudyExists:
        raise CLIError(f"study {wanted!r} already exists in {url}; import it under another name with "
                       "--as NEW_NAME (or delete the old one with 'shoal delete')") from None
    except ValueError as exc:  # something the storage refuses (nothing is left behind)
        raise CLIError(f"cannot import study {wanted!r} into {url}: {exc}") from None
    new_console().print(
        f"imported study {esc(record.name)!r} ({len(export.trials)} trials) into {esc(url)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    try:
        export = _read_file(args.file)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return _write(export, storage_url(args), args.as_name, "import")


def cmd_copy(args: argparse.Namespace) -> int:
    source_url = args.source or default_storage()
    source = open_storage(source_url, must_exist=True, read_only=True)
    lines = _exported(source, args.study)
    try:
        export = read_export(lines, f"study {args.study!r} of {source_url}")
    except ValueError as exc:  # pragma: no cover - what shoal wrote, it reads
        raise CLIError(str(exc)) from None
    return _write(export, args.target, args.as_name, "copy")

"""The analysis commands: ``report`` (a self-contained HTML file) and ``importance``."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import CLIError
from ._output import esc, new_console, new_table
from ._stored import load_study


def _study_data(args: argparse.Namespace):
    """The stored study as the analysis reads it (nothing written to storage)."""
    from ..analysis._data import StudyData

    storage, record, trials = load_study(args)
    try:
        return StudyData.from_record(record, trials, storage)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def cmd_report(args: argparse.Namespace) -> int:
    from ..analysis.report import check_report_path, write_report

    try:
        check_report_path(args.output)  # before the study is read
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    data = _study_data(args)
    try:
        path = write_report(data, args.output)
    except (ImportError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    new_console().print(f"wrote the report of study {esc(data.name)!r} ({len(data.trials)} trials) to "
                        f"{esc(path)}")
    return 0


def cmd_importance(args: argparse.Namespace) -> int:
    from ..analysis.importance import importance

    data = _study_data(args)
    try:
        result = importance(data, method=args.method)
    except (ImportError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        json.dump(result.to_dict(), sys.stdout)
        sys.stdout.write("\n")
        return 0
    table = new_table("#", "dimension", "share", title=f"importance: {esc(data.name)} ({result.method}, "
                      f"{result.n_trials} completed trials)")
    for rank, (name, share) in enumerate(result.items(), 1):
        table.add_row(str(rank), esc(name), f"{share:.1%}")
    new_console().print(table)
    return 0

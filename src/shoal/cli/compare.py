"""``shoal compare A B ...``: 2 to 5 studies of one space side by side in the terminal."""

from __future__ import annotations

import argparse

from ..errors import CLIError
from ..storage import StudyNotFound
from ._output import esc, fmt, new_console, new_table
from ._stored import open_storage, storage_url


def parse_budgets(text: str) -> list[int]:
    """``--budgets 8,16,32``: positive trial counts."""
    try:
        budgets = [int(part) for part in text.split(",")]
    except ValueError:
        budgets = []
    if not budgets or min(budgets) < 1:
        raise argparse.ArgumentTypeError(f"expected trial counts such as 8,16,32, got {text!r}")
    return sorted(set(budgets))


def _default_budgets(longest: int) -> list[int]:
    """A quarter, half, three quarters and all of the longest study's trials."""
    return sorted({max(1, longest * k // 4) for k in (1, 2, 3, 4)})


def cmd_compare(args: argparse.Namespace) -> int:
    from ..analysis._data import StudyData
    from ..analysis.compare import MAX_STUDIES, MIN_STUDIES, best_at, best_trial, check_comparable

    if not MIN_STUDIES <= len(args.studies) <= MAX_STUDIES:
        raise CLIError(f"compare {MIN_STUDIES} to {MAX_STUDIES} studies, got {len(args.studies)}")
    storage = open_storage(storage_url(args), must_exist=True, read_only=True)
    studies = []
    for name in args.studies:
        try:
            record = storage.get_study(name)
            studies.append(StudyData.from_record(record, storage.read_trials(record.study_id)))
        except (StudyNotFound, ValueError) as exc:
            raise CLIError(str(exc)) from None
    try:
        check_comparable(studies)
    except ValueError as exc:
        raise CLIError(f"cannot compare: {exc}") from None
    budgets = args.budgets or _default_budgets(max(len(s.trials) for s in studies))
    table = new_table("", *(esc(s.name) for s in studies), title=f"compare ({studies[0].direction})")
    bests = [best_trial(s) for s in studies]
    table.add_row("best value", *(fmt(b.value) if b else "none yet" for b in bests))
    table.add_row("best trial", *(str(b.number) if b else "" for b in bests))
    table.add_row("trials", *(str(len(s.trials)) for s in studies), end_section=True)
    at = [best_at(s, budgets) for s in studies]
    for i, n in enumerate(budgets):
        table.add_row(f"best after {n} trials", *(fmt(a[i]) if a[i] is not None else "" for a in at),
                      end_section=i == len(budgets) - 1)
    for dim in studies[0].space.to_dict():
        table.add_row(esc(dim), *(esc(fmt(b.config[dim])) if b and dim in b.config else "-" for b in bests))
    new_console().print(table)
    return 0

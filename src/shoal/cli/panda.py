"""The panda-mode commands: ``tweak`` a running trial's hyperparameters, ``fork`` a trial from one of
its checkpoints, and show a trial's ``schedule`` (its hyperparameters over its steps)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import CLIError
from ..records import ConfigChange, LineageRecord
from ..space import Choice, Dimension, Fixed, Float, Int, Space
from ..storage import StudyNotFound
from ..trial import Trial, TrialState
from ._output import error_line, esc, fmt, new_console, new_table
from ._stored import check_writable, load_study, open_storage, storage_url

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study

__all__ = ["cmd_tweak", "cmd_fork", "cmd_schedule", "change_notes", "parse_assignments"]


# -- NAME=VALUE on the command line ---------------------------------------------------------------
def _candidates(text: str) -> list[Any]:
    """What ``text`` may stand for, most specific first: a JSON-quoted string, a bool, None, an int,
    a float, and the text itself."""
    found: list[Any] = []
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            quoted = json.loads(text)
        except ValueError:
            quoted = None
        if isinstance(quoted, str):
            found.append(quoted)
    if text.lower() in ("true", "false"):
        found.append(text.lower() == "true")
    if text in ("None", "none", "null"):
        found.append(None)
    try:
        found.append(int(text))
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            found.append(number)
    found.append(text)
    return found


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _parse_value(dim: Dimension, text: str, item: str) -> Any:
    """``text`` read as a value of ``dim``: a number for Float and Int, the matching choice of a
    Choice; anything else by its most specific reading (the study checks it)."""
    if isinstance(dim, Float):
        try:
            value = float(text)
        except ValueError:
            raise CLIError(f"{item!r}: dimension {dim.name!r} is a float; write a number, e.g. "
                           f"{dim.name}=0.001") from None
        return value
    if isinstance(dim, Int):
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not number.is_integer():
            raise CLIError(f"{item!r}: dimension {dim.name!r} is an int; write an integer, e.g. "
                           f"{dim.name}={int(dim.low)}")
        return int(number)
    readings = _candidates(text)
    if isinstance(dim, (Choice, Fixed)):
        allowed = dim.values if isinstance(dim, Choice) else (dim.value,)
        for reading in readings:
            if any(_same(reading, value) for value in allowed):
                return reading
        if isinstance(dim, Choice):
            listed = ", ".join(json.dumps(v) for v in dim.values)
            raise CLIError(f"{item!r}: {text!r} is not a choice of dimension {dim.name!r}; use one of "
                           f"{listed} (a quoted \"1\" is the string, 1 the number)")
    return readings[0]


def parse_assignments(space: Space, items: Sequence[str], *, command: str, study: str) -> dict[str, Any]:
    """``NAME=VALUE`` arguments of ``shoal COMMAND STUDY`` as ``{name: value}``, each value read by its
    dimension's type."""
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CLIError(f"{command}: expected NAME=VALUE, got {item!r}; write e.g. lr=0.0003")
        if name not in space.dimensions:
            raise CLIError(f"{command}: unknown dimension {name!r}; the space has "
                           f"{', '.join(space.names)} (see 'shoal show {study}')")
        if name in changes:
            raise CLIError(f"{command}: {name!r} is given twice; give each dimension once")
        changes[name] = _parse_value(space.dimensions[name], text, item)
    return changes


# -- opening the study ----------------------------------------------------------------------------
def _open_writable(args: argparse.Namespace) -> Study:
    """The stored study, opened to write a tweak or a fork (its space read from storage)."""
    from ..study import Study

    url = storage_url(args)
    check_writable(url, args.command)
    storage = open_storage(url, must_exist=True)
    try:
        return Study.load(args.study, storage)
    except StudyNotFound as exc:
        raise CLIError(str(exc)) from None
    except ValueError as exc:  # a stored space that cannot be rebuilt (a custom map not importable)
        raise CLIError(error_line(str(exc))) from None


def _trial(study_name: str, trials: Sequence[Trial], number: int) -> Trial:
    """Trial ``number`` of the study, or a one-line error saying which numbers it has."""
    found = next((t for t in trials if t.number == number), None)
    if found is None:
        held = f"its trials are 0 to {max(t.number for t in trials)}" if trials else "it has no trials yet"
        raise CLIError(f"study {study_name!r} has no trial number {number} ({held}; see 'shoal trials "
                       f"{study_name}')")
    return found


def _refused(exc: ValueError, study: Study) -> CLIError:
    """A ``ValueError`` of ``Study.tweak``/``fork`` as one line; the study's messages name the fix,
    but for an illegal value, which the space's description completes."""
    text = " ".join(str(exc).split())
    if "is not a legal value" in text:
        text += f"; pick one the space allows (see 'shoal show {study.name}')"
    return CLIError(text)


# -- the commands ---------------------------------------------------------------------------------
def cmd_tweak(args: argparse.Namespace) -> int:
    study = _open_writable(args)
    changes = parse_assignments(study.space, args.changes, command="tweak", study=study.name)
    trial = _trial(study.name, study.trials, args.number)
    if trial.state not in (TrialState.RUNNING, TrialState.PAUSED):
        raise CLIError(
            f"tweak: trial {trial.number} is {trial.state}; only a RUNNING or PAUSED trial can change "
            f"while it trains; to go on from it with other values, fork it: shoal fork {study.name} "
            f"{trial.number} --step STEP NAME=VALUE"
        )
    try:
        rows = study.tweak(trial.number, changes, source="person")
    except ValueError as exc:
        raise _refused(exc, study) from None
    console = new_console()
    if not rows:
        same = ", ".join(f"{name}={fmt(value)}" for name, value in changes.items())
        console.print(f"trial {trial.number}: nothing changed ({esc(same)}: already in force or pending)")
        return 0
    when = (f"trial {trial.number}'s next report" if trial.state == TrialState.RUNNING else
            f"trial {trial.number}'s next report, once it resumes")
    for row in rows:
        console.print(esc(f"{row.name} {fmt(row.old)} -> {fmt(row.new)} (pending: takes effect at {when})"))
    return 0


def cmd_fork(args: argparse.Namespace) -> int:
    study = _open_writable(args)
    changes = parse_assignments(study.space, args.changes, command="fork", study=study.name)
    parent = _trial(study.name, study.trials, args.number)
    try:
        child = study.fork(parent.number, args.step, changes, source="person")
    except ValueError as exc:
        raise _refused(exc, study) from None
    start = _lineage_of(study.storage.read_lineage(study.id), child.number)
    console = new_console()
    origin = (f"trial {start.parent}'s checkpoint at step {start.step}"
              if start is not None and start.parent is not None else f"trial {parent.number}")
    console.print(esc(f"trial {child.number}: forked from {origin}; {child.state}, it runs in the next "
                      "free slot of a running or later 'shoal run' / study.optimize"))
    forked = [c for c in child.changes if c.kind == "fork"]
    for change in forked:
        console.print(esc(f"{change.name} {fmt(change.old)} -> {fmt(change.new)}"))
    if not forked:
        console.print("no change: the config it had at that step")
    return 0


def _lineage_of(lineage: Iterable[LineageRecord], number: int) -> LineageRecord | None:
    return next((r for r in lineage if r.trial_number == number), None)


def _changed_text(changes: Sequence[ConfigChange]) -> str:
    return ", ".join(f"{c.name} {fmt(c.old)} -> {fmt(c.new)}" for c in changes)


def schedule_rows(trial: Trial) -> list[tuple[str, str, str, str]]:
    """The rows of ``shoal schedule``: (step, what changed, source, kind); the first row is the full
    initial config, then one row per step (and source) at which a change took effect, then the
    pending tweaks."""
    first, config = trial.schedule[0]
    rows = [(str(first), ", ".join(f"{k}={fmt(v)}" for k, v in config.items()), "", "start")]
    groups: dict[tuple[int, bool, str, str], list[ConfigChange]] = {}
    for change in trial.changes:  # a fork's own changes before the tweaks of the same step
        if change.step is not None:
            key = (change.step, change.kind != "fork", change.source, change.kind)
            groups.setdefault(key, []).append(change)
    for key in sorted(groups, key=lambda k: k[:2]):
        step, _, source, kind = key
        rows.append((str(step), _changed_text(groups[key]), source, kind))
    pending = [c for c in trial.changes if c.step is None]
    for source in dict.fromkeys(c.source for c in pending):
        rows.append(("pending", _changed_text([c for c in pending if c.source == source]), source, "tweak"))
    return rows


def _replay(storage: Any, study_id: int, trials: list[Trial], number: int) -> tuple[
        LineageRecord | None, list[tuple[int, dict[str, Any]]]]:
    """A forked (or PBT) trial's lineage record and the replayable schedule through its ancestors."""
    lineage = storage.read_lineage(study_id)
    record = _lineage_of(lineage, number)
    if record is None or record.parent is None:
        return record, []
    from ..schedules import schedule_from

    return record, [(first, dict(config)) for first, config in
                    schedule_from(trials, lineage, number).changes()]


def cmd_schedule(args: argparse.Namespace) -> int:
    storage, record, trials = load_study(args)
    trial = _trial(record.name, trials, args.number)
    start, replay = _replay(storage, record.study_id, trials, trial.number)
    if args.json:
        stored = trial.to_dict()
        found = {
            "trial": trial.number,
            "state": trial.state.value,
            "schedule": stored["schedule"],
            "pending": trial.pending_changes,
            "changes": stored["changes"],
            "excluded_from_models": trial.excluded_from_models,
            "forked_from": None if not replay or start is None else
            {"trial": start.parent, "step": start.step, "replay": [[s, c] for s, c in replay]},
        }
        json.dump(found, sys.stdout)
        sys.stdout.write("\n")
        return 0
    title = f"schedule of trial {trial.number} ({trial.state})"
    if replay and start is not None:
        title += f", forked from trial {start.parent}'s checkpoint at step {start.step}"
    table = new_table("step", "changed", "source", "kind", title=esc(title))
    for row in schedule_rows(trial):
        table.add_row(*[esc(cell) for cell in row])
    console = new_console()
    console.print(table)
    if trial.excluded_from_models:
        console.print(esc(f"left out of samplers' models and importance: {trial.excluded_from_models}"))
    if replay:
        names = list(record.space) or sorted(replay[0][1])
        full = new_table("from step", *[esc(n) for n in names],
                         title="replayable schedule, its ancestors' steps included")
        for first, config in replay:
            full.add_row(str(first), *[esc(fmt(config.get(n))) for n in names])
        console.print(full)
    return 0


def change_notes(trials: Iterable[Trial]) -> dict[int, str]:
    """A note per tweaked or forked trial for ``shoal trials`` (number -> text)."""
    notes: dict[int, str] = {}
    for trial in trials:
        tweaked = list(dict.fromkeys(c.name for c in trial.changes if c.kind == "tweak" and not c.pending))
        pending = list(dict.fromkeys(c.name for c in trial.changes if c.pending))
        parts = ["forked"] if any(c.kind == "fork" for c in trial.changes) else []
        if tweaked:
            parts.append(f"tweaked {', '.join(tweaked)}")
        if pending:
            parts.append(f"tweak pending {', '.join(pending)}")
        if parts:
            notes[trial.number] = "; ".join(parts)
    return notes

"""The commands on stored studies: ``studies``, ``show``, ``trials``, ``best``, ``lineage`` (they only
read) and ``delete``."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import textwrap
from typing import Any

from ..errors import CLIError
from ..records import NoteRecord
from ..storage import StudyRecord
from ..trial import Trial, TrialState
from ._output import (
    config_table,
    count_states,
    counts_text,
    error_line,
    esc,
    fmt,
    front_table,
    new_console,
    new_table,
    trials_table,
)
from ._stored import (
    best_trial,
    check_writable,
    dimension_names,
    front_of,
    load_study,
    metric_names,
    objectives_of,
    open_storage,
    ranked_trials,
    storage_url,
)
from .panda import change_notes


def _rungs_if_paused(storage: Any, study_id: int, trials: list[Any]) -> list[Any]:
    """The study's rung records, read only when some trial is PAUSED (they explain why)."""
    return storage.read_rungs(study_id) if any(t.state == TrialState.PAUSED for t in trials) else []


def _describe_dimension(spec: Any) -> str:
    """A stored dimension (its JSON form) as one short line."""
    if not isinstance(spec, dict):
        return f"fixed {json.dumps(spec)}"
    kind = spec.get("type", "?")
    if kind in ("float", "int"):
        text = f"{kind} [{fmt(spec.get('low'))}, {fmt(spec.get('high'))}]"
        if spec.get("scale"):
            text += f" {spec['scale']}"
        if spec.get("step") is not None:
            text += f" step {fmt(spec['step'])}"
    elif kind == "choice":
        text = "choice " + ", ".join(json.dumps(v) for v in spec.get("values", []))
    elif kind == "fixed":
        text = f"fixed {json.dumps(spec.get('value'))}"
    else:
        text = f"{kind} {spec.get('fn', '')}".strip()
    for parent, values in (spec.get("when") or {}).items():
        text += f"; when {parent} in {json.dumps(values)}"
    if "default" in spec:
        text += f"; default {json.dumps(spec['default'])}"
    return text


def cmd_studies(args: argparse.Namespace) -> int:
    url = storage_url(args)
    summaries = open_storage(url, must_exist=True, read_only=True).list_studies()
    console = new_console()
    if not summaries:
        console.print(f"no studies in {esc(url)}")
        return 0
    table = new_table("study", "direction", "trials", "states", "best", "sampler", "scheduler",
                      title=esc(url))
    for s in summaries:
        table.add_row(
            esc(s.record.name),
            esc(_direction_text(s.record)),
            str(s.n_trials),
            counts_text(s.counts),
            fmt(s.best_value),
            esc(s.record.sampler),
            esc(s.record.scheduler or "none"),
        )
    console.print(table)
    return 0


def _direction_text(record: StudyRecord) -> str:
    """The direction of a one-number study, else its objectives and constraints."""
    return record.direction if record.objectives is None else objectives_of(record).describe()


def _feasible_count(trials: list[Trial]) -> str:
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    return f"{sum(t.feasible is not False for t in done)} of {len(done)} completed meet the constraints"


def _front_table(record: StudyRecord, front: list[Trial], trials: list[Trial]):
    ways = ", ".join(f"{o.name} {o.direction[:3]}" for o in objectives_of(record).objectives)
    title = f"pareto front: {len(front)} trial{'s' * (len(front) != 1)} ({ways}; feasible, non-dominated)"
    return front_table(front, metric_names(record, trials), dimension_names(record, front), title=title)


def _none_ranked(trials: list[Trial]) -> str:
    if any(t.state == TrialState.COMPLETE for t in trials):
        return "no completed trial meets the constraints yet"
    return "no completed trial yet"


def cmd_show(args: argparse.Namespace) -> int:
    from ..analysis.paused import paused_summary

    storage, record, trials = load_study(args)
    objectives = objectives_of(record)
    console = new_console()
    summary = new_table("", "", title=f"study {esc(record.name)}")
    summary.show_header = False
    if objectives.multi:
        ways = ", ".join(f"{o.name} ({o.direction})" for o in objectives.objectives)
        summary.add_row("objectives", esc(ways))
    else:
        summary.add_row("direction", record.direction)
    if objectives.constraints:
        summary.add_row("constraints", esc(", ".join(map(str, objectives.constraints))))
        summary.add_row("feasible", _feasible_count(trials))
    summary.add_row("sampler", esc(record.sampler))
    summary.add_row("scheduler", esc(record.scheduler or "none"))
    summary.add_row("storage", esc(storage_url(args)))
    summary.add_row("created", record.created_at.isoformat(timespec="seconds"))
    summary.add_row("trials", f"{len(trials)} ({counts_text(count_states(trials))})")
    console.print(summary)
    for line in paused_summary(trials, _rungs_if_paused(storage, record.study_id, trials)):
        console.print(esc(line))
    space = new_table("dimension", "definition", title="space")
    for name, spec in record.space.items():
        space.add_row(esc(name), esc(_describe_dimension(spec)))
    console.print(space)
    _print_notes(console, storage.read_notes(record.study_id))
    if objectives.multi:
        front = front_of(record, trials)
        console.print(_front_table(record, front, trials) if front else _none_ranked(trials))
        return 0
    ranked = ranked_trials(record, trials)
    if not ranked:
        console.print(_none_ranked(trials))
        return 0
    best = best_trial(record, trials)
    console.print(config_table(best.config, f"best: trial {best.number}, value {fmt(best.value)}"))
    top = ranked[: args.top]
    console.print(
        trials_table(top, dimension_names(record, top), title=f"top {len(top)}", full=False,
                     metrics=metric_names(record, trials))
    )
    return 0


def _print_notes(console: Any, notes: list[NoteRecord]) -> None:
    """The study's note, then each trial's, as written (Markdown source)."""
    for note in notes:
        title = "note" if note.trial_number is None else f"note on trial {note.trial_number}"
        console.print(f"[bold]{title}[/bold]")
        console.print(esc(textwrap.indent(note.text.rstrip(), "  ")))


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def cmd_trials(args: argparse.Namespace) -> int:
    from ..analysis.paused import paused_notes

    storage, record, trials = load_study(args)
    if args.state is not None:
        trials = [t for t in trials if t.state.value == args.state]
    names = dimension_names(record, trials)
    notes = paused_notes(trials, _rungs_if_paused(storage, record.study_id, trials))
    for number, note in change_notes(trials).items():  # tweaked or forked trials
        notes[number] = f"{notes[number]}; {note}" if number in notes else note
    metrics = metric_names(record, trials)
    if args.json:
        rows = [t.to_dict() | ({"note": notes[t.number]} if t.number in notes else {}) for t in trials]
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.csv:
        judged = [*(f"values_{m}" for m in metrics), "feasible"] if metrics else []
        fixed = {"number", "state", "value", "duration", "error", *judged}
        columns = [f"config_{n}" if n in fixed else n for n in names]
        on_devices = any(t.device is not None for t in trials)  # a device column when any has one
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["number", "state", "value", *judged, *columns, "duration",
                         *(["device"] if on_devices else []), "error"])
        for t in trials:
            values = [_csv_cell(t.values.get(m)) for m in metrics]
            writer.writerow(
                [t.number, t.state.value, _csv_cell(t.value)]
                + (values + [_csv_cell(t.feasible)] if metrics else [])
                + [_csv_cell(t.config.get(n)) for n in names]
                + [_csv_cell(t.duration)] + ([t.device or ""] if on_devices else []) + [error_line(t.error)]
            )
        return 0
    console = new_console()
    if not trials:
        console.print(f"study {esc(record.name)!r} has no trials" + (
            f" in state {args.state}" if args.state else ""))
        return 0
    console.print(trials_table(trials, names, title=f"study {esc(record.name)}", full=True,
                               metrics=metrics, notes=notes))
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    _, record, trials = load_study(args)
    objectives = objectives_of(record)
    if objectives.multi:
        return _print_front(args, record, trials)
    best = best_trial(record, trials)
    if args.json:
        found: dict[str, Any] = {"number": best.number, "value": best.value, "config": best.config}
        if record.objectives is not None:
            found.update(values=best.values, feasible=best.feasible)
        json.dump(found, sys.stdout)
        sys.stdout.write("\n")
        return 0
    new_console().print(config_table(best.config, f"best: trial {best.number}, value {fmt(best.value)}"))
    return 0


def _print_front(args: argparse.Namespace, record: StudyRecord, trials: list[Trial]) -> int:
    """``shoal best`` of a study with several objectives: its Pareto front."""
    objectives = objectives_of(record)
    front = front_of(record, trials)
    if args.json:
        json.dump({
            "objectives": {o.name: o.direction for o in objectives.objectives},
            "constraints": [str(c) for c in objectives.constraints],
            "pareto_front": [{"number": t.number, "values": t.values, "feasible": t.feasible,
                              "config": t.config} for t in front],
        }, sys.stdout)
        sys.stdout.write("\n")
        return 0
    if not front:
        raise CLIError(f"study {record.name!r}: {_none_ranked(trials)}")
    new_console().print(_front_table(record, front, trials))
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from ..schedulers.pbt import lineage_events, schedule_from

    storage, record, trials = load_study(args)
    lineage = storage.read_lineage(record.study_id)
    if not lineage:
        raise CLIError(f"study {record.name!r} has no lineage: it did not run with scheduler=PBT(...)")
    rows = lineage_events(trials, lineage)
    ranked = ranked_trials(record, [t for t in trials if t.number in {r["trial"] for r in rows}])
    schedule = schedule_from(trials, lineage, ranked[0].number) if ranked else None
    if args.json:
        steps = [] if schedule is None else [{"first_step": s, "config": c} for s, c in schedule.changes()]
        json.dump({"lineage": rows, "best": None if schedule is None else schedule.trial,
                   "schedule": steps}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    members = len({r["member"] for r in rows})
    table = new_table("#", "member", "seg", "steps", "state", "value", "event", "changed",
                      title=f"lineage: {esc(record.name)} ({members} members, {len(rows)} segments)")
    for r in rows:
        steps = f"{r['first_step']}-{'' if r['last_step'] is None else r['last_step']}"
        changed = ", ".join(f"{k} {fmt(a)} -> {fmt(b)}" for k, (a, b) in r["changed"].items())
        table.add_row(*[esc(c) for c in (r["trial"], r["member"], r["segment"], steps, r["state"],
                                         fmt(r["value"]), r["event"], changed)])
    console = new_console()
    console.print(table)
    if schedule is not None:
        names = list(record.space) or sorted(schedule.steps[0][1])
        title = f"schedule of the best model: trial {schedule.trial}, value {fmt(schedule.value)}"
        best = new_table("from step", *[esc(n) for n in names], title=title)
        for first, config in schedule.changes():
            best.add_row(str(first), *[esc(fmt(config.get(n))) for n in names])
        console.print(best)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    url = storage_url(args)
    if args.yes:
        check_writable(url, "delete")
    storage, record, trials = load_study(args, read_only=False)
    if not args.yes:
        raise CLIError(
            f"study {record.name!r} has {len(trials)} trials; add --yes to delete it for good"
        )
    storage.delete_study(record.name)
    new_console().print(f"deleted study {esc(record.name)!r} ({len(trials)} trials) from {esc(url)}")
    return 0

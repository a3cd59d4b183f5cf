"""A study as JSON lines, to move it between storages (``shoal export``, ``shoal import``, ``shoal copy``).

The first line says what the file is and describes the study::

    {"format": "shoal-study", "version": 1, "shoal": "0.9.0", "study": {"name": ..., "direction": ...,
     "objectives": ..., "space": ..., "sampler": ..., "paused": ..., "created_at": ...}}

then one line per trial, by number (``{"kind": "trial", "trial": {...}, "lineage": ..., "rungs": [...],
"checkpoints": [...]}``: everything a trial holds, its reports and changes, and the records kept beside
it), one per coarse-to-fine round box (``{"kind": "round_box", ...}``), and last ``{"kind": "end",
"trials": N}``, so a file cut short is refused. A later version may add kinds of lines; this one
refuses what it does not know. The study's and each trial's Markdown note travel as their ``"note"``
(absent in files written before notes). Checkpoint files stay where they are: their references are copied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .._version import __version__
from ..objectives import Objectives
from ..records import CheckpointRef, ConfigChange, LineageRecord, RungRecord, check_note
from ..trial import FailureKind, Trial
from .base import Storage, StudyRecord
from .summary import check_box, check_imported

__all__ = ["FORMAT", "VERSION", "StudyExport", "export_lines", "read_export", "import_study"]

FORMAT = "shoal-study"
VERSION = 1


@dataclass
class TrialEntry:
    """One trial and the records kept beside it."""

    trial: Trial
    lineage: LineageRecord | None = None
    rungs: list[RungRecord] = field(default_factory=list)
    checkpoints: list[CheckpointRef] = field(default_factory=list)


@dataclass
class StudyExport:
    """A study read from an export: its description, its trials by number, its round boxes."""

    name: str
    direction: str
    space: dict[str, Any]
    sampler: str
    objectives: dict[str, Any] | None
    paused: bool
    created_at: datetime | None
    scheduler: str | None = None
    note: str | None = None
    trials: list[TrialEntry] = field(default_factory=list)
    boxes: dict[int, dict[str, tuple[float, float]]] = field(default_factory=dict)


# -- writing ------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _line(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def _trial_dict(trial: Trial) -> dict[str, Any]:
    return {
        "number": trial.number, "state": trial.state.value, "config": trial.config, "unit": trial.unit,
        "value": trial.value, "values": trial.values, "feasible": trial.feasible, "error": trial.error,
        "failure": None if trial.failure is None else trial.failure.value,
        "reports": [[step, value] for step, value in trial.reports], "round": trial.round,
        "claim": trial.claim, "requeued_from": trial.requeued_from, "proposed_by": trial.proposed_by,
        "stop_requested": trial.stop_requested, "created_at": _iso(trial.created_at),
        "started_at": _iso(trial.started_at), "finished_at": _iso(trial.finished_at),
        "changes": [{"name": c.name, "old": c.old, "new": c.new, "source": c.source, "step": c.step,
                     "kind": c.kind, "created_at": _iso(c.created_at)} for c in trial.changes],
        "note": trial.note,
    }


def export_lines(storage: Storage, name: str) -> Iterator[str]:
    """The study ``name`` of ``storage`` as lines of JSON (without newlines); ``StudyNotFound``."""
    record = storage.get_study(name)
    trials = storage.read_trials(record.study_id)
    lineage = {r.trial_number: r for r in storage.read_lineage(record.study_id)}
    rungs: dict[int, list[RungRecord]] = {}
    for rung in storage.read_rungs(record.study_id):
        rungs.setdefault(rung.trial_number, []).append(rung)
    saved: dict[int, list[CheckpointRef]] = {}
    for ref in storage.read_checkpoints(record.study_id):
        saved.setdefault(ref.trial_number, []).append(ref)
    yield _line({"format": FORMAT, "version": VERSION, "shoal": __version__, "study": {
        "name": record.name, "direction": record.direction, "objectives": record.objectives,
        "space": record.space, "sampler": record.sampler, "scheduler": record.scheduler,
        "paused": record.paused, "created_at": _iso(record.created_at),
        "note": next((n.text for n in storage.read_notes(record.study_id) if n.trial_number is None), None)}})
    for trial in trials:
        old = lineage.get(trial.number)
        yield _line({
            "kind": "trial", "trial": _trial_dict(trial),
            "lineage": None if old is None else {
                "member": old.member, "segment": old.segment, "parent": old.parent,
                "checkpoint": old.checkpoint, "step": old.step, "donor": old.donor,
                "old_config": old.old_config, "created_at": _iso(old.created_at)},
            "rungs": [{"bracket": r.bracket, "rung": r.rung, "step": r.step, "value": r.value}
                      for r in rungs.get(trial.number, [])],
            "checkpoints": [{"step": c.step, "uri": c.uri, "created_at": _iso(c.created_at)}
                            for c in saved.get(trial.number, [])],
        })
    for round_, box in storage.read_round_boxes(record.study_id).items():
        yield _line({"kind": "round_box", "round": round_, "box": {k: list(v) for k, v in box.items()}})
    yield _line({"kind": "end", "trials": len(trials)})


# -- reading ------------------------------------------------------------------------------------


class _Bad(ValueError):
    """What is wrong with one line (the reader adds where)."""


def _field(obj: Mapping[str, Any], key: str, kinds: tuple[type, ...], *, optional: bool = False) -> Any:
    if key not in obj:
        raise _Bad(f"{key!r} is missing")
    value = obj[key]
    if value is None and optional:
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds) + (" or null" if optional else "")
        raise _Bad(f"{key!r} must be {names}, got {value!r}")
    return value


def _number(obj: Mapping[str, Any], key: str, *, optional: bool = False) -> float | None:
    value = _field(obj, key, (int, float), optional=optional)
    return None if value is None else float(value)


def _time(obj: Mapping[str, Any], key: str) -> datetime | None:
    text = _field(obj, key, (str,), optional=True)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{key!r} must be an ISO time, got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _trial(data: Any) -> Trial:
    if not isinstance(data, Mapping):
        raise _Bad(f"'trial' must be an object, got {data!r}")
    number = _field(data, "number", (int,))
    reports = _field(data, "reports", (list,))
    if not all(isinstance(r, list) and len(r) == 2 for r in reports):
        raise _Bad(f"'reports' must be [step, value] pairs, got {reports!r}")
    changes = []
    for change in _field(data, "changes", (list,)):
        if not isinstance(change, Mapping):
            raise _Bad(f"a change must be an object, got {change!r}")
        changes.append(ConfigChange(
            number, _field(change, "name", (str,)), change.get("old"), change.get("new"),
            _field(change, "source", (str,)), _field(change, "step", (int,), optional=True),
            _field(change, "kind", (str,)), _time(change, "created_at"),
        ))
    failure = _field(data, "failure", (str,), optional=True)
    try:
        kind = None if failure is None else FailureKind(failure)
    except ValueError:
        raise _Bad(f"'failure' must be one of {[k.value for k in FailureKind]}, got {failure!r}") from None
    values = _field(data, "values", (dict,))
    trial = Trial(
        number=number, state=_field(data, "state", (str,)), config=_field(data, "config", (dict,)),
        unit=_field(data, "unit", (dict,)), value=_number(data, "value", optional=True),
        error=_field(data, "error", (str,), optional=True), reports=[tuple(r) for r in reports],
        round=_field(data, "round", (int,), optional=True),
        claim=_field(data, "claim", (str,), optional=True),
        requeued_from=_field(data, "requeued_from", (int,), optional=True),
        created_at=_time(data, "created_at"), started_at=_time(data, "started_at"),
        finished_at=_time(data, "finished_at"), stop_requested=_field(data, "stop_requested", (bool,)),
        proposed_by=_field(data, "proposed_by", (str,), optional=True), failure=kind,
        values=values, feasible=_field(data, "feasible", (bool,), optional=True), changes=changes,
        note=_field(data, "note", (str,), optional=True) if "note" in data else None,
    )
    try:
        return check_imported(trial)  # what storage would refuse, refused before anything is written
    except ValueError as exc:
        raise _Bad(str(exc).removeprefix("import_trial: ")) from None


def _entry(data: Mapping[str, Any]) -> TrialEntry:
    trial = _trial(data.get("trial"))
    n = trial.number
    old = _field(data, "lineage", (dict,), optional=True)
    lineage = None if old is None else LineageRecord(
        n, _field(old, "member", (int,)), _field(old, "segment", (int,)),
        _field(old, "parent", (int,), optional=True), _field(old, "checkpoint", (str,), optional=True),
        _field(old, "step", (int,)), _field(old, "donor", (int,), optional=True),
        _field(old, "old_config", (dict,), optional=True), _time(old, "created_at"),
    )
    rungs = [RungRecord(n, _field(r, "bracket", (int,)), _field(r, "rung", (int,)),
                        _field(r, "step", (int,)), _number(r, "value")) for r in _objects(data, "rungs")]
    refs = [CheckpointRef(n, _field(c, "step", (int,)), _field(c, "uri", (str,)), _time(c, "created_at"))
            for c in _objects(data, "checkpoints")]
    return TrialEntry(trial, lineage, rungs, refs)


def _objects(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = _field(data, key, (list,))
    if not all(isinstance(i, Mapping) for i in items):
        raise _Bad(f"{key!r} must be a list of objects, got {items!r}")
    return items


def _header(line: str) -> StudyExport:
    try:
        head = json.loads(line)
    except ValueError:
        head = None
    if not isinstance(head, Mapping) or head.get("format") != FORMAT:
        raise _Bad(f'not a shoal study export (its first line is not {{"format": "{FORMAT}", ...}}); '
                   "make one with 'shoal export STUDY > FILE'")
    version = head.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _Bad(f"'version' must be an int >= 1, got {version!r}")
    if version > VERSION:
        raise _Bad(f"written by a newer shoal (format version {version}; this one reads up to {VERSION}); "
                   "upgrade shoal to import it")
    study = _field(head, "study", (dict,))
    name = _field(study, "name", (str,))
    direction = _field(study, "direction", (str,))
    if not name.strip() or direction not in ("minimize", "maximize"):
        raise _Bad(f"the study needs a name and a direction ('minimize' or 'maximize'), got {name!r} and "
                   f"{direction!r}")
    objectives = _field(study, "objectives", (dict,), optional=True)
    if objectives is not None:
        try:
            Objectives.from_dict(objectives)
        except (ValueError, TypeError, KeyError) as exc:
            raise _Bad(f"the study's objectives cannot be read ({exc})") from None
    note = _field(study, "note", (str,), optional=True) if "note" in study else None
    try:
        check_note("" if note is None else note)
    except ValueError as exc:
        raise _Bad(f"the study's {exc}") from None
    return StudyExport(
        name, direction, _field(study, "space", (dict,)), _field(study, "sampler", (str,)), objectives,
        _field(study, "paused", (bool,)), _time(study, "created_at"),
        _field(study, "scheduler", (str,), optional=True) if "scheduler" in study else None,
        note,
    )


def read_export(lines: Iterable[str], source: str = "the export") -> StudyExport:
    """Parse and check a whole export (nothing is written); ``ValueError`` naming ``source``, the
    line and what is wrong with it."""
    export: StudyExport | None = None
    claims: dict[str, int] = {}
    ended = False
    k = 0
    for k, line in enumerate(lines, 1):
        try:
            if export is None:
                export = _header(line)
                continue
            if not line.strip():
                continue
            if ended:
                raise _Bad("a line after the end line")
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise _Bad(f"not JSON ({exc})") from None
            if not isinstance(data, Mapping):
                raise _Bad(f"expected an object, got {data!r}")
            kind = data.get("kind")
            if kind == "trial":
                entry = _entry(data)
                if entry.trial.number != len(export.trials):
                    raise _Bad(f"trial number {entry.trial.number} out of order (expected "
                               f"{len(export.trials)}: numbers run 0, 1, 2, ...)")
                if entry.trial.claim is not None and entry.trial.claim in claims:
                    raise _Bad(f"trial {entry.trial.number} holds claim {entry.trial.claim!r}, which trial "
                               f"{claims[entry.trial.claim]} holds already")
                if entry.trial.claim is not None:
                    claims[entry.trial.claim] = entry.trial.number
                export.trials.append(entry)
            elif kind == "round_box":
                box = _field(data, "box", (dict,))
                if not all(isinstance(b, list) and len(b) == 2 for b in box.values()):
                    raise _Bad(f"'box' must map dimensions to [low, high], got {box!r}")
                bounds = {d: (b[0], b[1]) for d, b in box.items()}
                try:
                    round_, checked = check_box(_field(data, "round", (int,)), bounds)
                except ValueError as exc:
                    raise _Bad(str(exc)) from None
                export.boxes[round_] = checked
            elif kind == "end":
                if _field(data, "trials", (int,)) != len(export.trials):
                    raise _Bad(f"the end line counts {data['trials']} trials, the file holds "
                               f"{len(export.trials)}")
                ended = True
            else:
                raise _Bad(f"unknown kind of line {kind!r} (format version {VERSION} has trial, round_box "
                           "and end lines)")
        except _Bad as exc:
            raise ValueError(f"{source}: line {k}: {exc}") from None
    if export is None:
        raise ValueError(f"{source} is empty: not a shoal study export; make one with 'shoal export STUDY "
                         "> FILE'")
    if not ended:
        raise ValueError(f"{source} ends early at line {k} (no end line): the file was cut short; export "
                         "the study again")
    return export


# -- writing into a storage ---------------------------------------------------------------------


def import_study(storage: Storage, export: StudyExport, name: str | None = None) -> StudyRecord:
    """Create the exported study in ``storage`` (as ``name`` when given) with every trial, record and
    round box; ``StudyExists`` when the name is taken. A failure half-way removes what was written."""
    name = export.name if name is None else name
    record = storage.create_study(name, export.direction, export.space, export.sampler,
                                  objectives=export.objectives, scheduler=export.scheduler)
    try:
        for entry in export.trials:
            stored = storage.import_trial(record.study_id, entry.trial, lineage=entry.lineage,
                                          rungs=entry.rungs, checkpoints=entry.checkpoints)
            if stored.number != entry.trial.number:  # pragma: no cover - a new study numbers from 0
                raise RuntimeError(f"trial {entry.trial.number} was stored as number {stored.number}")
        for round_, box in export.boxes.items():
            storage.add_round_box(record.study_id, round_, box)
        if export.paused:
            storage.set_paused(record.study_id, True)
        if export.note:
            storage.set_note(record.study_id, export.note)
    except BaseException:
        storage.delete_study(name)
        raise
    return storage.get_study(name)

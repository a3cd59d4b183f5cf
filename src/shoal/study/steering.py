"""Panda mode: a person (or a rule, or PBT) changes a running trial's hyperparameters, or forks a
new trial from a stored checkpoint of another with some hyperparameters changed.

A trial's hyperparameters form a schedule over its steps. A tweak is stored as pending
``ConfigChange`` rows; the trial's next ``report`` or ``should_stop`` delivers them (through the same
channel as stop requests, on every executor) and stamps the step they take effect at. A fork is a
new QUEUED trial whose lineage names the parent's checkpoint; it runs in the next free slot.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..records import CHANGE_SOURCES, ConfigChange, LineageRecord
from ..schedules import same_value as _same
from ..schedules import unit_for
from ..space import Fixed, Float, Space
from ..trial import Trial, TrialState

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

__all__ = ["tweak", "fork", "changed_config", "unit_for", "reread"]

logger = logging.getLogger("shoal")

#: ``read_trials(after=...)`` above every trial number: only the ``numbers`` asked for are read
_NO_NEWER = 2**31 - 1


def tweak(
    study: Study, number: int, changes: Mapping[str, Any], source: str = "person"
) -> list[ConfigChange]:
    """``Study.tweak``: store the changes as pending rows of running or paused trial ``number``."""
    _check_source(source)
    record = study._own(number)
    if record.state not in (TrialState.RUNNING, TrialState.PAUSED):
        raise ValueError(
            f"tweak: trial {number} is {record.state}; only a RUNNING or PAUSED trial can change while it "
            f"trains (to go on from a finished one, fork it: study.fork({number}, step=..., changes=...))"
        )
    before = {**record.current_config, **record.pending_changes}
    after = changed_config(study.space, before, changes, what=f"tweak of trial {number}",
                           same_dimensions=True)
    rows = [
        ConfigChange(number, name, before.get(name), after[name], source)
        for name in changes
        if not _same(before.get(name), after[name])
    ]
    if not rows:
        return []
    assert record.trial_id is not None
    if not study.storage.request_changes(record.trial_id, rows):
        raise ValueError(f"tweak: trial {number} finished before the tweak was stored; nothing changed")
    if record.number in study._log.mine:  # this driver's record: keep it current until the next read
        record.changes = [*record.changes, *rows]
    logger.info("study %r: trial %d tweaked by %s: %s", study.name, number, source,
                ", ".join(f"{r.name} {r.old!r} -> {r.new!r}" for r in rows))
    return rows


def fork(
    study: Study, number: int, step: int, changes: Mapping[str, Any] | None, source: str = "person"
) -> Trial:
    """``Study.fork``: a QUEUED trial starting from trial ``number``'s checkpoint at or before ``step``."""
    _check_source(source)
    if _is_pbt(study):
        raise ValueError(
            "fork: population-based training forks its own members; a PBT study takes no forks by hand "
            "(tweak a running member instead)"
        )
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"fork: step must be an int >= 0 (a checkpoint's step to start from), got {step!r}")
    parent = study._own(number)
    chain = _runs_of(study, parent)
    saved = study.storage.read_checkpoints(study.id, numbers=chain)
    usable = [ref for ref in saved if ref.step <= step]
    if not usable:
        steps = sorted({ref.step for ref in saved})
        where = f"it saved at steps {steps}" if steps else "it saved none"
        raise ValueError(
            f"fork: trial {number} has no checkpoint at or before step {step} ({where}); save one in the "
            "objective with trial.save(state, step) before it reports that step"
        )
    point = max(usable, key=lambda ref: (ref.step, ref.trial_number))
    base = study._log.by_number[point.trial_number].schedule_at(point.step)
    config = changed_config(study.space, base, changes or {}, what=f"fork of trial {number}",
                            same_dimensions=False)
    unit = unit_for(study.space, config, study._log.by_number[point.trial_number].config,
                    study._log.by_number[point.trial_number].unit)
    child = study.storage.create_trial(study.id, TrialState.QUEUED, config, unit)
    assert child.trial_id is not None
    member, segment = _line_of(study, parent)
    study.storage.add_lineage(child.trial_id, LineageRecord(
        child.number, member, segment, parent=point.trial_number, checkpoint=point.uri, step=point.step,
        old_config=base,
    ))
    rows = [
        ConfigChange(child.number, name, base.get(name), config.get(name), source, point.step + 1, "fork")
        for name in sorted(set(base) | set(config), key=_order(study.space))
        if not _same(base.get(name), config.get(name))
    ]
    if rows:
        study.storage.add_changes(child.trial_id, rows)
    logger.info("study %r: trial %d forks trial %d at step %d (%s)", study.name, child.number,
                point.trial_number, point.step, ", ".join(f"{r.name}={r.new!r}" for r in rows) or "no change")
    study.refresh()
    return study._log.by_number[child.number]


def changed_config(
    space: Space, base: Mapping[str, Any], changes: Mapping[str, Any], *, what: str, same_dimensions: bool
) -> dict[str, Any]:
    """``base`` with ``changes`` applied, checked against the space (legal values, conditional rules,
    no ``Fixed`` dimension changed). ``same_dimensions``: refuse a change that switches dimensions on
    or off (a running model cannot gain or lose hyperparameters); else drop the ones switched off and
    give the ones switched on their defaults."""
    if not isinstance(changes, Mapping):
        raise ValueError(f"{what}: changes must be a mapping of dimension names to values, got {changes!r}")
    unknown = [name for name in changes if name not in space.dimensions]
    if unknown:
        raise ValueError(f"{what}: unknown dimension(s) {unknown}; the space has {list(space.names)}")
    for name, value in changes.items():
        dim = space.dimensions[name]
        if isinstance(dim, Fixed) and not _same(value, dim.value):
            raise ValueError(f"{what}: dimension {name!r} is Fixed({dim.value!r}); it cannot change")
        value = value.item() if hasattr(value, "item") else value
        if isinstance(dim, Float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # as Space.validate reads it
        if not dim.contains(value):
            raise ValueError(f"{what}: dimension {name!r}: {value!r} is not a legal value ({dim!r})")
    candidate = {**base, **changes}
    active = {dim.name for dim in space.dimensions.values() if _active_in(space, dim.name, candidate)}
    switched_off = [n for n in changes if n not in active]
    if switched_off:
        raise ValueError(f"{what}: dimension(s) {switched_off} are inactive with these values; drop them")
    if same_dimensions:
        gained, lost = sorted(active - set(base)), sorted(set(base) - active)
        if gained or lost:
            raise ValueError(
                f"{what}: these values switch dimensions on {gained} or off {lost}; a running model cannot "
                "gain or lose hyperparameters, so fork it instead"
            )
    candidate = {name: value for name, value in candidate.items() if name in active}
    try:
        return space.validate(candidate, fill_defaults=True)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def reread(study: Study, number: int) -> Trial:
    """Trial ``number`` as storage has it now (that one trial read, not the whole study)."""
    [trial] = study.storage.read_trials(study.id, after=_NO_NEWER, numbers=[number])
    return trial


def _active_in(space: Space, name: str, config: Mapping[str, Any]) -> bool:
    """Whether ``name`` is active under ``config``, its parents' own activity considered."""
    dim = space.dimensions[name]
    if not space.is_active(name, config):
        return False
    return all(_active_in(space, parent, config) for parent in (dim.when or {}))


def _is_pbt(study: Study) -> bool:
    """A study PBT schedules: this driver's scheduler says so, or (opened without it, as the CLI and
    the dashboard do) its lineage has a member that started fresh (a fork always has a parent)."""
    if study.scheduler is not None:
        return bool(study.scheduler.uses_lineage)
    return any(record.parent is None for record in study.storage.read_lineage(study.id))


def _runs_of(study: Study, trial: Trial) -> list[int]:
    """The trial and the runs it repeats (``requeued_from``): whose checkpoints it may fork from."""
    chain, by_number = [trial.number], study._log.by_number
    while by_number[chain[-1]].requeued_from is not None and len(chain) < 1000:
        chain.append(by_number[chain[-1]].requeued_from)  # type: ignore[arg-type]
    return chain


def _line_of(study: Study, parent: Trial) -> tuple[int, int]:
    """The lineage member and segment of a fork of ``parent``: its parent's line, one segment on."""
    records = {r.trial_number: r for r in study.storage.read_lineage(study.id)}
    root = _runs_of(study, parent)[-1]
    record = records.get(root)
    return (root, 1) if record is None else (record.member, record.segment + 1)


def _order(space: Space):
    names = list(space.names)
    return lambda name: names.index(name) if name in names else len(names)


def _check_source(source: str) -> None:
    if source not in CHANGE_SOURCES:
        raise ValueError(f"source must be one of {CHANGE_SOURCES}, got {source!r}")

"""Trials a study did not run itself: a result obtained elsewhere (``Study.add_trial``) and the
finished trials of older studies that seed its model (``Study(..., warm_start_from=[...])``).

Both are stored as finished trials of the study (``Storage.import_trial``), placed by value in its
space, so samplers, importance and plots use them like any other; they never started here (their
``started_at`` is None), so they do not count against ``total_trials``. A warm-started trial says
where it came from in ``proposed_by`` ("warm start from 'old' trial 7") and holds the claim
``warm:<study>:<number>``: two drivers opening the study at once, or the study reopened, take each
old trial once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import ClaimTaken, SpaceMismatch
from ..objectives import Objectives
from ..storage import Storage
from ..trial import Trial, TrialState
from . import results

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

__all__ = ["WarmStart", "add_result", "brought_in", "load_sources", "warm_start"]

logger = logging.getLogger("shoal")

_MAX_CLAIM = 255  # the SQL column's width


def brought_in(trial: Trial) -> bool:
    """A finished trial that never started in its study: added by hand, warm-started or imported
    from one that was."""
    return trial.state.finished and trial.started_at is None


# -- add_trial ---------------------------------------------------------------------------------------


def _reports(given: Any) -> list[tuple[int, float]]:
    try:
        pairs = list(given)
    except TypeError:
        pairs = None
    if pairs is None or not all(isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2
                                for p in pairs):
        raise ValueError(
            f"add_trial: reports must be (step, value) pairs, e.g. [(0, 0.9), (1, 0.7)], got {given!r}"
        )
    out: dict[int, float] = {}
    for step, value in pairs:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"add_trial: a report's step must be an int >= 0, got {step!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(
                f"add_trial: the report at step {step} must be a finite number, got {value!r}"
            )
        out[int(step)] = float(value)
    return sorted(out.items())


def add_result(
    study: Study,
    config: Mapping[str, Any],
    value: Any,
    values: Mapping[str, Any] | None,
    reports: Any,
    state: TrialState | str,
    error: str | None,
    *,
    proposed_by: str,
    claim: str | None = None,
    finished_at: datetime | None = None,
) -> Trial:
    """``Study.add_trial``: check everything, then store one finished trial."""
    checked = study.space.validate(config, fill_defaults=True)
    if value is not None and values is not None:
        raise ValueError("add_trial: pass value= (one number) or values= (named numbers), not both")
    if values is not None and not isinstance(values, Mapping):
        raise ValueError(f"add_trial: values must map names to numbers, e.g. {study.objectives.example()}, "
                         f"got {values!r}")
    try:
        verdict = results.told(study.objectives, values if values is not None else value, state, error)
    except ValueError as exc:
        raise ValueError(re.sub(r"^tell\b", "add_trial", str(exc))) from None
    now = datetime.now(timezone.utc)
    trial = Trial(
        number=0, state=verdict.state, config=checked, unit=study.space.units_by_value(checked),
        value=verdict.value, error=verdict.error, reports=_reports(reports), claim=claim,
        created_at=now, started_at=None, finished_at=finished_at or now, proposed_by=proposed_by,
        failure=verdict.failure if verdict.state == TrialState.FAILED else None,
        values=verdict.values or {}, feasible=verdict.feasible if verdict.values is not None else None,
    )
    stored = study.storage.import_trial(study.id, trial)
    study._log.put(stored)
    return stored


# -- warm starts -------------------------------------------------------------------------------------


@dataclass
class WarmStart:
    """What a warm start took from one older study: ``taken`` trials now, ``before`` taken by an
    earlier opening (or another driver), ``skipped`` by reason."""

    source: str
    taken: int = 0
    before: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


@dataclass(frozen=True)
class _Source:
    name: str
    objectives: Objectives
    trials: list[Trial]


def _objectives_of(storage: Storage, name: str) -> Objectives:
    record = storage.get_study(name)
    if record.objectives is None:
        return Objectives.single(record.direction)
    return Objectives.from_dict(record.objectives)


def load_sources(study: Study, given: Any) -> list[_Source]:
    """The older studies of ``warm_start_from`` (names in the study's storage, or ``Study`` objects)
    with their trials; ``ValueError`` (or ``StudyNotFound``) before anything is stored."""
    if given is None:
        return []
    from .core import Study

    items = [given] if isinstance(given, (str, Study)) else given
    if not isinstance(items, Sequence) or not all(isinstance(i, (str, Study)) for i in items):
        raise ValueError(f"warm_start_from must be a list of study names (or Study objects), got {given!r}")
    sources = []
    for item in items:
        name = item if isinstance(item, str) else item.name
        storage = study.storage if isinstance(item, str) else item.storage
        if name == study.name and storage is study.storage:
            raise ValueError(f"warm_start_from names study {name!r} itself; name an older study")
        objectives = item.objectives if isinstance(item, Study) else _objectives_of(storage, name)
        for objective in study.objectives.objectives:
            theirs = next((o for o in objectives.objectives if o.name == objective.name), None)
            if theirs is None or theirs.direction != objective.direction:
                what = "does not optimize it" if theirs is None else f"{theirs.direction}s it"
                raise ValueError(
                    f"warm_start_from: this study {objective.direction}s {objective.name!r}, but study "
                    f"{name!r} {what}; its values would teach the model something else. Warm-start from "
                    "a study with the same objectives and directions"
                )
        trials = (item.trials if isinstance(item, Study)
                  else storage.read_trials(storage.get_study(name).study_id))
        sources.append(_Source(name, objectives, trials))
    return sources


def _claim(source: str, number: int) -> str:
    claim = f"warm:{source}:{number}"
    if len(claim) <= _MAX_CLAIM:
        return claim
    return f"warm:{hashlib.sha256(source.encode()).hexdigest()[:32]}:{number}"


def _why_not(study: Study, trial: Trial) -> str | None:
    """Why an older trial cannot seed this study's model (None: it can)."""
    if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED):
        return "not finished" if not trial.state.finished else f"{trial.state.value.lower()}"
    if trial.excluded_from_models is not None:
        return trial.excluded_from_models
    try:
        study.space.check_fits([trial.config])
    except SpaceMismatch as exc:
        named = re.search(r"dimension '([^']*)'", str(exc))
        return f"its {named.group(1)!r} does not fit this space" if named else "it does not fit the space"
    return None


def _result(study: Study, source: _Source, trial: Trial) -> Any:
    """The old trial's result as ``tell`` takes it in this study."""
    if study.objectives.plain:
        return trial.values.get("value", trial.value) if trial.values else trial.value
    if trial.values:
        return dict(trial.values)
    return None if trial.value is None else {source.objectives.first.name: trial.value}


def warm_start(study: Study, sources: list[_Source]) -> list[WarmStart]:
    """Store the old studies' finished trials that fit this study's space as its own (once); log
    how many were taken and skipped."""
    held = {t.claim for t in study._log.by_number.values() if t.claim is not None}
    summaries = []
    for source in sources:
        summary = WarmStart(source.name)
        for trial in source.trials:
            claim = _claim(source.name, trial.number)
            if claim in held:
                summary.before += 1
                continue
            why = _why_not(study, trial)
            if why is None:
                result = _result(study, source, trial)
                named = isinstance(result, Mapping)
                try:
                    add_result(
                        study, study.space.complete(trial.config), None if named else result,
                        result if named else None, trial.reports, trial.state, None, claim=claim,
                        proposed_by=f"warm start from {source.name!r} trial {trial.number}",
                        finished_at=trial.finished_at,
                    )
                except ClaimTaken:  # another driver took it a moment ago
                    summary.before += 1
                    continue
                except ValueError as exc:  # its values do not suit this study (a constraint's metric)
                    why = str(exc).removeprefix("add_trial: ")
                else:
                    summary.taken += 1
                    continue
            summary.skipped[why] = summary.skipped.get(why, 0) + 1
        _log(study, summary)
        summaries.append(summary)
    return summaries


def _log(study: Study, summary: WarmStart) -> None:
    reasons = "; ".join(f"{n} {why}" for why, n in sorted(summary.skipped.items(), key=lambda kv: -kv[1]))
    nothing = summary.taken == 0 and summary.before == 0 and summary.skipped
    level = logging.WARNING if nothing else logging.INFO
    logger.log(
        level, "study %r: warm start from %r: %d trials taken, %d skipped%s%s", study.name, summary.source,
        summary.taken, summary.n_skipped, f" ({reasons})" if reasons else "",
        f", {summary.before} taken before" if summary.before else "",
    )

"""Where a line of training stands, and which checkpoints may go: pure functions over records.

Used by the PBT scheduler (where a segment starts) and by the study's checkpoint policy (what a
trial resumes from, what pruning deletes). No I/O.
"""

from __future__ import annotations

from typing import Any

from ..records import CheckpointRef

__all__ = ["resume_point", "prunable"]


def _root_of(number: int, trials: dict[int, Any]) -> int:
    """The first trial of a chain of re-runs (``requeued_from``)."""
    seen = set()
    while number in trials and trials[number].requeued_from is not None and number not in seen:
        seen.add(number)
        number = trials[number].requeued_from
    return number


def resume_point(
    number: int,
    trials: dict[int, Any],
    refs: list[CheckpointRef],
    lineage: list[Any],
    *,
    include_own: bool = True,
) -> CheckpointRef | None:
    """Where a trial's line of training stands: the latest checkpoint it (or a run it repeats) saved,
    else the checkpoint its segment started from, else None. ``include_own=False`` skips the trial's
    own saves (the start of a re-run that has saved nothing yet)."""
    chain = [number]
    while chain[-1] in trials and trials[chain[-1]].requeued_from is not None and len(chain) < 1000:
        chain.append(trials[chain[-1]].requeued_from)
    members = set(chain if include_own else chain[1:])
    saved = [r for r in refs if r.trial_number in members]
    if saved:
        return max(saved, key=lambda r: (r.step, r.trial_number))
    by_trial = {rec.trial_number: rec for rec in lineage}
    start = by_trial.get(chain[-1])
    if start is None or start.checkpoint is None or start.parent is None:
        return None
    return CheckpointRef(start.parent, start.step, start.checkpoint)


def prunable(
    refs: list[CheckpointRef],
    lineage: list[Any],
    trials: dict[int, Any],
    keep: int,
    protect: Any = (),
) -> list[str]:
    """The uris pruning may delete (pure): beyond the latest ``keep`` of each member, and neither the
    start of any segment whose member has not moved on nor the resume point of a member's latest
    segment, nor in ``protect``."""
    member_of = {rec.trial_number: rec.member for rec in lineage}

    def group(number: int) -> tuple[str, int]:
        root = _root_of(number, trials)
        return ("member", member_of[root]) if root in member_of else ("trial", root)

    kept: set[str] = {r.uri for r in protect if r is not None}
    latest: dict[int, Any] = {}
    for rec in lineage:
        if rec.member not in latest or rec.segment > latest[rec.member].segment:
            latest[rec.member] = rec
    for rec in latest.values():
        if rec.checkpoint:
            kept.add(rec.checkpoint)
        point = resume_point(rec.trial_number, trials, refs, lineage)
        if point is not None:
            kept.add(point.uri)
    for number, trial in trials.items():  # unfinished trials keep where they start
        if not trial.state.finished:
            point = resume_point(number, trials, refs, lineage, include_own=False)
            if point is not None:
                kept.add(point.uri)
    groups: dict[tuple[str, int], list[CheckpointRef]] = {}
    for ref in refs:
        groups.setdefault(group(ref.trial_number), []).append(ref)
    doomed = []
    for members in groups.values():
        members.sort(key=lambda r: (r.step, r.trial_number), reverse=True)
        doomed += [r.uri for r in members[keep:] if r.uri not in kept]
    return doomed

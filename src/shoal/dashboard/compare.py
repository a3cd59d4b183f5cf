"""The compare page's answer: 2 to 5 studies of one space side by side, cached by their trial counts.

The answer (each study's best trial and importance, the overlaid figures of
``shoal.analysis.compare``) is computed again only when a compared study gained trials; a page that
sends the ``key`` it holds gets ``{"unchanged": true}``. Importance, the costly part, is kept per
study and number of completed trials, so a running study does not recompute the others'.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

from ..analysis._data import StudyData
from ..analysis.compare import MAX_STUDIES, MIN_STUDIES, best_trial, check_comparable
from ..errors import ApiError
from ..storage import Storage
from ..trial import TrialState
from .studylist import StudyList

__all__ = ["Comparisons"]

#: Answers kept (one per set of compared studies).
_KEEP = 16


class Comparisons:
    """Answers ``GET /api/compare/A/B/...`` for one storage."""

    def __init__(self, storage: Storage, study_list: StudyList) -> None:
        self.storage = storage
        self.study_list = study_list
        self._answers: dict[tuple[str, ...], tuple[str, dict[str, Any]]] = {}
        self._importance: dict[tuple[int, int], tuple[dict[str, float] | None, str | None]] = {}
        self._lock = threading.Lock()

    def answer(self, names: list[str], since: str | None = None) -> dict[str, Any]:
        if not MIN_STUDIES <= len(names) <= MAX_STUDIES:
            raise ApiError(400, f"compare {MIN_STUDIES} to {MAX_STUDIES} studies, got {len(names)}")
        self.study_list.refresh()
        counts = self.study_list.counts
        missing = [n for n in names if n not in counts]
        if missing:
            raise ApiError(404, f"no study named {missing[0]!r} in this storage")
        key = ";".join(f"{c.study_id}:{c.counts.get(TrialState.COMPLETE, 0)}:{sum(c.counts.values())}"
                       for c in (counts[n] for n in names))
        if since == key:
            return {"key": key, "unchanged": True}
        with self._lock:
            kept = self._answers.get(tuple(names))
        if kept is not None and kept[0] == key:
            return kept[1]
        answer = {"key": key, **self._compute(names)}
        with self._lock:
            self._answers[tuple(names)] = (key, answer)
            while len(self._answers) > _KEEP:
                self._answers.pop(next(iter(self._answers)))
        return answer

    def _compute(self, names: list[str]) -> dict[str, Any]:
        studies, ids = [], []
        for name in names:
            record = self.storage.get_study(name)
            ids.append(record.study_id)
            try:
                studies.append(StudyData.from_record(record, self.storage.read_trials(record.study_id)))
            except ValueError as exc:  # a stored space that cannot be rebuilt
                raise ApiError(422, str(exc)) from None
        try:
            check_comparable(studies)
        except ValueError as exc:
            raise ApiError(400, f"cannot compare: {exc}") from None
        shares = [self._shares(study_id, data) for study_id, data in zip(ids, studies, strict=True)]
        lines = []
        for data, (found, note) in zip(studies, shares, strict=True):
            best = best_trial(data)
            done = sum(t.state == TrialState.COMPLETE for t in data.trials)
            lines.append({
                "name": data.name, "sampler": data.sampler_text, "n_trials": len(data.trials),
                "n_complete": done, "importance": found, "importance_note": note,
                "best": None if best is None else {"number": best.number, "value": best.value,
                                                   "config": best.config},
            })
        return {"direction": studies[0].direction, "dimensions": list(studies[0].space.to_dict()),
                "studies": lines, "figures": _figures(studies, [s[0] for s in shares])}

    def _shares(self, study_id: int, data: StudyData) -> tuple[dict[str, float] | None, str | None]:
        """The study's importance shares, or None and why (too few trials, scikit-learn missing)."""
        from ..analysis.importance import importance_of

        done = sum(t.state == TrialState.COMPLETE for t in data.trials)
        with self._lock:
            kept = self._importance.get((study_id, done))
        if kept is not None:
            return kept
        found: tuple[dict[str, float] | None, str | None]
        try:
            found = (dict(importance_of(data.space, data.trials)), None)
        except (ValueError, ImportError) as exc:
            found = (None, str(exc))
        with self._lock:
            self._importance = {k: v for k, v in self._importance.items() if k[0] != study_id}
            self._importance[(study_id, done)] = found
        return found


def _figures(studies: list[StudyData], shares: list[dict[str, float] | None]) -> dict[str, Any] | None:
    """The three overlaid figures as plotly JSON, or None without plotly."""
    if importlib.util.find_spec("plotly") is None:
        return None
    from ..analysis import compare

    return {
        "history": compare.best_so_far(studies).to_json(),
        "importance": compare.importance_bars(studies, shares).to_json(),
        "edf": compare.edf(studies).to_json(),
    }

"""The study list of a storage of many studies: paged, filtered and sorted on the server, polled cheaply.

A poll reads ``Storage.study_counts`` (names, pause flags and trial counts per state: on SQL an
index-only count, no trial row read) and summarizes again (best value, last activity) only the
studies whose counts changed. Each line keeps the revision it last changed at, so a page that sends
``since`` gets only the lines of its page that changed.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from ..errors import ApiError
from ..storage import Storage, StudyCounts, StudySummary
from .data import MIN_READ_INTERVAL, summary_json

__all__ = ["SORTS", "StudyList", "MAX_LIMIT"]

#: How lines can be sorted: by name, by the last time a trial was created, started or finished, by trials.
SORTS = ("name", "activity", "trials")
#: The most lines one answer holds.
MAX_LIMIT = 500
DEFAULT_LIMIT = 50


def _signature(seen: StudyCounts) -> tuple[Any, ...]:
    counts = sorted((state.value, n) for state, n in seen.counts.items())
    return (seen.name, seen.paused, seen.sampler, seen.scheduler, counts)


class StudyList:
    """Every study's line as last read, with a revision number per change (like ``TrialWatch``)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.rev = 0
        self._lines: dict[int, dict[str, Any]] = {}
        self._revs: dict[int, int] = {}
        self._seen: dict[int, tuple[Any, ...]] = {}
        self.counts: dict[str, StudyCounts] = {}
        self._last: list[StudyCounts] = []
        self._read_at = -math.inf
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the counts again (at most every ``MIN_READ_INTERVAL`` s) and summarize the changed studies."""
        with self._lock:
            if time.monotonic() - self._read_at < MIN_READ_INTERVAL:
                return
            now = self.storage.study_counts()
            if now == self._last:  # the usual poll: nothing changed anywhere
                self._read_at = time.monotonic()
                return
            changed = [c.study_id for c in now if self._seen.get(c.study_id) != _signature(c)]
            summaries = self.storage.summarize_studies(changed) if changed else []
            for summary in summaries:
                self._store(summary)
            for seen in now:
                if seen.study_id in self._lines:
                    self._seen[seen.study_id] = _signature(seen)
            gone = set(self._lines) - {c.study_id for c in now}
            for study_id in gone:  # deleted: the page learns it from the order it is sent
                for kept in (self._lines, self._revs, self._seen):
                    kept.pop(study_id, None)
            self.counts = {c.name: c for c in now if c.study_id in self._lines}
            self._last = now if len(self.counts) == len(now) else []  # a study not summarized yet: again
            self._read_at = time.monotonic()

    def _store(self, summary: StudySummary) -> None:
        line = summary_json(summary)
        last = summary.last_activity or summary.record.created_at
        line["last_activity"] = last.isoformat()
        line["_at"] = last.timestamp()
        study_id = summary.record.study_id
        if self._lines.get(study_id) != line:
            self.rev += 1
            self._lines[study_id] = line
            self._revs[study_id] = self.rev

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = -math.inf

    def page(self, *, query: str = "", sort: str = "activity", order: str = "", offset: int = 0,
             limit: int = DEFAULT_LIMIT, since: int = -1) -> dict[str, Any]:
        """One page of lines: names matching ``query`` (any case), sorted by ``sort`` (``order``
        "asc" or "desc"; names ascend and the others descend by default), ``limit`` from ``offset``.
        ``names`` is the page's order; ``studies`` the lines of the page changed after ``since``."""
        if sort not in SORTS:
            raise ApiError(400, f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
        if order not in ("", "asc", "desc"):
            raise ApiError(400, f"order must be 'asc' or 'desc', got {order!r}")
        if offset < 0:
            raise ApiError(400, f"offset must be >= 0, got {offset}")
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        with self._lock:
            if since > self.rev:  # a page that watched an earlier dashboard: send everything
                since = -1
            needle = query.strip().casefold()
            found = [(i, line) for i, line in self._lines.items() if needle in line["name"].casefold()]
            descending = order == "desc" or (order == "" and sort != "name")
            key = {
                "name": lambda pair: (pair[1]["name"].casefold(), pair[1]["name"]),
                "activity": lambda pair: (pair[1]["_at"], pair[1]["name"]),
                "trials": lambda pair: (pair[1]["n_trials"], pair[1]["name"]),
            }[sort]
            found.sort(key=key, reverse=descending)
            shown = found[offset:offset + limit]
            return {
                "rev": self.rev,
                "total": len(self._lines),
                "matched": len(found),
                "offset": offset,
                "limit": limit,
                "sort": sort,
                "order": "desc" if descending else "asc",
                "names": [line["name"] for _, line in shown],
                "studies": [_public(line) for i, line in shown if self._revs[i] > since],
            }


def _public(line: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in line.items() if k != "_at"}

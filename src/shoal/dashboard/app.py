"""The dashboard's JSON API, apart from HTTP: reads through ``TrialWatch``, actions through ``Study``.

Reads never write. The actions (enqueue a configuration, stop a running trial, pause or unpause the
study, tweak a running trial's hyperparameters, fork a trial from a checkpoint) are the only writes,
each checked before anything is stored.
"""

from __future__ import annotations

import importlib
import importlib.util
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..storage import Storage, StudyNotFound, StudyRecord
from ..trial import Trial, TrialState
from .compare import Comparisons
from .data import ApiError, TrialWatch, study_json, trial_detail, trial_row
from .studylist import DEFAULT_LIMIT, StudyList

__all__ = ["DashboardApp"]

#: Plots the page draws itself (live, with no dependency), so not offered again from shoal.analysis.
_OWN_PLOTS = ("history",)


def _offered(plots: Any, data: Any) -> tuple[Any, ...]:
    """The plots the study has data for (``shoal.analysis.plots.plots_for``): no lineage plot
    without lineage, with several objectives the Pareto front and the hypervolume too."""
    return plots.plots_for(data)


def _plots():
    """``shoal.analysis.plots`` when it and plotly are installed, else None."""
    if importlib.util.find_spec("plotly") is None:
        return None
    try:
        return importlib.import_module("shoal.analysis.plots")
    except ImportError:
        return None

_T = TypeVar("_T")
#: Threads that touch storage: few and long-lived, so each keeps its one SQLite connection.
STORAGE_THREADS = 4


class DashboardApp:
    """Answers the API calls for one storage. Safe to call from the server's threads."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        #: Changes with every dashboard process, so a page knows to drop what it holds.
        self.epoch = secrets.token_hex(4)
        self._watches: dict[str, TrialWatch] = {}
        self.study_list = StudyList(storage)
        self.comparisons = Comparisons(storage, self.study_list)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(STORAGE_THREADS, thread_name_prefix="shoal-dashboard-storage")

    def run(self, method: Callable[..., _T], *args: Any) -> _T:
        """Call ``method`` on a storage thread (the HTTP server starts a thread per request, and a
        SQLite connection per thread would be opened and dropped on every poll)."""
        try:
            future = self._pool.submit(method, *args)
        except RuntimeError:  # closed: a request that came in while the dashboard stops
            raise ApiError(503, "the dashboard is stopping") from None
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- reading -------------------------------------------------------------------------------
    def _record(self, name: str) -> StudyRecord:
        try:
            return self.storage.get_study(name)
        except StudyNotFound as exc:
            raise ApiError(404, str(exc)) from None

    def _watch(self, name: str) -> TrialWatch:
        record = self._record(name)
        with self._lock:
            watch = self._watches.get(name)
            if watch is None or watch.record.study_id != record.study_id:  # new, or deleted and remade
                watch = self._watches[name] = TrialWatch(self.storage, record)
            watch.record = record  # the paused flag and the sampler may have changed
        watch.refresh()
        return watch

    def studies(self, since: int = -1, epoch: str | None = None, query: str = "", sort: str = "activity",
                order: str = "", offset: int = 0, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """A page of the study list (``StudyList.page``): only lines changed since revision
        ``since`` of this dashboard process (all when the epoch differs)."""
        self.study_list.refresh()
        answer = self.study_list.page(query=query, sort=sort, order=order, offset=offset, limit=limit,
                                      since=since if epoch == self.epoch else -1)
        return {"epoch": self.epoch, **answer}

    def compare(self, names: list[str], since: str | None = None) -> dict[str, Any]:
        """2 to 5 studies side by side (``Comparisons.answer``)."""
        return self.comparisons.answer(names, since)

    def study(self, name: str) -> dict[str, Any]:
        watch = self._watch(name)
        return study_json(watch.record, *watch.stats())

    def trials(self, name: str, since: int = -1, epoch: str | None = None) -> dict[str, Any]:
        """Rows changed since revision ``since`` of this dashboard process (all when the epoch differs)."""
        watch = self._watch(name)
        rev, rows = watch.changed_since(since if epoch == self.epoch else -1)
        return {"epoch": self.epoch, "rev": rev, "trials": rows}

    def trial(self, name: str, number: int) -> dict[str, Any]:
        watch = self._watch(name)
        trial = watch.trials.get(number)
        if trial is None:
            raise ApiError(404, f"study {name!r} has no trial number {number}")
        detail = trial_detail(trial, dict(watch.trials), watch.note(number))
        mine = [n for n in self.storage.read_notes(watch.record.study_id) if n.trial_number == number]
        detail["user_note"] = mine[0].text if mine else None
        detail["ended"] = watch.ended(number)  # read now: another process may have set it
        runs = [number, *detail["lineage"]["repeats"]]  # a fork may start from a repeated run's checkpoint
        saved = self.storage.read_checkpoints(watch.record.study_id, numbers=runs)
        detail["checkpoint_steps"] = sorted({ref.step for ref in saved})
        return detail

    def figures(self, name: str) -> dict[str, Any]:
        """The plots ``shoal.analysis`` offers for the study's data so far (none without plotly):
        ``[{"key", "title"}]``."""
        from ..analysis._data import StudyData

        watch = self._watch(name)
        plots = _plots()
        if plots is None:
            return {"figures": []}
        try:
            data = StudyData.from_record(watch.record, list(watch.trials.values()), self.storage)
        except ValueError as exc:  # a stored space that cannot be rebuilt
            raise ApiError(422, str(exc)) from None
        listed = [{"key": key, "title": title} for key, title, _ in _offered(plots, data)
                  if key not in _OWN_PLOTS]
        return {"figures": listed}

    def figure(self, name: str, key: str) -> dict[str, Any]:
        """One analysis plot of the study as plotly JSON (drawn by plotly.js served from plotly)."""
        from ..analysis._data import StudyData

        self._record(name)
        plots = _plots()
        try:
            data = StudyData.from_storage(self.storage, name)
        except ValueError as exc:  # a stored space that cannot be rebuilt
            raise ApiError(422, str(exc)) from None
        found = {k: (title, fn) for k, title, fn in (_offered(plots, data) if plots is not None else ())}
        if key not in found:
            known = {k: t for k, t, _ in plots.PLOTS} if plots is not None else {}
            if key in known and plots is not None:
                raise ApiError(404, f"no data for plot {key!r} yet: {plots.missing(key, data)}")
            raise ApiError(404, f"no plot {key!r}; plots: {', '.join(found) or 'none (install plotly)'}")
        title, function = found[key]
        try:
            figure = function(data)
        except (ValueError, ImportError) as exc:  # too few trials, ...
            raise ApiError(422, f"{title}: {exc}") from None
        return {"key": key, "title": title, "figure": figure.to_json()}

    # -- panda mode: a person steers the study -------------------------------------------------
    def enqueue(self, name: str, config: Any) -> dict[str, Any]:
        """Queue a configuration after ``Study.enqueue`` validated it against the space."""
        from ..study import Study

        self._record(name)
        if not isinstance(config, dict):
            raise ApiError(400, 'send {"config": {"<dimension>": value, ...}}')
        try:
            study = Study.load(name, self.storage)
            trial = study.enqueue(config)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        self._changed(name)
        return {"trial": trial_row(trial)}

    def _changed(self, name: str) -> None:
        """After an action, the next poll reads storage (the page shows its effect at once)."""
        with self._lock:
            watch = self._watches.get(name)
        if watch is not None:
            watch.invalidate()

    def stop(self, name: str, number: int) -> dict[str, Any]:
        """Ask a running trial to stop: the objective's next ``report`` answers stop."""
        trial = self._trial(name, number)
        if trial.state != TrialState.RUNNING or not self.storage.request_stop(trial.trial_id or 0):
            state = trial.state.value if trial.state != TrialState.RUNNING else "no longer RUNNING"
            raise ApiError(409, f"trial {number} is {state}; only a running trial can be stopped")
        self._changed(name)
        return {"number": number, "stop_requested": True}

    def _trial(self, name: str, number: int) -> Trial:
        trial = self._watch(name).trials.get(number)
        if trial is None:
            raise ApiError(404, f"study {name!r} has no trial number {number}")
        return trial

    def tweak(self, name: str, number: int, changes: Any) -> dict[str, Any]:
        """Change running (or paused) trial ``number``'s hyperparameters (``Study.tweak``, source
        "person"): delivered at its next report. 409 for a trial in another state, 400 for a value
        the space refuses; nothing is stored then."""
        from ..study import Study

        trial = self._trial(name, number)
        if trial.state not in (TrialState.RUNNING, TrialState.PAUSED):
            raise ApiError(409, f"trial {number} is {trial.state.value}; only a RUNNING or PAUSED trial can "
                                "be tweaked (fork it to go on from one of its checkpoints)")
        if not isinstance(changes, dict) or not changes:
            raise ApiError(400, 'send {"changes": {"<dimension>": value, ...}} with at least one dimension')
        try:
            stored = Study.load(name, self.storage).tweak(number, changes, source="person")
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        self._changed(name)
        return {"number": number, "changes": [
            {"name": c.name, "old": c.old, "new": c.new, "source": c.source, "kind": c.kind} for c in stored
        ]}

    def fork(self, name: str, number: int, step: Any, changes: Any) -> dict[str, Any]:
        """A QUEUED trial starting from trial ``number``'s checkpoint at or before ``step`` with
        ``changes`` applied (``Study.fork``); 400 with the reason when there is no such checkpoint."""
        from ..study import Study

        self._trial(name, number)
        if isinstance(step, bool) or not isinstance(step, int):
            shape = '{"step": <int>, "changes": {...}}'
            raise ApiError(400, f"send {shape}; step must be an int, got {step!r}")
        if changes is not None and not isinstance(changes, dict):
            raise ApiError(400, f"changes must be an object of dimension names to values, got {changes!r}")
        try:
            child = Study.load(name, self.storage).fork(number, step, changes or None, source="person")
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        self._changed(name)
        return {"trial": trial_row(child)}

    # -- notes and deleting ---------------------------------------------------------------------
    def study_note(self, name: str) -> dict[str, Any]:
        """The study's Markdown note (``{"note": null}`` when it has none)."""
        record = self._record(name)
        found = [n for n in self.storage.read_notes(record.study_id) if n.trial_number is None]
        return {"note": found[0].text if found else None,
                "updated_at": found[0].updated_at.isoformat() if found and found[0].updated_at else None}

    def set_note(self, name: str, number: int | None, text: Any) -> dict[str, Any]:
        """Set the study's note (``number`` None) or trial ``number``'s; empty text removes it."""
        if not isinstance(text, str):
            raise ApiError(400, 'send {"text": "<Markdown>"} (an empty text removes the note)')
        record = self._record(name)
        if number is not None:
            self._trial(name, number)
        try:
            stored = self.storage.set_note(record.study_id, text, trial_number=number)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        kept = None if stored is None else stored.text
        if number is not None:
            with self._lock:
                watch = self._watches.get(name)
            if watch is not None:
                watch.noted(number, kept)
        return {"number": number, "note": kept}

    def delete(self, name: str, confirm: Any) -> dict[str, Any]:
        """Delete the study and everything stored with it, once ``confirm`` repeats its name."""
        self._record(name)
        if confirm != name:
            raise ApiError(400, f'to delete study {name!r} for good, send {{"confirm": "{name}"}}: its name, '
                                "typed again")
        with self._lock:
            watch = self._watches.pop(name, None)
        n_trials = len(watch.trials) if watch is not None else None
        self.storage.delete_study(name)
        self.study_list.invalidate()  # the list's next poll reads storage: the study is gone at once
        return {"deleted": name, "n_trials": n_trials}

    def pause(self, name: str, paused: Any) -> dict[str, Any]:
        if not isinstance(paused, bool):
            raise ApiError(400, 'send {"paused": true} to pause or {"paused": false} to unpause')
        record = self._record(name)
        self.storage.set_paused(record.study_id, paused)
        self.study_list.invalidate()
        return {"name": name, "paused": paused}

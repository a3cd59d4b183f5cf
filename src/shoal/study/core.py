"""Study: a named, persisted set of trials for one space and one direction.

A thin coordinator: the sampler decides what to try, storage keeps every trial, the executor runs
objective calls. ``ask``/``tell`` for users who own the loop, ``optimize`` for everyone else.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..execution import Job, choose_executor, wants_trial
from ..execution.inprocess import as_value
from ..samplers.auto import Auto
from ..samplers.base import Sampler, SamplingContext
from ..space import Space, as_space
from ..storage import ClaimTaken, Storage, StudyNotFound, get_storage
from ..trial import Trial, TrialState
from .checkpointing import Checkpointing
from .handle import RunningTrial
from .heartbeat import Heartbeat, pid_alive
from .loop import Budget, TrialLoop
from .progress import ProgressBar
from .scheduling import SchedulerGlue, check_scheduler
from .trial_log import TrialLog

__all__ = ["Study"]

logger = logging.getLogger("shoal")

_DIRECTIONS = ("minimize", "maximize")
#: How often a driver says it is alive, and how long silence means it is gone.
HEARTBEAT_SECONDS = 10.0
STALE_AFTER_SECONDS = 60.0
#: A configuration whose runs keep vanishing (it kills its driver) is re-queued at most this often.
MAX_REQUEUES = 2


def _check_direction(direction: str) -> str:
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    return direction


class Study:
    """A named set of trials over one space, persisted in ``storage``.

    ``Study(name, space, ...)`` creates the study, or resumes it when the storage already has one of
    that name (the stored trials must fit ``space``: a widened range or a new dimension with a
    default is fine). ``storage=None`` keeps it in memory; ``"sqlite:///shoal.db"`` or any SQLAlchemy
    URL persists it. ``seed`` seeds the sampler so a run repeats exactly.
    """

    def __init__(
        self,
        name: str,
        space: Space | Mapping[str, Any],
        direction: str = "minimize",
        storage: str | Storage | None = None,
        sampler: Sampler | None = None,
        *,
        seed: int | None = None,
        requeue_stale: bool = True,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
        scheduler: Any = None,
        checkpoints: Any = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if sampler is not None and not isinstance(sampler, Sampler):
            raise ValueError(
                f"sampler must be a shoal sampler such as shoal.samplers.Random(), got {sampler!r}"
            )
        self.name = name
        self.space = as_space(space)
        self.direction = _check_direction(direction)
        self.sampler: Sampler = (sampler or Auto()).with_seed(seed)
        self._sampler_given = sampler is not None
        self.scheduler = check_scheduler(scheduler)  # decides on running trials (shoal.schedulers)
        self._glue = None if scheduler is None else SchedulerGlue(self.scheduler.with_seed(seed))
        self._checkpoints = Checkpointing(self, checkpoints)  # a path, fsspec URL or CheckpointStore
        self.requeue_stale = requeue_stale
        if not (isinstance(heartbeat_seconds, (int, float)) and heartbeat_seconds > 0):
            raise ValueError(f"heartbeat_seconds must be > 0, got {heartbeat_seconds!r}")
        if not (isinstance(stale_after, (int, float)) and stale_after >= 3 * heartbeat_seconds):
            raise ValueError(
                f"stale_after must be at least 3 x heartbeat_seconds ({3 * heartbeat_seconds:g}s), so "
                f"a slow but live driver is never judged gone; got {stale_after!r}"
            )
        self.heartbeat_seconds = float(heartbeat_seconds)
        self.stale_after = float(stale_after)
        self.storage = get_storage(storage)
        self._log = TrialLog()
        self._driver_id: int | None = None
        self._heartbeat: Heartbeat | None = None
        self._record = self._open_record()
        self.refresh()
        self._check_space_fits()
        if self.storage.shared and self._log.active:
            self.recover_stale()

    # -- opening -------------------------------------------------------------------------------
    def _open_record(self):
        try:
            record = self.storage.get_study(self.name)
        except StudyNotFound:
            try:
                return self.storage.create_study(
                    self.name, self.direction, self.space.to_dict(), self.sampler.describe()
                )
            except ValueError:  # created by another driver between our two calls
                record = self.storage.get_study(self.name)
        if record.direction != self.direction:
            raise ValueError(
                f"study {self.name!r} was created with direction={record.direction!r}; "
                f"pass direction={record.direction!r} or use a new study name"
            )
        if self._sampler_given and record.sampler != self.sampler.describe():
            self.storage.update_study(record.study_id, sampler=self.sampler.describe())
        return record

    def _check_space_fits(self) -> None:
        stored = self._record.space
        current = self.space.to_dict()
        if stored == current:
            return
        self.space.check_fits(t.config for t in self._log.by_number.values())
        self.storage.update_study(self._record.study_id, space=current)
        for trial in self._log.by_number.values():
            self._place(trial)
        logger.info("study %r: space updated; %d stored trials fit it", self.name, len(self._log))

    @classmethod
    def load(
        cls,
        name: str,
        storage: str | Storage,
        *,
        space: Space | Mapping[str, Any] | None = None,
        sampler: Sampler | None = None,
        seed: int | None = None,
        requeue_stale: bool = True,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
        scheduler: Any = None,
    ) -> Study:
        """Open an existing study to inspect or resume it; ``optimize`` then continues it.

        ``space`` may differ from the stored one where the old trials still fit it.
        """
        backend = get_storage(storage)
        record = backend.get_study(name)
        if space is None:
            try:
                space = Space.from_dict(record.space)
            except ValueError as exc:
                raise ValueError(
                    f"study {name!r}: the stored space cannot be rebuilt ({exc}); pass space=..."
                ) from None
        return cls(
            name,
            space,
            record.direction,
            backend,
            sampler,
            seed=seed,
            requeue_stale=requeue_stale,
            heartbeat_seconds=heartbeat_seconds,
            stale_after=stale_after,
            scheduler=scheduler,
        )

    # -- reading -------------------------------------------------------------------------------
    @property
    def id(self) -> int:
        """The study's id in its storage (what storage-level calls and SQL queries take)."""
        return self._record.study_id

    def _place(self, trial: Trial) -> None:
        """Fill the unit coordinates of dimensions the stored trial lacks (a changed space)."""
        for name, dim in self.space:
            if name not in trial.unit:
                value = trial.config.get(name, dim.default if dim.has_default else None)
                if name in trial.config or dim.has_default:
                    try:
                        trial.unit[name] = dim.to_unit(value)
                    except ValueError:
                        pass

    def refresh(self) -> None:
        """Read what other drivers have written since the last look."""
        for trial in self.storage.read_trials(
            self._record.study_id, after=self._log.last_seen, numbers=self._log.watched()
        ):
            if self._record.space != self.space.to_dict() or len(trial.unit) < len(trial.config):
                self._place(trial)
            self._log.put(trial)

    @property
    def trials(self) -> list[Trial]:
        """All trials, by number."""
        self.refresh()
        return self._log.ordered()

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "maximize" else a < b

    def _best_value(self) -> float | None:
        values = [t.value for t in self._log.finished if t.state == TrialState.COMPLETE]
        if not values:
            return None
        return max(values) if self.direction == "maximize" else min(values)

    @property
    def best(self) -> Trial:
        """The completed trial with the best value; ``ValueError`` while there is none."""
        best: Trial | None = None
        for trial in self.trials:
            if trial.state == TrialState.COMPLETE and trial.value is not None:
                if best is None or self._better(trial.value, best.value):  # type: ignore[arg-type]
                    best = trial
        if best is None:
            raise ValueError(f"study {self.name!r} has no completed trial yet")
        return best

    @property
    def plot(self):
        """Plotly figures of this study: ``study.plot.history()``, ``.contour()``, ... (needs plotly)."""
        from ..analysis.plots import StudyPlots
        return StudyPlots(self)

    def to_dataframe(self):
        """One row per trial: number, state, value, a ``config_<name>`` column per dimension, ..."""
        from .frame import trials_frame

        return trials_frame(self.trials, self.space.names)

    # -- ask / tell ----------------------------------------------------------------------------
    def _driver(self) -> int:
        if self._driver_id is None:
            self._driver_id = self.storage.register_driver(socket.gethostname(), os.getpid())
            if self.storage.shared:
                self._heartbeat = Heartbeat(self.storage, self._driver_id, self.heartbeat_seconds)
                weakref.finalize(self, self._heartbeat.stop)
        return self._driver_id

    def ask(self, *, budget: int | None = None) -> RunningTrial:
        """Start the next trial: a queued one if any, else the sampler's proposal.

        Raises ``SearchExhausted`` when the sampler has nothing left (a finished grid).
        """
        driver = self._driver()
        self.refresh()
        if self._log.has_queued():
            claimed = self.storage.claim_queued(self._record.study_id, driver)
            if claimed is not None:
                return self._start(claimed)
        for _attempt in range(100):
            context = self._context(budget)
            proposal = self.sampler.propose(context)
            config, unit = self.space.decode(proposal.unit)
            try:
                record = self.storage.create_trial(
                    self._record.study_id,
                    TrialState.RUNNING,
                    config,
                    unit,
                    claim=proposal.claim,
                    round=proposal.round,
                    driver_id=driver,
                    proposed_by=proposal.proposed_by,
                )
            except ClaimTaken:
                self.refresh()  # another driver took that point; look again
                continue
            return self._start(record)
        raise RuntimeError("the sampler kept proposing points other drivers had already claimed")

    def _context(self, budget: int | None) -> SamplingContext:
        return SamplingContext(
            space=self.space,
            study_name=self.name,
            direction=self.direction,
            trial_number=self._log.last_seen + 1,
            history=self._log.finished,
            running=list(self._log.active.values()),
            budget=budget,
        )

    def _start(self, record: Trial) -> RunningTrial:
        self._log.put(record)
        self._log.mine.add(record.number)
        return RunningTrial(self, record)

    def _report(self, record: Trial, step: int, value: float) -> bool:
        """Store an intermediate value; return whether the trial should stop early."""
        assert record.trial_id is not None
        requested = self.storage.add_report(record.trial_id, step, value)  # a person's stop request
        record.reports = [r for r in record.reports if r[0] != step] + [(step, value)]
        record.reports.sort()
        if requested:
            record.stop_requested = True
            return True
        return False if self._glue is None else self._glue.on_report(self, record, step, value)

    def _resume(self) -> RunningTrial | None:
        """A PAUSED trial the scheduler promotes, resumed in this driver (None when none)."""
        return None if self._glue is None else self._glue.resume(self, self._driver())

    def _own(self, trial: RunningTrial | int) -> Trial:
        number = trial.number if isinstance(trial, RunningTrial) else trial
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"trial must be a RunningTrial from ask() or a trial number, got {trial!r}")
        self.refresh()
        record = self._log.by_number.get(number)
        if record is None:
            raise ValueError(f"study {self.name!r} has no trial number {number}")
        return record

    def tell(
        self,
        trial: RunningTrial | int,
        value: float | None = None,
        *,
        state: TrialState | str | None = None,
        error: str | None = None,
    ) -> Trial:
        """Finish a running trial: with a value it is COMPLETE; or pass ``state="FAILED"``/``"PRUNED"``.

        A NaN or infinite value marks the trial FAILED with that reason. Returns the stored trial.
        """
        record = self._own(trial)
        if state is None:
            if value is None:
                raise ValueError("tell needs a value, or state='FAILED' / 'PRUNED'")
            number, problem = as_value(value)
            if problem is not None and number is None and not _is_number(value):
                raise ValueError(f"tell: value must be a number, got {value!r}")
            state = TrialState.COMPLETE if problem is None else TrialState.FAILED
            return self._finish(record, state, number, problem or error)
        try:
            state = TrialState(state)
        except ValueError:
            state = None
        if state not in (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED):
            raise ValueError("tell: state must be 'COMPLETE', 'FAILED' or 'PRUNED'")
        if value is not None:
            value, problem = as_value(value)
            if problem is not None:
                raise ValueError(f"tell: {problem}")
        if state == TrialState.COMPLETE and value is None:
            raise ValueError("tell: a COMPLETE trial needs a finite value")
        return self._finish(record, state, value, error)

    def _finish(
        self, record: Trial, state: TrialState, value: float | None, error: str | None
    ) -> Trial:
        if record.state != TrialState.RUNNING:
            raise ValueError(
                f"trial {record.number} is {record.state}, not RUNNING; finished trials never change"
            )
        assert record.trial_id is not None
        if self._glue is not None:  # told to stop: PRUNED; told to pause: PAUSED
            state, value = self._glue.final_state(record, state, value)
        finished = self.storage.set_state(
            record.trial_id, TrialState.RUNNING, state, value=value, error=error
        )
        self._log.put(finished)
        return finished

    def enqueue(self, config: Mapping[str, Any]) -> Trial:
        """Queue a configuration a person chose; the next ``ask`` runs it before sampling."""
        checked = self.space.validate(config, fill_defaults=True)
        unit = {
            name: float(u)
            for name, u in zip(self.space.names, self.space.encode(checked), strict=True)
            if not math.isnan(u)
        }
        record = self.storage.create_trial(
            self._record.study_id, TrialState.QUEUED, checked, unit
        )
        self._log.put(record)
        return record

    # -- steering by a person (also from the dashboard) ----------------------------------------
    @property
    def paused(self) -> bool:
        """True while the study is paused: a running ``optimize`` starts no new trial."""
        return self.storage.is_paused(self._record.study_id)

    def pause(self) -> None:
        """Pause the study: every driver's ``optimize`` starts no new trial until ``unpause``."""
        self.storage.set_paused(self._record.study_id, True)

    def unpause(self) -> None:
        """Undo ``pause``: every driver's ``optimize`` starts trials again."""
        self.storage.set_paused(self._record.study_id, False)

    def stop_trial(self, number: int) -> bool:
        """Ask running trial ``number`` to stop: its next ``report`` answers stop. False if not running."""
        record = self._own(number)
        return record.state == TrialState.RUNNING and self.storage.request_stop(record.trial_id or 0)

    # -- crash recovery ------------------------------------------------------------------------
    def recover_stale(self) -> list[Trial]:
        """Mark RUNNING trials whose driver vanished as STALE (and re-queue them if configured).

        A driver is gone when its process is dead on this host, or when it has sent no heartbeat
        for ``stale_after`` seconds (its heartbeat thread beats every ``heartbeat_seconds`` whatever
        the trial does); a slow but live trial is never taken from its driver.
        """
        host, now, stale = socket.gethostname(), datetime.now(timezone.utc), []
        for trial, driver in self.storage.running_with_drivers(self._record.study_id):
            if driver is None or driver.driver_id == self._driver_id:
                continue
            silent = (now - driver.heartbeat_at).total_seconds()
            dead = driver.host == host and driver.pid != os.getpid() and not pid_alive(driver.pid)
            if not dead and silent < self.stale_after:
                continue
            why = (
                f"driver {driver.host}:{driver.pid} vanished"
                + (" (process gone)" if dead else f" (no heartbeat for {silent:.0f}s)")
            )
            stale.append(self._mark_stale(trial, why))
        self.refresh()
        return [t for t in stale if t is not None]

    def _mark_stale(self, trial: Trial, why: str) -> Trial | None:
        assert trial.trial_id is not None
        try:
            marked = self.storage.set_state(
                trial.trial_id, TrialState.RUNNING, TrialState.STALE, error=why
            )
        except Exception:  # noqa: BLE001 - it finished or was claimed meanwhile
            return None
        self._log.put(marked)
        if self.requeue_stale and self._requeue_depth(marked) < MAX_REQUEUES:
            self._repeat(marked, TrialState.QUEUED)
        return marked

    def _requeue_depth(self, trial: Trial) -> int:
        depth = 0
        while trial.requeued_from is not None and trial.requeued_from in self._log.by_number:
            depth += 1
            trial = self._log.by_number[trial.requeued_from]
        return depth

    # -- the loop ------------------------------------------------------------------------------
    def optimize(
        self,
        objective: Callable[..., Any],
        n_trials: int | None = None,
        *,
        timeout: float | None = None,
        n_workers: int = 1,
        executor: Any = None,
        timeout_per_trial: float | None = None,
        max_trials_per_worker: int | None = None,
        retries: int = 0,
        total_trials: int | None = None,
        catch: Iterable[type[BaseException]] | type[BaseException] = (Exception,),
        show_progress: bool = True,
        callbacks: Iterable[Callable[[Study, Trial], None]] = (),
    ) -> None:
        """Run ``objective(config)`` (or ``objective(config, trial)``) on ``n_trials`` new trials.

        ``n_workers > 1`` runs that many trials at once in local worker processes (a new one starts
        the moment a slot frees); ``executor=`` takes a Dask ``Client`` or scheduler address, or any
        ``shoal.execution.Executor``. ``timeout_per_trial`` stops (and fails) a trial that runs too
        long; ``max_trials_per_worker`` recycles worker processes (for leaky objectives); ``retries``
        re-runs a failed trial up to that many times, each attempt kept. ``total_trials`` is a
        study-wide budget shared by every driver. Exceptions of a type in ``catch`` mark the trial
        FAILED (traceback kept) and the study goes on; others are recorded, then raised. Ctrl-C marks
        running trials STALE, re-queues them and stops; ``optimize`` again resumes.
        """
        _check_count("n_trials", n_trials)
        _check_count("total_trials", total_trials)
        _check_count("max_trials_per_worker", max_trials_per_worker)
        for name, seconds in (("timeout", timeout), ("timeout_per_trial", timeout_per_trial)):
            if seconds is not None and not (isinstance(seconds, (int, float)) and seconds > 0):
                raise ValueError(f"{name} must be a number of seconds > 0, got {seconds!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        catch = (catch,) if isinstance(catch, type) else tuple(catch)
        if not all(isinstance(c, type) and issubclass(c, BaseException) for c in catch):
            raise ValueError(f"catch must be exception classes, got {catch!r}")
        job = Job(objective, wants_trial(objective), catch)
        runner = choose_executor(
            n_workers, executor, timeout_per_trial=timeout_per_trial,
            max_trials_per_worker=max_trials_per_worker,
        )
        self._driver()
        self.recover_stale()
        deadline = None if timeout is None else time.monotonic() + timeout
        with ProgressBar(n_trials, show_progress, self.name) as progress:
            TrialLoop(
                self,
                runner,
                job,
                Budget(n_trials, total_trials, deadline),
                timeout_per_trial=timeout_per_trial,
                retries=retries,
                callbacks=callbacks,
                progress=progress,
            ).run()

    def _ask_within(self, n_trials: int | None, total_trials: int | None) -> RunningTrial | None:
        """``ask``, unless the study already holds ``total_trials`` configurations (then None)."""
        if total_trials is not None:
            self.refresh()
            started = sum(1 for t in self._log.by_number.values() if t.requeued_from is None)
            # a re-queued trial repeats a started configuration that has no result yet: run it anyway
            requeued = any(
                t.state == TrialState.QUEUED and t.requeued_from is not None
                for t in self._log.active.values()
            )
            if started >= total_trials and not requeued:
                return None
        return self.ask(budget=n_trials)

    def _rerun(self, failed: Trial) -> RunningTrial:
        """Start a new attempt of a failed trial's configuration."""
        return self._start(self._repeat(failed, TrialState.RUNNING, self._driver()))

    def _repeat(self, trial: Trial, state: TrialState, driver_id: int | None = None) -> Trial:
        """A new trial with ``trial``'s configuration that names it as the one it repeats."""
        return self.storage.create_trial(
            self._record.study_id,
            state,
            trial.config,
            trial.unit,
            round=trial.round,
            requeued_from=trial.number,
            driver_id=driver_id,
        )

    def __repr__(self) -> str:
        return (
            f"Study({self.name!r}, direction={self.direction!r}, storage={self.storage.url!r}, "
            f"sampler={self.sampler!r}, trials={len(self._log)})"
        )


def _check_count(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

"""The optimize loop: keep every executor slot busy, record what comes back, survive faults.

A new trial starts the moment a slot frees (no batch barrier). A call that fails (an exception, its
worker died, it ran past ``timeout_per_trial``) may be retried ``retries`` times as a new trial that
names the attempt it repeats; every attempt stays in storage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..direction import better
from ..errors import SearchExhausted, StateConflict
from ..execution.base import Died, Executor, Finished, Job, Outcome
from ..records import Steering
from ..trial import NOTE_STEP, FailureKind, Trial, TrialState
from . import recovery, results
from .fail_fast import ImportWatch
from .handle import RunningTrial
from .progress import ProgressBar
from .warm import brought_in

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

logger = logging.getLogger("shoal")
#: How often a paused study's loop looks whether a person resumed it.
PAUSE_POLL_SECONDS = 0.5


@dataclass
class _Running:
    handle: RunningTrial
    started: float
    attempt: int


@dataclass
class Budget:
    """When to stop starting trials: this call's count, the study's total, a deadline."""

    n_trials: int | None = None
    total_trials: int | None = None
    deadline: float | None = None


def check_optimize_options(
    *,
    n_trials: int | None,
    total_trials: int | None,
    max_trials_per_worker: int | None,
    timeout: float | None,
    timeout_per_trial: float | None,
    retries: int,
    catch: Iterable[type[BaseException]] | type[BaseException],
) -> tuple[type[BaseException], ...]:
    """Check ``optimize``'s options before anything runs; return ``catch`` as a tuple."""
    for name, count in (("n_trials", n_trials), ("total_trials", total_trials),
                        ("max_trials_per_worker", max_trials_per_worker)):
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError(f"{name} must be a positive int or None, got {count!r}")
    for name, seconds in (("timeout", timeout), ("timeout_per_trial", timeout_per_trial)):
        if seconds is not None and not (isinstance(seconds, (int, float)) and seconds > 0):
            raise ValueError(f"{name} must be a number of seconds > 0, got {seconds!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, got {retries!r}")
    catch = (catch,) if isinstance(catch, type) else tuple(catch)
    if not all(isinstance(c, type) and issubclass(c, BaseException) for c in catch):
        raise ValueError(f"catch must be exception classes, got {catch!r}")
    return catch


def budget_spent(study: Study, total_trials: int | None) -> bool:
    """Whether the study already holds ``total_trials`` configurations (a study-wide budget; trials
    it never ran, added or warm-started, do not count)."""
    if total_trials is None:
        return False
    study.refresh()
    started = sum(1 for t in study._log.by_number.values()
                  if t.requeued_from is None and not brought_in(t))
    # a queued trial (enqueued, or re-queued after its driver vanished) is counted already: run it
    return started >= total_trials and not study._log.has_queued()


def planned(study: Study, n_trials: int | None) -> int | None:
    """The progress bar's total: ``n_trials``, or fewer where the study's scheduler plans fewer
    (PBT's segments left)."""
    left = None if study._glue is None else study._glue.trials_left()
    if left is None:
        return n_trials
    return left if n_trials is None else min(n_trials, left)


class TrialLoop:
    """Runs one ``optimize`` call on an executor."""

    def __init__(
        self,
        study: Study,
        executor: Executor,
        job: Job,
        budget: Budget,
        *,
        timeout_per_trial: float | None,
        retries: int,
        callbacks: Iterable[Callable[[Study, Trial], None]],
        progress: ProgressBar,
    ) -> None:
        self.study = study
        self.executor = executor
        self.job = job
        self.budget = budget
        self.timeout_per_trial = timeout_per_trial
        self.retries = retries
        self.callbacks = list(callbacks)
        self.progress = progress
        self.running: dict[int, _Running] = {}
        self.started = 0
        self.exhausted = False
        self.to_raise: BaseException | None = None
        self.best = study._best_value()
        self.paused = False  # a person paused the study (storage flag): start nothing new
        self.imports = ImportWatch(executor)  # the first trials all fail importing one module: stop
        self._next_recovery = time.monotonic() + study.heartbeat_seconds

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        self.executor.start(self.job, self._on_report, self._on_checkpoint)
        try:
            while True:
                self._fill()
                if not self.running:
                    if self.paused and self._may_start():
                        self._wait_paused()
                        continue
                    break
                for event in self.executor.wait(self._wait_seconds()):
                    self._handle(event)
                self._enforce_timeouts()
                self._recover_periodically()
        except BaseException as exc:
            self._abandon(f"interrupted ({type(exc).__name__})")
            raise
        finally:
            self.executor.close()
        if self.to_raise is not None:
            raise self.to_raise
        if self.exhausted:  # nothing left to try: the bar ends full at what ran
            self.progress.finish()

    def _may_start(self) -> bool:
        budget = self.budget
        if self.exhausted or self.to_raise is not None:
            return False
        if budget.n_trials is not None and self.started >= budget.n_trials:
            return False
        if self.imports.doubtful and self.running:  # the first trial failed an import: wait for more
            return False
        return not self._late()

    def _late(self) -> bool:
        return self.budget.deadline is not None and time.monotonic() >= self.budget.deadline

    def _held(self) -> bool:
        """Whether the study is paused; storage is asked only when a slot is free."""
        free = len(self.running) < self.executor.slots and self._may_start()
        self.paused = free and self.study.paused
        return self.paused

    def _wait_paused(self) -> None:
        time.sleep(PAUSE_POLL_SECONDS)
        self._recover_periodically()

    def _fill(self) -> None:
        """Start trials while slots are free: promoted paused trials first, then new ones."""
        if self._held():
            return
        while len(self.running) < self.executor.slots and self.to_raise is None and not self._late():
            promoted = self.study._promote()
            if promoted is None:
                break
            self._submit(promoted, attempt=0)
        while len(self.running) < self.executor.slots and self._may_start():
            if budget_spent(self.study, self.budget.total_trials):
                self.exhausted = True
                return
            try:
                handle = self.study._next_trial(self.budget.n_trials)
            except SearchExhausted as exc:
                logger.info("study %r: %s", self.study.name, exc)
                self.exhausted = True
                return
            if handle is None:  # the scheduler waits for a running trial to report back
                return
            self.started += 1
            self._submit(handle, attempt=0)

    def _submit(self, handle: RunningTrial, attempt: int) -> None:
        self.running[handle.number] = _Running(handle, time.monotonic(), attempt)
        slot = self.study._checkpoints.slot_for(handle.record)  # where it saves, what it resumes from
        self.executor.submit(handle.number, handle.config, handle.number, slot)
        self._note_device(handle.record)

    def _note_device(self, record: Trial) -> None:
        """Record the device a trial runs on once the executor knows it (local workers: at once;
        Dask: when the task starts on a worker)."""
        device = self.executor.device_of(record.number)
        if device is not None and device != record.device and record.trial_id is not None:
            self.study.storage.set_device(record.trial_id, device)
            record.device = device

    def _wait_seconds(self) -> float:
        now = time.monotonic()
        limits = [self._next_recovery - now]
        if self.paused:  # notice a resume while trials still run
            limits.append(PAUSE_POLL_SECONDS)
        if self.timeout_per_trial is not None:
            limits += [self._since(k, r) + self.timeout_per_trial - now for k, r in self.running.items()]
        return max(0.0, min(limits))

    # -- events --------------------------------------------------------------------------------
    def _on_report(self, key: int, step: int, value: float | None) -> Steering:
        running = self.running.get(key)
        if running is None:
            return Steering(stop=True)  # a call we no longer track should stop
        record = running.handle.record
        return self.study._poll(record, step) if value is None else self.study._report(record, step, value)

    def _on_checkpoint(self, key: int, step: int, uri: str) -> None:
        running = self.running.get(key)
        if running is not None and step == NOTE_STEP:  # trial.note(text) in the objective: uri is the text
            self.study._trial_note(running.handle.record.number, uri)
        elif running is not None:
            self.study._checkpoints.record(running.handle.record, step, uri)

    def _handle(self, event: Finished | Died) -> None:
        running = self.running.pop(event.key, None)
        if running is None:
            return
        self._note_device(running.handle.record)
        if isinstance(event, Died):
            outcome = Outcome(TrialState.FAILED, None, event.cause, FailureKind.WORKER_DIED)
        else:
            outcome = event.outcome
            if event.exception is not None:
                self.to_raise = event.exception
        self._conclude(running, outcome)

    def _conclude(self, running: _Running, outcome: Outcome) -> None:
        verdict = results.judge(self.study.objectives, outcome)  # a number, or named values, judged
        try:
            finished = self.study._finish(running.handle.record, verdict)
        except StateConflict as exc:  # another driver judged it stale meanwhile; its verdict stands
            logger.warning("trial %d: result not recorded: %s", running.handle.number, exc)
            return
        if finished.state == TrialState.PAUSED:  # a scheduler may resume it later
            return
        unavailable = self.imports.see(finished)
        if unavailable is not None and self.to_raise is None:
            self.to_raise = unavailable  # start nothing more; the running trials finish first
        if finished.state == TrialState.FAILED:
            lines = (finished.error or "").strip().splitlines()
            logger.warning("trial %d failed: %s", finished.number, lines[-1] if lines else "")
            if running.attempt < self.retries and self.to_raise is None:
                retry = self.study._rerun(finished)
                logger.info("trial %d retries trial %d", retry.number, finished.number)
                self._submit(retry, running.attempt + 1)
                return
        for callback in self.callbacks:
            callback(self.study, finished)
        ranked = finished.state == TrialState.COMPLETE and finished.feasible is not False
        if ranked and not self.study.objectives.multi and (
            self.best is None or better(finished.value, self.best, self.study.direction)  # type: ignore[arg-type]
        ):
            self.best = finished.value
        self.progress.update("" if self.best is None else f"best {self.best:.6g}")

    def _enforce_timeouts(self) -> None:
        if self.timeout_per_trial is None:
            return
        now = time.monotonic()
        for key, running in list(self.running.items()):
            if now - self._since(key, running) >= self.timeout_per_trial:
                self.executor.cancel(key)
                del self.running[key]
                cause = f"timed out after {self.timeout_per_trial:g}s (timeout_per_trial)"
                self._conclude(running, Outcome(TrialState.FAILED, None, cause, FailureKind.TIMEOUT))

    def _since(self, key: int, running: _Running) -> float:
        since = self.executor.running_since(key)
        return max(running.started, since) if since is not None else running.started

    def _recover_periodically(self) -> None:
        if time.monotonic() < self._next_recovery:
            return
        # as often as drivers beat: trials of a driver that went silent are taken back promptly
        self._next_recovery = time.monotonic() + self.study.heartbeat_seconds
        if self.study.storage.shared:
            self.study.recover_stale()

    def _abandon(self, why: str) -> None:
        """Leave the running trials STALE (and re-queued) when the driver stops abruptly."""
        for running in self.running.values():
            recovery.mark_stale(self.study, running.handle.record, why)
        self.running.clear()

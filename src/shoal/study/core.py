"""Study: a named, persisted set of trials for one space and one direction, or several objectives.

A thin coordinator: the sampler decides what to try, storage keeps every trial, the executor runs
objective calls. ``ask``/``tell`` for users who own the loop, ``optimize`` for everyone else.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..direction import best_value
from ..errors import ClaimTaken
from ..execution import Job, choose_executor, wants_trial
from ..objectives import Objectives
from ..records import Steering
from ..samplers.base import Sampler, SamplingContext
from ..schedulers.base import TrialPlan
from ..space import Space, as_space
from ..storage import Storage, get_storage
from ..trial import Trial, TrialState
from . import opening, recovery, results, steering, warm
from .checkpointing import Checkpointing
from .controls import PersonControls
from .handle import RunningTrial
from .heartbeat import Heartbeat
from .loop import Budget, TrialLoop, check_optimize_options, planned
from .partial import fill_started
from .progress import ProgressBar
from .rules import RuleGlue, check_rules
from .scheduling import (
    NO_SCHEDULER_PLAN,
    SchedulerGlue,
    check_scheduler,
    default_sampler,
    report_metric_of,
    store_planned,
)
from .trial_log import TrialLog, modelled

__all__ = ["Study"]

logger = logging.getLogger("shoal")

#: How often a driver says it is alive, and how long silence means it is gone.
HEARTBEAT_SECONDS = 10.0
STALE_AFTER_SECONDS = 60.0


class Study(PersonControls):
    """A named set of trials over one space, persisted in ``storage``.

    ``Study(name, space, ...)`` creates the study, or resumes it when the storage already has one of
    that name (the stored trials must fit ``space``: a widened range or a new dimension with a
    default is fine). ``storage=None`` keeps it in memory; ``"sqlite:///shoal.db"`` or any SQLAlchemy
    URL persists it. ``seed`` seeds the sampler so a run repeats exactly.

    One number to ``direction`` ("minimize", the default, or "maximize"), or several:
    ``objectives={"accuracy": "maximize", "latency_ms": "minimize"}``, the objective returning a dict
    with those keys (extra keys are kept as metrics). ``constraints=["memory_mb <= 512"]`` on any
    returned key (a one-objective study then returns e.g. ``{"value": 0.9, "memory_mb": 300}``).
    ``report_metric``: the objective that ``trial.report`` values are (default the first), whose
    direction schedulers use. ``rules=[shoal.rules.ReduceOnPlateau("lr")]`` change running trials'
    hyperparameters from their reports. ``warm_start_from=["old-study"]`` seeds the model with those
    studies' finished trials that fit ``space`` (once; ``warm_starts`` says how many were taken).
    """

    def __init__(
        self,
        name: str,
        space: Space | Mapping[str, Any],
        direction: str | None = None,
        storage: str | Storage | None = None,
        sampler: Sampler | None = None,
        *,
        objectives: Mapping[str, str] | None = None,
        constraints: Sequence[str] | None = None,
        report_metric: str | None = None,
        seed: int | None = None,
        requeue_stale: bool = True,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
        scheduler: Any = None,
        checkpoints: Any = None,
        rules: Sequence[Any] | None = None,
        warm_start_from: Sequence[str | Study] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if sampler is not None and not isinstance(sampler, Sampler):
            raise ValueError(
                f"sampler must be a shoal sampler such as shoal.samplers.Random(), got {sampler!r}"
            )
        self.name = name
        self.space = as_space(space)
        #: what the study optimizes: one objective named "value" (``direction=``) or several
        self.objectives = Objectives.build(
            direction=direction, objectives=objectives, constraints=constraints
        )
        self.direction = self.objectives.first.direction
        self.scheduler = check_scheduler(scheduler, self.objectives)  # decides on running trials
        self.report_metric = report_metric_of(self.objectives, report_metric)
        self.sampler: Sampler = (sampler or default_sampler(self.scheduler)).with_seed(seed)
        self.sampler.check_space(self.space)  # a space the sampler cannot search: refused, nothing stored
        self._sampler_given = sampler is not None
        self._glue = None if scheduler is None else SchedulerGlue(self, self.scheduler.with_seed(seed))
        self._checkpoints = Checkpointing(self, checkpoints)  # a path, fsspec URL or CheckpointStore
        self.rules = check_rules(rules, self.space)  # bound to the space, asked after each report
        self._rules = RuleGlue(self, self.rules) if self.rules else None
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
        sources = warm.load_sources(self, warm_start_from)  # checked before anything is stored
        self._log = TrialLog()
        self._driver_id: int | None = None
        self._heartbeat: Heartbeat | None = None
        self._boxes_stored: set[int] = set()  # coarse-to-fine rounds whose box this driver stored
        self._record = opening.open_record(self)
        self.refresh()
        opening.check_space_fits(self)
        #: what each warm start took: ``taken`` trials now, ``before`` earlier, ``skipped`` by reason
        self.warm_starts: list[warm.WarmStart] = warm.warm_start(self, sources)
        if self.storage.shared and self._log.active:
            self.recover_stale()

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
        checkpoints: Any = None,
        report_metric: str | None = None,
        rules: Sequence[Any] | None = None,
        warm_start_from: Sequence[str | Study] | None = None,
    ) -> Study:
        """Reopen an existing study to inspect or continue it; ``optimize`` then continues it.

        Takes every option ``Study`` takes; the direction (or objectives and constraints) and, unless
        ``space`` is given, the space come from storage. ``space`` may differ from the stored one where
        the old trials still fit it. ``StudyNotFound`` when there is no such study.
        """
        backend, space, stored = opening.reopen(name, storage, space)
        return cls(
            name,
            space,
            storage=backend,
            sampler=sampler,
            **stored,
            report_metric=report_metric,
            seed=seed,
            requeue_stale=requeue_stale,
            heartbeat_seconds=heartbeat_seconds,
            stale_after=stale_after,
            scheduler=scheduler,
            checkpoints=checkpoints,
            rules=rules,
            warm_start_from=warm_start_from,
        )

    # -- reading -------------------------------------------------------------------------------
    @property
    def id(self) -> int:
        """The study's id in its storage (what storage-level calls and SQL queries take)."""
        return self._record.study_id

    def refresh(self) -> None:
        """Read what other drivers have written since the last look."""
        for trial in self.storage.read_trials(
            self._record.study_id, after=self._log.last_seen, numbers=self._log.watched()
        ):
            if self._record.space != self.space.to_dict() or len(trial.unit) < len(trial.config):
                opening.place(self.space, trial)
            self._log.put(trial)

    @property
    def trials(self) -> list[Trial]:
        """All trials, by number."""
        self.refresh()
        return self._log.ordered()

    def _best_value(self) -> float | None:
        if self.objectives.multi:
            return None
        return best_value((t.value for t in self._log.finished if t.state == TrialState.COMPLETE
                           and t.value is not None and t.feasible is not False), self.direction)

    @property
    def best(self) -> Trial | None:
        """The completed trial with the best value; ``ValueError`` while there is none. With
        constraints, the best one that meets them (None, with a warning, while none does); with several
        objectives there is no single best: a ``ValueError`` pointing to ``pareto_front``."""
        return results.best_trial(self.name, self.objectives, self.trials)

    @property
    def pareto_front(self) -> list[Trial]:
        """The completed trials that meet the constraints and that no other such trial beats on every
        objective (no worse on all, better on one), by number."""
        return results.pareto_front(self.objectives, self.trials)

    @property
    def plot(self):
        """Plotly figures of this study: ``study.plot.history()``, ``.contour()``, ... (needs plotly)."""
        from ..analysis.plots import StudyPlots
        return StudyPlots(self)

    def to_dataframe(self):
        """One row per trial: number, state, value, a ``config_<name>`` column per dimension, ...; with
        several objectives or constraints also a ``values_<name>`` column per returned value and
        ``feasible``."""
        from .frame import trials_frame

        plain = self.objectives.plain
        return trials_frame(self.trials, self.space.names, None if plain else self.objectives)

    # -- ask / tell ----------------------------------------------------------------------------
    def _driver(self) -> int:
        if self._driver_id is None:
            self._driver_id = self.storage.register_driver(socket.gethostname(), os.getpid())
            if self.storage.shared:
                self._heartbeat = Heartbeat(self.storage, self._driver_id, self.heartbeat_seconds)
                weakref.finalize(self, self._heartbeat.stop)
        return self._driver_id

    def ask(self, *, budget: int | None = None) -> RunningTrial:
        """Start the next trial: a queued one if any, else the scheduler's plan (by default a
        configuration from the sampler).

        Raises ``SearchExhausted`` when the sampler has nothing left (a finished grid).
        """
        handle = self._next_trial(budget)
        if handle is None:
            raise RuntimeError(
                f"{self.scheduler!r} has no trial to start until a running trial reports back"
            )
        return handle

    def _next_trial(self, budget: int | None) -> RunningTrial | None:
        """A queued trial if any, else a new one from the scheduler's plan (None: the plan is to wait)."""
        driver = self._driver()
        self.refresh()
        if self._log.has_queued():
            claimed = self.storage.claim_queued(self._record.study_id, driver)
            # enqueued (missing values sampled now), re-queued or forked: it starts where its records say
            if claimed is not None:
                return self._start(fill_started(self, claimed, budget), queued=True)
        for _attempt in range(100):
            plan = NO_SCHEDULER_PLAN if self._glue is None else self._glue.next_plan()
            if plan is None:
                return None
            try:
                record = self._create_planned(plan, driver, budget)
            except ClaimTaken:
                self.refresh()  # another driver took that point or plan; look again
                continue
            return self._start(record, start=plan.start)
        raise RuntimeError("the sampler kept proposing points other drivers had already claimed")

    def _create_planned(self, plan: TrialPlan, driver: int, budget: int | None) -> Trial:
        """Store a plan as a RUNNING trial of this driver (with its lineage record and change rows)."""
        config, unit, claim, round_, proposed_by = plan.config, plan.unit or {}, None, None, None
        proposal_box = None
        if config is None:
            proposal = self.sampler.propose(self._context(budget))
            config, unit = self.space.decode(proposal.unit)
            claim, round_, proposed_by = proposal.claim, proposal.round, proposal.proposed_by
            proposal_box = proposal.box
        record = self.storage.create_trial(
            self._record.study_id, TrialState.RUNNING, config, unit, claim=plan.claim or claim,
            round=round_, driver_id=driver, proposed_by=proposed_by,
        )
        if proposal_box is not None and round_ is not None and round_ not in self._boxes_stored:
            # the first driver to store a round's box wins
            self.storage.add_round_box(self._record.study_id, round_, proposal_box)
            self._boxes_stored.add(round_)
        store_planned(self, plan, record)
        return record

    def _context(self, budget: int | None) -> SamplingContext:
        history, excluded = modelled(self._log.finished)
        return SamplingContext(
            space=self.space,
            study_name=self.name,
            direction=self.direction,
            trial_number=self._log.last_seen + 1,
            history=history,
            excluded=excluded,
            running=list(self._log.active.values()),
            budget=budget,
            objectives=None if self.objectives.plain else self.objectives,
        )

    def _start(
        self, record: Trial, *, start: Any = None, promoted: bool = False, queued: bool = False
    ) -> RunningTrial:
        """A trial this driver now runs: tracked as its own, its checkpoint start fixed."""
        self._log.put(record)
        self._log.mine.add(record.number)
        self._checkpoints.begin(record, start=start, promoted=promoted, queued=queued)
        return RunningTrial(self, record)

    def _report(self, record: Trial, step: int, value: float) -> Steering:
        """Store an intermediate value; answer whether the trial should stop early (a person asked,
        or the scheduler decided) and which tweaks (a person's, or the rules' on this report) it gets now."""
        assert record.trial_id is not None
        answer = self.storage.add_report(record.trial_id, step, value)
        record.reports = [r for r in record.reports if r[0] != step] + [(step, value)]
        record.reports.sort()
        self._heard(record, answer)
        if answer.stop:
            record.stop_requested = True
            return answer
        if self._glue is not None and self._glue.on_report(record, step, value):
            return Steering(stop=True, changes=answer.changes)
        return answer if self._rules is None else self._rules.after_report(record, step, answer)

    def _poll(self, record: Trial, from_step: int) -> Steering:
        """``should_stop`` between reports: a person's stop request and the pending tweaks."""
        assert record.trial_id is not None
        answer = self.storage.poll_trial(record.trial_id, from_step)
        self._heard(record, answer)
        if answer.stop:
            record.stop_requested = True
        return answer

    def _heard(self, record: Trial, answer: Steering) -> None:
        """Tweaks were delivered: read the trial's change rows again (they now carry their step)."""
        if answer.changes:
            record.changes = steering.reread(self, record.number).changes

    def _promote(self) -> RunningTrial | None:
        """A PAUSED trial the scheduler promotes, running again in this driver (None when none)."""
        promoted = None if self._glue is None else self._glue.promote(self._driver())
        return None if promoted is None else self._start(promoted, promoted=True)

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
        value: Any = None,
        *,
        state: TrialState | str | None = None,
        error: str | None = None,
    ) -> Trial:
        """Finish a running trial: with a value it is COMPLETE; or pass ``state="FAILED"``/``"PRUNED"``.

        ``value`` is a number, or for a study with several objectives or constraints a dict of named
        numbers (``{"accuracy": 0.9, "latency_ms": 12}``). A NaN or infinite value marks the trial
        FAILED with that reason. Returns the stored trial.
        """
        record = self._own(trial)
        return self._finish(record, results.told(self.objectives, value, state, error))

    def _finish(self, record: Trial, verdict: results.Verdict) -> Trial:
        if record.state != TrialState.RUNNING:
            raise ValueError(
                f"trial {record.number} is {record.state}, not RUNNING; finished trials never change"
            )
        assert record.trial_id is not None
        state, value, values = verdict.state, verdict.value, verdict.values
        if self._glue is not None:  # told to stop: PRUNED; to pause: PAUSED; to complete: COMPLETE
            state, value = self._glue.final_state(record, state, value)
        if not state.finished:  # paused: it goes on later and returns its values then
            values = None
        finished = self.storage.set_state(
            record.trial_id, TrialState.RUNNING, state, value=value, error=verdict.error,
            failure=verdict.failure if state == TrialState.FAILED else None,
            values=values, feasible=None if values is None else verdict.feasible,
        )
        self._log.put(finished)
        return finished

    # -- crash recovery ------------------------------------------------------------------------
    def recover_stale(self) -> list[Trial]:
        """Mark RUNNING trials whose driver vanished as STALE (and re-queue them if configured).

        A driver is gone when its process is dead on this host, or when it has sent no heartbeat
        for ``stale_after`` seconds (its heartbeat thread beats every ``heartbeat_seconds`` whatever
        the trial does); a slow but live trial is never taken from its driver.
        """
        return recovery.recover_stale(self)

    # -- the loop ------------------------------------------------------------------------------
    def optimize(
        self,
        objective: Callable[..., Any],
        n_trials: int | None = None,
        *,
        timeout: float | None = None,
        n_workers: int | None = None,
        executor: Any = None,
        timeout_per_trial: float | None = None,
        max_trials_per_worker: int | None = None,
        retries: int = 0,
        total_trials: int | None = None,
        catch: Iterable[type[BaseException]] | type[BaseException] = (Exception,),
        show_progress: bool = True,
        callbacks: Iterable[Callable[[Study, Trial], None]] = (),
        devices: Any = None,
        workers_per_device: int | None = None,
    ) -> None:
        """Run ``objective(config)`` (or ``objective(config, trial)``) on ``n_trials`` new trials.

        ``n_workers > 1`` runs that many trials at once in local worker processes (a new one starts
        the moment a slot frees); ``executor=`` takes a Dask ``Client`` or scheduler address, or any
        ``shoal.execution.Executor``. ``timeout_per_trial`` stops (and fails) a trial that runs too
        long; ``max_trials_per_worker`` recycles worker processes (for leaky objectives); ``retries``
        re-runs a failed trial up to that many times, each attempt kept. ``total_trials`` is a
        study-wide budget shared by every driver. Exceptions of a type in ``catch`` mark the trial
        FAILED (traceback kept) and the study goes on; others are recorded, then raised. Ctrl-C marks
        running trials STALE, re-queues them and stops; ``optimize`` again resumes. ``devices``
        (``"auto"`` or e.g. ``["cuda:0", "cuda:1"]``) gives each worker process its own GPU
        (``CUDA_VISIBLE_DEVICES``, round-robin, ``workers_per_device`` each; ``n_workers`` defaults
        to one per place) and each trial records its ``device``; on Dask it asks for a ``GPU``
        worker resource per trial.
        """
        catch = check_optimize_options(
            n_trials=n_trials, total_trials=total_trials, max_trials_per_worker=max_trials_per_worker,
            timeout=timeout, timeout_per_trial=timeout_per_trial, retries=retries, catch=catch,
        )
        job = Job(objective, wants_trial(objective), catch)
        runner = choose_executor(
            n_workers, executor, timeout_per_trial=timeout_per_trial,
            max_trials_per_worker=max_trials_per_worker, devices=devices,
            workers_per_device=workers_per_device,
        )
        self._driver()
        self.recover_stale()
        deadline = None if timeout is None else time.monotonic() + timeout
        with ProgressBar(planned(self, n_trials), show_progress, self.name) as progress:
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

    def _rerun(self, failed: Trial) -> RunningTrial:
        """Start a new attempt of a failed trial's configuration."""
        return self._start(self._repeat(failed, TrialState.RUNNING, self._driver()))

    def _repeat(self, trial: Trial, state: TrialState, driver_id: int | None = None) -> Trial:
        """A new trial with ``trial``'s configuration that names it as the one it repeats (with every
        tweak it had in force, pending ones too, and a fork's changes against its parent)."""
        config = {**trial.current_config, **trial.pending_changes}
        unit = steering.unit_for(self.space, config, trial.config, trial.unit)
        repeat = self.storage.create_trial(
            self._record.study_id, state, config, unit, round=trial.round, requeued_from=trial.number,
            driver_id=driver_id,
        )
        forked = [replace(c, new=config.get(c.name)) for c in trial.changes if c.kind == "fork"]
        if forked:  # it resumes the same line, from the parent's checkpoint at the latest
            assert repeat.trial_id is not None
            self.storage.add_changes(repeat.trial_id, forked)
            repeat.changes = steering.reread(self, repeat.number).changes
        return repeat

    def __repr__(self) -> str:
        what = (f"direction={self.direction!r}" if self.objectives.plain
                else f"objectives={self.objectives.describe()!r}")
        return (
            f"Study({self.name!r}, {what}, storage={self.storage.url!r}, "
            f"sampler={self.sampler!r}, trials={len(self._log)})"
        )


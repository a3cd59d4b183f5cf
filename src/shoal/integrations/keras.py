"""Keras Tuner and Keras: ``ShoalOracle`` (a shoal study drives a Keras Tuner search),
``PruningCallback`` (each epoch's metric reported to the study, so its scheduler stops poor trials)
and ``Tuner`` (both, with ASHA, in one object, as ``keras_tuner.Hyperband`` is).

    oracle = ShoalOracle(objective="val_accuracy", max_trials=20, sampler=shoal.samplers.TPE(),
                         scheduler=shoal.schedulers.MedianStopping())
    tuner = keras_tuner.Tuner(hypermodel=build_model, oracle=oracle, directory="runs", project_name="mlp")
    tuner.search(x, y, validation_data=(xv, yv), epochs=10, callbacks=[PruningCallback(oracle)])

The hyperparameters ``build_model`` declares (``hp.Int/Float/Choice/Boolean/Fixed``, conditional
scopes, and ``from_unit``) become the study's space. The study lives in SQLite in the tuner's project
folder (or ``storage=``), so a tuner created again with ``overwrite=False`` resumes it.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import keras
import keras_tuner

from ..samplers.base import Sampler, SearchExhausted
from ..schedulers.asha import ASHA
from ..study.core import Study
from ..study.handle import RunningTrial
from ..trial import TrialHandle, TrialPruned
from ._kt_space import from_unit, is_unit_dimension, space_of
from ._kt_values import UnitHyperParameters, shown_value, with_units

__all__ = ["ShoalOracle", "PruningCallback", "Tuner", "from_unit", "space_of"]

_STATUS = keras_tuner.engine.trial.TrialStatus
_PROJECT = "project"


class ShoalOracle(keras_tuner.Oracle):
    """A ``keras_tuner.Oracle`` whose trials are the trials of a shoal study.

    ``sampler`` (any ``shoal.samplers`` sampler; the Study's default when None) chooses the values,
    ``scheduler`` (``shoal.schedulers``) stops poor trials through ``PruningCallback``. ``storage``:
    ``"project"`` (default) keeps the study in ``shoal.db`` inside the tuner's project folder, None in
    memory, or any shoal storage URL. The remaining arguments are ``keras_tuner.Oracle``'s.
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: int | None = None,
        *,
        sampler: Sampler | None = None,
        scheduler: Any = None,
        storage: Any = _PROJECT,
        study_name: str = "keras-tuner",
        seed: int | None = None,
        hyperparameters: Any = None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
    ) -> None:
        if sampler is not None and not isinstance(sampler, Sampler):
            raise ValueError(f"sampler must be a shoal sampler such as shoal.samplers.TPE(), got {sampler!r}")
        if max_trials is not None and (isinstance(max_trials, bool) or not isinstance(max_trials, int)
                                       or max_trials < 1):
            raise ValueError(f"max_trials must be a positive int or None, got {max_trials!r}")
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        if isinstance(self.objective, list) or not hasattr(self.objective, "direction"):
            raise ValueError("objective: ShoalOracle tunes one objective, e.g. objective='val_accuracy'")
        self.sampler = sampler
        self.scheduler = scheduler
        self.storage = storage
        self.study_name = study_name
        self._shoal_seed = seed
        self._study: Study | None = None
        self._space_key: Any = None
        self._handles: dict[str, RunningTrial] = {}  # Keras Tuner trial id -> running shoal trial
        self._numbers: dict[str, int] = {}  # Keras Tuner trial id -> shoal trial number
        self.current: RunningTrial | None = None

    # -- the study -----------------------------------------------------------------------------
    @property
    def study(self) -> Study:
        """The shoal study behind this oracle (opened when the first trial is created)."""
        if self._study is None:
            self._open()
        assert self._study is not None
        return self._study

    def _storage_url(self) -> Any:
        if self.storage != _PROJECT:
            return self.storage
        if getattr(self, "_directory", None) is None:
            return None  # an oracle used without a tuner: in memory
        return f"sqlite:///{self._project_dir}/shoal.db"

    def _open(self) -> None:
        key = self.hyperparameters.get_config()
        if self._study is not None and key == self._space_key:
            return
        space = space_of(self.hyperparameters)
        direction = "maximize" if self.objective.direction == "max" else "minimize"
        storage = self._storage_url() if self._study is None else self._study.storage
        self._study = Study(
            self.study_name,
            space,
            direction,
            storage,
            copy.deepcopy(self.sampler),
            seed=self._shoal_seed,
            scheduler=self.scheduler,
        )
        self._space_key = key

    # -- Keras Tuner's hooks -------------------------------------------------------------------
    def populate_space(self, trial_id: str) -> dict[str, Any]:
        self._open()  # the space grows when build_model declares new hyperparameters
        try:
            handle = self.study.ask(budget=self.max_trials)
        except SearchExhausted:
            return {"status": _STATUS.STOPPED, "values": None}
        self._start(trial_id, handle)
        return {"status": _STATUS.RUNNING, "values": self._values(handle)}

    def _values(self, handle: RunningTrial) -> dict[str, Any]:
        # what Keras Tuner shows: the values the trial runs with (a from_unit dimension's fn(u) too)
        units = self._units(handle)
        return {
            name: shown_value(value, units[name]) if name in units else value
            for name, value in handle.config.items()
        }

    @staticmethod
    def _units(handle: RunningTrial) -> dict[str, float | None]:
        # the unit numbers of from_unit dimensions: from_unit applies the map to these (None: a value
        # enqueued by hand, which from_unit takes as it is)
        return {
            name: None if handle.unit.get(name) is None else float(handle.unit[name])
            for name in handle.config if is_unit_dimension(name)
        }

    def _show(self, trial: Any, handle: RunningTrial) -> None:
        """Keras Tuner's trial holds the values it runs with, and the unit numbers from_unit reads."""
        trial.hyperparameters = with_units(trial.hyperparameters, self._values(handle), self._units(handle))
        self._save_trial(trial)

    def _start(self, trial_id: str, handle: RunningTrial) -> None:
        self._handles[trial_id] = handle
        self._numbers[trial_id] = handle.number
        self.current = handle

    def create_trial(self, tuner_id: str) -> Any:
        trial = super().create_trial(tuner_id)
        if trial.status == _STATUS.RUNNING and trial.trial_id not in self._handles:
            self._rerun(trial)
        elif trial.status == _STATUS.RUNNING:
            self.current = self._handles[trial.trial_id]
        if trial.status == _STATUS.RUNNING:
            self._show(trial, self._handles[trial.trial_id])
            self.save()
        return trial

    def _rerun(self, trial: Any) -> None:
        """A trial Keras Tuner runs again after a restart: run its configuration as a new shoal trial.

        The interrupted shoal trial is STALE and re-queued when its process died (then this claims
        the queued copy); when it was interrupted in this process it is still RUNNING: it is marked
        FAILED, naming the trial that repeats it.
        """
        study = self.study
        old = self._numbers.get(trial.trial_id)
        by_number = {t.number: t for t in study.trials}
        if old in by_number and by_number[old].state == "RUNNING":
            why = f"interrupted; Keras Tuner trial {trial.trial_id} runs again"
            study.tell(old, state="FAILED", error=why)
        requeued = any(t.state == "QUEUED" and t.requeued_from == old for t in study.trials)
        if old not in by_number or not requeued:
            if old in by_number:
                config = by_number[old].config
            else:  # Keras Tuner's values (a from_unit dimension then takes its default)
                values = trial.hyperparameters.values.items()
                config = study.space.complete(
                    {k: v for k, v in values if k in study.space and not is_unit_dimension(k)}
                )
            study.enqueue(config)
        self._start(trial.trial_id, study.ask(budget=self.max_trials))

    def end_trial(self, trial: Any) -> None:
        try:
            super().end_trial(trial)
        finally:
            self._tell(trial.trial_id)

    def _tell(self, trial_id: str) -> None:
        handle = self._handles.get(trial_id)
        if handle is None or trial_id in self._retry_queue:  # retried: the same shoal trial runs again
            return
        del self._handles[trial_id]
        if self.current is handle:
            self.current = None
        done = self.trials[trial_id]
        score = getattr(done, "score", None)
        if done.status == _STATUS.COMPLETED and score is not None:
            self.study.tell(handle, float(score), state="PRUNED" if handle.should_stop() else None)
        else:
            self.study.tell(handle, state="FAILED", error=(done.message or str(done.status))[-4000:])

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        units = {
            trial_id: trial.hyperparameters.shoal_units for trial_id, trial in self.trials.items()
            if isinstance(trial.hyperparameters, UnitHyperParameters)
        }
        state["shoal"] = {"study": self.study_name, "numbers": dict(self._numbers), "units": units}
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        saved = state.get("shoal", {})
        self._numbers = dict(saved.get("numbers", {}))
        for trial_id, units in saved.get("units", {}).items():  # reloaded trials: their unit numbers again
            trial = self.trials.get(trial_id)
            if trial is not None:
                trial.hyperparameters = with_units(trial.hyperparameters, trial.hyperparameters.values, units)


class PruningCallback(keras.callbacks.Callback):
    """Reports ``monitor`` after every epoch (step = epoch) and stops training when the study says so.

    ``PruningCallback(oracle)`` inside ``tuner.search(callbacks=[...])``: reports to the oracle's
    running trial (``monitor`` defaults to the oracle's objective); a stopped trial ends training and
    is recorded PRUNED. ``PruningCallback(trial, monitor="val_loss")`` inside a plain
    ``objective(config, trial)``: a stopped trial raises ``shoal.TrialPruned`` out of ``fit``.
    """

    def __init__(self, target: ShoalOracle | TrialHandle, monitor: str | None = None) -> None:
        super().__init__()
        if not isinstance(target, (ShoalOracle, TrialHandle)):
            raise ValueError(
                "PruningCallback: give the ShoalOracle of the tuner, or the trial shoal passes to "
                f"objective(config, trial); got {target!r}"
            )
        if monitor is None:
            monitor = target.objective.name if isinstance(target, ShoalOracle) else "val_loss"
        self.target = target
        self.monitor = monitor

    def __deepcopy__(self, memo: dict) -> PruningCallback:
        # Keras Tuner deep-copies callbacks for every trial; the copy must report to the same oracle
        return PruningCallback(self.target, self.monitor)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"PruningCallback: monitor {self.monitor!r} is not in the epoch's logs {sorted(logs)}; "
                "pass validation data or name a logged metric"
            )
        value = float(logs[self.monitor])
        oracle = self.target if isinstance(self.target, ShoalOracle) else None
        trial = oracle.current if oracle is not None else self.target
        if trial is None:
            raise ValueError("PruningCallback: the oracle has no running trial; use it inside tuner.search")
        if not math.isfinite(value):  # diverged: nothing to report, no reason to go on
            if oracle is None:
                raise TrialPruned(f"{self.monitor} is {value} at epoch {epoch}")
            self.model.stop_training = True
            return
        trial.report(value, int(epoch))
        if trial.should_stop():
            if oracle is None:
                raise TrialPruned(f"stopped by the study at epoch {epoch} ({self.monitor} = {value:g})")
            self.model.stop_training = True


class Tuner(keras_tuner.Tuner):
    """A Keras Tuner tuner whose trials stop early, as easy as ``keras_tuner.Hyperband``.

    ``Tuner(build_model, objective="val_accuracy", max_trials=30, max_epochs=20, directory="runs",
    project_name="mlp")`` then ``tuner.search(x, y, validation_data=(xv, yv))``: a ``ShoalOracle``
    (``sampler``, the study's default when None) chooses each trial's values, every trial trains up
    to ``max_epochs`` epochs, and ``PruningCallback`` reports each epoch to the ASHA scheduler
    (``ASHA(1, reduction_factor=factor, max_resource=max_epochs)``; give ``scheduler=`` for another),
    which stops poor trials. Other keyword arguments (``directory``, ``project_name``,
    ``overwrite``, ...) are ``keras_tuner.Tuner``'s; ``oracle`` is this tuner's ``ShoalOracle``.
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int | None = 10,
        max_epochs: int = 10,
        factor: int = 3,
        *,
        sampler: Sampler | None = None,
        scheduler: Any = None,
        storage: Any = _PROJECT,
        study_name: str = "keras-tuner",
        seed: int | None = None,
        hyperparameters: Any = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        **kwargs: Any,
    ) -> None:
        if "oracle" in kwargs:
            raise ValueError("Tuner: makes its own ShoalOracle; for your own oracle use keras_tuner.Tuner")
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f"Tuner: max_epochs must be an int >= 1 (the epochs a full trial trains), "
                             f"got {max_epochs!r}")
        if scheduler is None:
            scheduler = ASHA(1, reduction_factor=factor, max_resource=max_epochs)
        oracle = ShoalOracle(
            objective=objective, max_trials=max_trials, sampler=sampler, scheduler=scheduler,
            storage=storage, study_name=study_name, seed=seed, hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries, allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super().__init__(hypermodel=hypermodel, oracle=oracle, **kwargs)
        self.max_epochs = max_epochs

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """``keras_tuner.Tuner.search``: each trial is ``model.fit(*fit_args, **fit_kwargs)`` for up to
        ``max_epochs`` epochs, with a ``PruningCallback`` added to ``callbacks``."""
        epochs = fit_kwargs.get("epochs", self.max_epochs)
        if epochs != self.max_epochs:
            raise ValueError(
                f"epochs: this Tuner trains each trial up to max_epochs={self.max_epochs}; leave epochs "
                "out of search() or give Tuner(max_epochs=...)"
            )
        fit_kwargs["epochs"] = self.max_epochs
        callbacks = list(fit_kwargs.get("callbacks") or [])
        if not any(isinstance(c, PruningCallback) for c in callbacks):
            callbacks.append(PruningCallback(self.oracle))
        fit_kwargs["callbacks"] = callbacks
        super().search(*fit_args, **fit_kwargs)

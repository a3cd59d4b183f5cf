"""One adapter per optimizer: ``ask() -> (handle, config)`` and ``tell(handle, value)``, minimizing.

Every adapter gets the task's space in shoal terms (``Float``/``Int``/``Choice``, linear or log) and
translates it to its own library's: Optuna distributions, Hyperopt ``hp`` expressions,
scikit-optimize dimensions. Heavy libraries are imported when an adapter is built, and an optimizer
whose library (or shoal sampler) is missing is reported by ``unavailable`` so the harness can skip it.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import shoal

from . import envs

#: Parallel variants keep this many trials outstanding (ask 4, tell one as it finishes, ask again).
PARALLEL_PENDING = 4
#: gp_minimize optimizes its acquisition with L-BFGS from 5 starts; that costs ~3 s per ask at 60
#: trials on a 6-d task, which alone would blow the run's time budget. Scoring 10,000 random points
#: (``acq_optimizer="sampling"``, gp_minimize's other documented mode) keeps the same model.
SKOPT_ACQ_OPTIMIZER = "sampling"
SKOPT_POINTS = 10_000


class Unavailable(RuntimeError):
    """The optimizer's library or sampler is not installed (yet)."""


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _dims(space: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(name, dimension) pairs; only unconditional Float, Int and Choice are translatable."""
    out = []
    for name, dim in shoal.Space(dict(space)):
        if dim.when is not None:
            raise ValueError(f"dimension {name!r}: conditional dimensions are not translated to the peers")
        if not isinstance(dim, (shoal.Float, shoal.Int, shoal.Choice)):
            raise ValueError(f"dimension {name!r}: only Float, Int and Choice are translated to the peers")
        if getattr(dim, "scale", "linear") not in ("linear", "log"):
            raise ValueError(
                f"dimension {name!r}: scale {dim.scale!r} has no peer equivalent; use linear or log")
        out.append((name, dim))
    return out


# -- shoal ------------------------------------------------------------------------------------------
def shoal_sampler(name: str) -> Callable[[], Any]:
    """The shoal sampler class called ``name`` (``shoal.samplers.<name>`` or its own module)."""
    import shoal.samplers as samplers

    found = getattr(samplers, name, None)
    if found is None:
        try:
            found = getattr(importlib.import_module(f"shoal.samplers.{name.lower()}"), name, None)
        except ImportError:
            found = None
    if found is None:
        raise Unavailable(f"shoal.samplers.{name} does not exist in this checkout yet")
    return found


class ShoalAdapter:
    """A shoal Study in memory, driven by ask/tell."""

    def __init__(self, space: Mapping[str, Any], seed: int, sampler: Any) -> None:
        logging.getLogger("shoal").setLevel(logging.WARNING)
        self.study = shoal.Study("bench", dict(space), sampler=sampler, seed=seed)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        return trial, dict(trial.config)

    def tell(self, handle: Any, value: float) -> None:
        self.study.tell(handle, value)


# -- Optuna -----------------------------------------------------------------------------------------
class OptunaAdapter:
    """An Optuna study with fixed distributions (``study.ask(distributions)``), then ``study.tell``."""

    def __init__(self, space: Mapping[str, Any], seed: int, kind: str) -> None:
        import optuna
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", module="optuna")
        self.distributions: dict[str, Any] = {}
        for name, dim in _dims(space):
            if isinstance(dim, shoal.Float):
                self.distributions[name] = FloatDistribution(dim.low, dim.high, log=dim.scale == "log",
                                                             step=dim.step)
            elif isinstance(dim, shoal.Int):
                self.distributions[name] = IntDistribution(dim.low, dim.high, log=dim.scale == "log",
                                                           step=dim.step)
            else:
                self.distributions[name] = CategoricalDistribution(list(dim.values))
        if kind == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed)
        elif kind == "gp":
            import torch

            torch.set_num_threads(1)
            sampler = optuna.samplers.GPSampler(seed=seed)
        elif kind == "cmaes":
            sampler = optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        else:
            raise ValueError(f"unknown Optuna sampler {kind!r}")
        self.study = optuna.create_study(direction="minimize", sampler=sampler)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask(self.distributions)
        return trial, dict(trial.params)

    def tell(self, handle: Any, value: float) -> None:
        self.study.tell(handle, value)


# -- Hyperopt ---------------------------------------------------------------------------------------
class HyperoptAdapter:
    """Hyperopt's ``tpe.suggest`` over a ``Trials`` object, fed and read the way ``fmin`` does."""

    def __init__(self, space: Mapping[str, Any], seed: int) -> None:
        import hyperopt
        from hyperopt import hp

        logging.getLogger("hyperopt").setLevel(logging.WARNING)
        self._hyperopt = hyperopt
        self._dims = _dims(space)
        expr: dict[str, Any] = {}
        for name, dim in self._dims:
            if isinstance(dim, shoal.Float):
                if dim.scale == "log":
                    expr[name] = hp.loguniform(name, math.log(dim.low), math.log(dim.high))
                elif dim.step is not None:
                    expr[name] = hp.quniform(name, dim.low, dim.high, dim.step)
                else:
                    expr[name] = hp.uniform(name, dim.low, dim.high)
            elif isinstance(dim, shoal.Int):
                if dim.scale == "log":
                    expr[name] = hp.qloguniform(name, math.log(dim.low), math.log(dim.high), dim.step)
                else:
                    expr[name] = hp.quniform(name, dim.low, dim.high, dim.step)
            else:
                expr[name] = hp.choice(name, list(dim.values))
        self.domain = hyperopt.Domain(lambda config: 0.0, expr)
        self.trials = hyperopt.Trials()
        self.rng = np.random.default_rng(seed)

    def _decode(self, vals: Mapping[str, list]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for name, dim in self._dims:
            raw = vals[name][0]
            if isinstance(dim, shoal.Choice):
                config[name] = dim.values[int(raw)]
            elif isinstance(dim, shoal.Int):  # q-distributions can round just past a bound
                config[name] = int(min(max(round(raw), dim.low), dim.high))
            else:
                config[name] = float(min(max(raw, dim.low), dim.high))
        return config

    def ask(self) -> tuple[Any, dict[str, Any]]:
        from hyperopt import tpe

        ids = self.trials.new_trial_ids(1)
        self.trials.refresh()
        docs = tpe.suggest(ids, self.domain, self.trials, int(self.rng.integers(2**31 - 1)))
        self.trials.insert_trial_docs(docs)
        self.trials.refresh()
        doc = self.trials._dynamic_trials[-1]  # the stored copy, as fmin's own loop reads it
        return doc, self._decode(doc["misc"]["vals"])

    def tell(self, handle: Any, value: float) -> None:
        handle["state"] = self._hyperopt.JOB_STATE_DONE
        handle["result"] = {"loss": float(value), "status": self._hyperopt.STATUS_OK}
        self.trials.refresh()


# -- scikit-optimize --------------------------------------------------------------------------------
class SkoptAdapter:
    """``skopt.Optimizer`` set up as ``gp_minimize`` sets it up (GP, gp_hedge, lbfgs), ask/tell."""

    def __init__(self, space: Mapping[str, Any], seed: int) -> None:
        from skopt import Optimizer
        from skopt.space import Categorical, Integer, Real
        from skopt.utils import cook_estimator, normalize_dimensions

        warnings.filterwarnings("ignore", module="skopt")
        warnings.filterwarnings("ignore", module="sklearn")
        self.names, dimensions = [], []
        for name, dim in _dims(space):
            self.names.append(name)
            prior = "log-uniform" if getattr(dim, "scale", "linear") == "log" else "uniform"
            if isinstance(dim, shoal.Float):
                dimensions.append(Real(dim.low, dim.high, prior=prior, name=name))
            elif isinstance(dim, shoal.Int):
                dimensions.append(Integer(dim.low, dim.high, prior=prior, name=name))
            else:
                dimensions.append(Categorical(list(dim.values), name=name))
        estimator = cook_estimator("GP", space=normalize_dimensions(dimensions), random_state=seed,
                                   noise="gaussian")
        self.optimizer = Optimizer(
            dimensions, base_estimator=estimator, n_initial_points=10, initial_point_generator="random",
            acq_func="gp_hedge", acq_optimizer=SKOPT_ACQ_OPTIMIZER, random_state=seed,
            acq_optimizer_kwargs={"n_points": SKOPT_POINTS, "n_restarts_optimizer": 5, "n_jobs": 1},
        )

    def ask(self) -> tuple[Any, dict[str, Any]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            point = self.optimizer.ask()
        return point, {name: _plain(v) for name, v in zip(self.names, point, strict=True)}

    def tell(self, handle: Any, value: float) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.optimizer.tell(handle, float(value))


# -- registry ---------------------------------------------------------------------------------------
def _shoal(sampler: str) -> Callable[[Mapping[str, Any], int], Any]:
    return lambda space, seed: ShoalAdapter(space, seed, shoal_sampler(sampler)())


def _peer(name: str) -> Callable[..., Any]:
    def factory(space: Mapping[str, Any], seed: int, budget: int | None = None) -> Any:
        from .peer_adapters import DEFAULT_BUDGET, PEERS

        return PEERS[name](space, seed, budget or DEFAULT_BUDGET)

    return factory


#: Optimizer name -> factory(space, seed). ``-par4`` variants keep 4 trials outstanding.
OPTIMIZERS: dict[str, Callable[[Mapping[str, Any], int], Any]] = {
    "shoal-auto": _shoal("Auto"),
    "shoal-gp": _shoal("GP"),
    "shoal-tpe": _shoal("TPE"),
    "shoal-cmaes": _shoal("CMAES"),
    "shoal-random": _shoal("Random"),
    "optuna-tpe": lambda space, seed: OptunaAdapter(space, seed, "tpe"),
    "optuna-gp": lambda space, seed: OptunaAdapter(space, seed, "gp"),
    "optuna-cmaes": lambda space, seed: OptunaAdapter(space, seed, "cmaes"),
    "hyperopt-tpe": HyperoptAdapter,
    "skopt-gp": SkoptAdapter,
    "shoal-gp-par4": _shoal("GP"),
    **{name: _peer(name) for name in ("smac", "hebo", "ax")},
}
#: The optimizers a default run compares (the parallel variant is scored separately).
DEFAULT = ["shoal-auto", "shoal-gp", "shoal-tpe", "shoal-random", "optuna-tpe", "optuna-gp",
           "optuna-cmaes", "hyperopt-tpe", "skopt-gp", "shoal-gp-par4", "smac", "hebo", "ax"]
#: Peers that run in their own virtual environment (``envs.py``), as subprocesses.
PEERS = ("smac", "hebo", "ax")
#: Random search, the zero of the normalized score.
BASELINE = "shoal-random"
_LIBRARY = {"optuna": "optuna", "hyperopt": "hyperopt", "skopt": "skopt"}


def pending(name: str) -> int:
    """How many trials the optimizer keeps outstanding."""
    return PARALLEL_PENDING if name.endswith("-par4") else 1


def make(name: str, space: Mapping[str, Any], seed: int, budget: int | None = None) -> Any:
    """A fresh adapter for optimizer ``name`` on ``space``, seeded with ``seed`` (SMAC wants the budget)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    if name in PEERS:
        return OPTIMIZERS[name](space, seed, budget)
    return OPTIMIZERS[name](space, seed)


def unavailable(name: str) -> str | None:
    """Why optimizer ``name`` cannot run here, or None when it can."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    if name in PEERS and os.environ.get(envs.INSIDE) != envs.group_of(name):
        why = envs.problem(envs.group_of(name) or name)
        return f"{name} runs in its own env, but {why}" if why else None
    try:
        make(name, {"x": shoal.Float(0.0, 1.0)}, 0)
    except Unavailable as exc:
        return str(exc)
    except ImportError as exc:
        return f"{name} needs a library that is not installed ({exc}); pip install 'shoal[bench]'"
    return None

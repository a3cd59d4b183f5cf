"""Adapters for the peers that live in their own envs: SMAC3, HEBO and Ax (``envs.py`` builds those).

Each one is used the way its documentation shows for ask/tell, with its default settings:

- SMAC3: ``HyperparameterOptimizationFacade`` over a ConfigSpace space, a ``Scenario`` with
  ``n_trials=budget`` and ``deterministic=True``; ``ask()`` gives a ``TrialInfo``, ``tell`` a ``TrialValue``.
- HEBO: ``HEBO(DesignSpace().parse(...))``, ``suggest(n_suggestions=1)`` and ``observe(frame, y)``.
- Ax: ``ax.Client`` with ``configure_experiment``/``configure_optimization("-loss")`` and its default
  generation strategy (Sobol, then BoTorch), ``get_next_trials(1)`` and ``complete_trial``.

Categorical values travel as labels ``c0, c1, ...`` (every peer treats them as unordered strings) and are
mapped back; numbers coming back are clipped into bounds, ints rounded, stepped floats snapped to the grid.
"""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

import shoal

from .optimizers import _dims

#: The budget a SMAC scenario is made for when the harness does not say (``n_trials``).
DEFAULT_BUDGET = 60


def _label(i: int) -> str:
    return f"c{i}"


def _decode(dim: Any, raw: Any) -> Any:
    """A peer's value for ``dim`` as shoal's space accepts it."""
    if isinstance(dim, shoal.Choice):
        return dim.values[int(str(raw)[1:])]
    value = min(max(float(raw), dim.low), dim.high)
    if isinstance(dim, shoal.Int):
        step = dim.step or 1
        return int(min(max(dim.low + round((value - dim.low) / step) * step, dim.low), dim.high))
    if dim.step is not None:
        value = min(dim.low + round((value - dim.low) / dim.step) * dim.step, dim.high)
    return float(value)


class _Decoding:
    dims: list[tuple[str, Any]]

    def decode(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return {name: _decode(dim, raw[name]) for name, dim in self.dims}


# -- SMAC3 ------------------------------------------------------------------------------------------
class SmacAdapter(_Decoding):
    """SMAC3's hyperparameter-optimization facade (random forest, EI, local + random search), ask/tell."""

    def __init__(self, space: Mapping[str, Any], seed: int, budget: int = DEFAULT_BUDGET) -> None:
        from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer
        from smac import HyperparameterOptimizationFacade, Scenario

        warnings.filterwarnings("ignore")
        self.dims = _dims(space)
        cs = ConfigurationSpace(seed=seed)
        for name, dim in self.dims:
            if isinstance(dim, shoal.Float):
                cs.add(Float(name, (dim.low, dim.high), log=dim.scale == "log"))
            elif isinstance(dim, shoal.Int):
                cs.add(Integer(name, (dim.low, dim.high), log=dim.scale == "log"))
            else:
                cs.add(Categorical(name, [_label(i) for i in range(len(dim.values))]))
        self._folder = tempfile.TemporaryDirectory(prefix="shoal-smac-")
        scenario = Scenario(cs, deterministic=True, n_trials=budget, seed=seed,
                            output_directory=f"{self._folder.name}/smac3")
        self.smac = HyperparameterOptimizationFacade(
            scenario, self._never_called, overwrite=True, logging_level=logging.WARNING)

    @staticmethod
    def _never_called(config: Any, seed: int = 0) -> float:
        raise RuntimeError("the benchmark evaluates trials itself (ask/tell)")

    def ask(self) -> tuple[Any, dict[str, Any]]:
        info = self.smac.ask()
        return info, self.decode(dict(info.config))

    def tell(self, handle: Any, value: float) -> None:
        from smac.runhistory.dataclasses import TrialValue

        self.smac.tell(handle, TrialValue(cost=float(value)), save=False)


# -- HEBO -------------------------------------------------------------------------------------------
class HeboAdapter(_Decoding):
    """HEBO's default optimizer over a ``DesignSpace``, ``suggest``/``observe`` one trial at a time."""

    def __init__(self, space: Mapping[str, Any], seed: int, budget: int = DEFAULT_BUDGET) -> None:
        import torch
        from hebo.design_space.design_space import DesignSpace
        from hebo.optimizers.hebo import HEBO

        warnings.filterwarnings("ignore")
        torch.set_num_threads(1)
        np.random.seed(seed)  # HEBO draws from the global generators
        torch.manual_seed(seed)
        self.dims = _dims(space)
        params = []
        for name, dim in self.dims:
            if isinstance(dim, shoal.Choice):
                params.append({"name": name, "type": "cat",
                               "categories": [_label(i) for i in range(len(dim.values))]})
            elif dim.scale == "log":
                kind = "pow_int" if isinstance(dim, shoal.Int) else "pow"
                params.append({"name": name, "type": kind, "lb": dim.low, "ub": dim.high, "base": 10})
            else:
                kind = "int" if isinstance(dim, shoal.Int) else "num"
                params.append({"name": name, "type": kind, "lb": dim.low, "ub": dim.high})
        self.hebo = HEBO(DesignSpace().parse(params), scramble_seed=seed)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        frame = self.hebo.suggest(n_suggestions=1)
        return frame, self.decode(frame.iloc[0].to_dict())

    def tell(self, handle: Any, value: float) -> None:
        self.hebo.observe(handle, np.array([[float(value)]]))


# -- Ax ---------------------------------------------------------------------------------------------
class AxAdapter(_Decoding):
    """Ax's ``Client`` with its default generation strategy, minimizing ``loss``."""

    def __init__(self, space: Mapping[str, Any], seed: int, budget: int = DEFAULT_BUDGET) -> None:
        import torch
        from ax import ChoiceParameterConfig, Client, RangeParameterConfig

        warnings.filterwarnings("ignore")
        for name in list(logging.root.manager.loggerDict):  # Ax sets INFO on each of its loggers
            if name.split(".")[0] in ("ax", "botorch"):
                logging.getLogger(name).setLevel(logging.ERROR)
        torch.set_num_threads(1)
        self.dims = _dims(space)
        parameters: list[Any] = []
        for name, dim in self.dims:
            if isinstance(dim, shoal.Choice):
                parameters.append(ChoiceParameterConfig(
                    name=name, values=[_label(i) for i in range(len(dim.values))], parameter_type="str",
                    is_ordered=False))
            else:
                kind = "int" if isinstance(dim, shoal.Int) else "float"
                cast = int if kind == "int" else float
                parameters.append(RangeParameterConfig(
                    name=name, parameter_type=kind, bounds=(cast(dim.low), cast(dim.high)),
                    step_size=dim.step if kind == "float" else None,
                    scaling="log" if dim.scale == "log" else "linear"))
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=parameters, name="bench")
        self.client.configure_optimization(objective="-loss")

    def ask(self) -> tuple[Any, dict[str, Any]]:
        [(index, params)] = self.client.get_next_trials(max_trials=1).items()
        return index, self.decode(params)

    def tell(self, handle: Any, value: float) -> None:
        if not math.isfinite(value):
            self.client.mark_trial_failed(trial_index=handle)
            return
        self.client.complete_trial(trial_index=handle, raw_data={"loss": float(value)})


#: Optimizer name -> adapter class (each needs its own env; see ``envs.GROUPS``).
PEERS = {"smac": SmacAdapter, "hebo": HeboAdapter, "ax": AxAdapter}

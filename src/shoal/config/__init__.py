"""Run configs: a study, its space, sampler, scheduler and objective in YAML (what ``shoal run`` reads).

The CLI and the Python API share this parser::

    config = RunConfig.from_yaml("examples/quickstart.yaml")
    study = config.run()            # build the study, import the objective, optimize

``run`` holds ``RunConfig`` (reading and validating a config, building and running its study);
``names`` builds samplers, schedulers and rules from their config names; ``values`` checks single values
(storage, checkpoint store, Dask address, numbers of seconds, exception names).
"""

from __future__ import annotations

from ..errors import ConfigError  # defined in shoal.errors, importable here
from .names import RULE_NAMES, SAMPLER_NAMES, SCHEDULER_NAMES, build_rules, build_sampler, build_scheduler
from .run import RunConfig
from .values import DEFAULT_STORAGE, STORAGE_ENV, check_checkpoints, check_dask_address, default_storage

__all__ = [
    "RunConfig",
    "ConfigError",
    "DEFAULT_STORAGE",
    "STORAGE_ENV",
    "SAMPLER_NAMES",
    "SCHEDULER_NAMES",
    "RULE_NAMES",
    "default_storage",
    "build_sampler",
    "build_scheduler",
    "build_rules",
    "check_checkpoints",
    "check_dask_address",
]

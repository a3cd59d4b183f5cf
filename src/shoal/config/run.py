"""``RunConfig``: a run config read from YAML (or a mapping), validated, and run.

The CLI and the Python API share this parser::

    config = RunConfig.from_yaml("examples/quickstart.yaml")
    study = config.run()            # build the study, import the objective, optimize
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..execution import dask_gpus
from ..execution.devices import plan_devices
from ..objectives import Objectives
from ..rules import Rule
from ..samplers.base import Sampler
from ..schedulers.base import Scheduler
from ..space import Space, import_object
from ..study import Study
from ..study.scheduling import check_scheduler, report_metric_of
from .names import build_rules, build_sampler, build_scheduler
from .values import (
    _add_import_paths,
    _check_scheduler_fits,
    _exception_class,
    _positive_int,
    _seconds,
    check_checkpoints,
    check_dask_address,
    default_storage,
)
from .yaml_keys import load_yaml

__all__ = ["RunConfig"]

_REQUIRED = ("study", "objective", "space")


@dataclass
class RunConfig:
    """A validated run config. Build one with ``from_yaml`` or ``from_dict``.

    ``space``, ``sampler``, ``scheduler`` and ``rules`` keep their plain (YAML/JSON) form; ``base_dir`` is the
    config file's directory, put on ``sys.path`` (with the working directory) to import the objective.
    """

    study: str
    objective: str
    space: dict[str, Any]
    direction: str | None = "minimize"  # None with objectives (each names its direction)
    objectives: dict[str, str] | None = None
    constraints: list[str] | None = None
    report_metric: str | None = None
    sampler: str | dict[str, Any] | None = None
    scheduler: str | dict[str, Any] | None = None
    rules: list[dict[str, Any]] | None = None
    checkpoints: str | None = None
    n_trials: int | None = None
    timeout: float | None = None
    seed: int | None = None
    storage: str = field(default_factory=default_storage)
    catch: list[str] | None = None
    n_workers: int | None = None
    dask: str | None = None
    total_trials: int | None = None
    timeout_per_trial: float | None = None
    max_trials_per_worker: int | None = None
    retries: int | None = None
    devices: str | list[str | int] | None = None
    workers_per_device: int | None = None
    base_dir: Path | None = None

    #: The keys a config file may hold.
    KEYS = ("study", "objective", "direction", "objectives", "constraints", "report_metric", "space",
            "sampler", "scheduler", "rules", "checkpoints", "n_trials", "timeout", "seed", "storage", "catch",
            "n_workers", "dask", "total_trials", "timeout_per_trial", "max_trials_per_worker", "retries",
            "devices", "workers_per_device")

    @classmethod
    def from_yaml(
        cls, path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
    ) -> RunConfig:
        """Read and validate a YAML config; ``overrides`` (e.g. from the command line) win over it."""
        import yaml

        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {str(path)!r} not found")
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} is not a file")
        try:
            data = load_yaml(path.read_text(encoding="utf-8"))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read it ({exc})") from None
        if data is None:
            raise ConfigError(f"{path}: the file is empty; it needs at least {', '.join(_REQUIRED)}")
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
        data = {**data, **(overrides or {})}
        try:
            return cls.from_dict(data, base_dir=path.resolve().parent)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
    ) -> RunConfig:
        """Validate a config mapping (the parsed YAML); raises ``ConfigError`` naming the bad key."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a run config must be a mapping, got {type(data).__name__}")
        unknown = [k for k in data if k not in cls.KEYS]
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r}; valid keys: {', '.join(cls.KEYS)}")
        missing = [k for k in _REQUIRED if data.get(k) is None]
        if missing:
            raise ConfigError(f"missing key {missing[0]!r}; a run config needs {', '.join(_REQUIRED)}")

        study = data["study"]
        if not isinstance(study, str) or not study.strip():
            raise ConfigError(f"study: must be a non-empty name, got {study!r}")
        objective = data["objective"]
        if not isinstance(objective, str) or objective.count(":") != 1 or objective.startswith(":") \
                or objective.endswith(":"):
            raise ConfigError(
                f"objective: must be 'module:function' (e.g. 'train:objective'), got {objective!r}"
            )
        direction = data.get("direction")
        if direction is not None and direction not in ("minimize", "maximize"):
            raise ConfigError(f"direction: must be minimize or maximize, got {direction!r}")
        objectives, constraints, report_metric, what = _objectives(data)
        space = data["space"]
        if not isinstance(space, Mapping) or not space:
            raise ConfigError(
                "space: must be a mapping of dimension names to specs, e.g. "
                "{lr: {type: float, low: 1.0e-4, high: 1, scale: log}}"
            )
        _add_import_paths(base_dir)  # a custom dimension's map may live next to the config
        try:
            built_space = Space.from_dict(space)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        sampler = data.get("sampler")
        built_sampler = build_sampler(sampler)  # validate now: a typo fails before any trial runs
        if built_sampler is not None:
            try:  # a space the sampler cannot search (a choice for CMA-ES, a grid too large)
                built_sampler.check_space(built_space)
            except ValueError as exc:
                name = sampler if isinstance(sampler, str) else sampler.get("name")
                raise ConfigError(f"sampler {name!r}: {exc}") from None
        scheduler = data.get("scheduler")
        built_scheduler = build_scheduler(scheduler)
        try:
            check_scheduler(built_scheduler, what)
        except ValueError as exc:
            raise ConfigError(f"scheduler: {exc}") from None
        rules = data.get("rules")
        build_rules(rules, built_space)  # a rule for a dimension the space lacks fails now
        checkpoints = data.get("checkpoints")
        if checkpoints is not None:
            check_checkpoints(checkpoints)
        timeout = _seconds("timeout", data.get("timeout"))
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ConfigError(f"seed: must be an integer >= 0, got {seed!r}")
        storage = data.get("storage")
        if storage is None:
            storage = default_storage()
        if not isinstance(storage, str) or "://" not in storage:
            raise ConfigError(
                f"storage: must be a URL such as 'sqlite:///shoal.db' or "
                f"'postgresql+psycopg://user@host/db', got {storage!r}"
            )
        n_trials = _positive_int("n_trials", data.get("n_trials"))
        total_trials = _positive_int("total_trials", data.get("total_trials"))
        ends = built_scheduler is not None and built_scheduler.ends_by_itself  # PBT with max_steps
        if n_trials is None and timeout is None and total_trials is None and not ends:
            raise ConfigError(
                "n_trials: set n_trials, total_trials or timeout so the run ends (a grid stops early "
                "when every point is done; PBT with max_steps ends when its members have trained)"
            )
        n_workers = _positive_int("n_workers", data.get("n_workers"))
        dask = data.get("dask")
        if dask is not None:
            check_dask_address(dask)
        max_trials_per_worker = _positive_int("max_trials_per_worker", data.get("max_trials_per_worker"))
        timeout_per_trial = _seconds("timeout_per_trial", data.get("timeout_per_trial"))
        retries = data.get("retries")
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
            raise ConfigError(
                f"retries: must be an integer >= 0 (re-runs of a failed trial), got {retries!r}"
            )
        if dask is not None and n_workers is not None and n_workers > 1:
            raise ConfigError(
                "n_workers: with dask the cluster's workers run the trials; remove n_workers, or "
                "remove dask to run n_workers local processes"
            )
        if dask is not None and max_trials_per_worker is not None:
            raise ConfigError(
                "max_trials_per_worker: recycles local worker processes and does not apply to a Dask "
                "cluster (Dask manages its workers); remove it or remove dask"
            )
        devices, workers_per_device = _devices(data, n_workers, dask)
        _check_scheduler_fits(scheduler, built_scheduler, checkpoints, storage, dask)
        catch = data.get("catch")
        if catch is not None:
            if isinstance(catch, str):
                catch = [catch]
            if not isinstance(catch, list):
                raise ConfigError(f"catch: must be a list of exception names, got {catch!r}")
            for name in catch:
                _exception_class(name)
        return cls(
            study=study,
            objective=objective,
            space=dict(space),
            direction=None if objectives is not None else direction or "minimize",
            objectives=objectives,
            constraints=constraints,
            report_metric=report_metric,
            sampler=sampler if not isinstance(sampler, Mapping) else dict(sampler),
            scheduler=scheduler if not isinstance(scheduler, Mapping) else dict(scheduler),
            rules=None if rules is None else [dict(rule) for rule in rules],
            checkpoints=checkpoints,
            n_trials=n_trials,
            timeout=timeout,
            seed=seed,
            storage=storage,
            catch=None if catch is None else list(catch),
            n_workers=n_workers,
            dask=dask,
            total_trials=total_trials,
            timeout_per_trial=timeout_per_trial,
            max_trials_per_worker=max_trials_per_worker,
            devices=devices,
            workers_per_device=workers_per_device,
            retries=retries,
            base_dir=None if base_dir is None else Path(base_dir),
        )

    def to_dict(self) -> dict[str, Any]:
        """The config as a mapping (the keys of a config file; unset optional keys left out)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name in self.KEYS}
        return {k: v for k, v in out.items() if v is not None}

    # -- building ------------------------------------------------------------------------------
    def build_space(self) -> Space:
        return Space.from_dict(self.space)

    def build_sampler(self) -> Sampler | None:
        return build_sampler(self.sampler)

    def build_scheduler(self) -> Scheduler | None:
        return build_scheduler(self.scheduler)

    def build_rules(self) -> list[Rule]:
        return build_rules(self.rules, self.build_space())

    def catch_types(self) -> tuple[type[BaseException], ...]:
        """The exception classes that fail a trial without stopping the run (default: Exception)."""
        if self.catch is None:
            return (Exception,)
        return tuple(_exception_class(name) for name in self.catch)

    def load_objective(self) -> Callable[..., Any]:
        """Import the objective, with the config's directory and the working directory on sys.path.

        Raises ``ConfigError`` when the module or function cannot be found, and when the module
        fails while it imports (a syntax error, an exception of its own code); the module's own
        error is the ``ConfigError``'s cause, with its traceback.
        """
        _add_import_paths(self.base_dir)
        module = self.objective.partition(":")[0]
        try:
            objective = import_object(self.objective)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module != exc.name and not module.startswith(f"{exc.name}."):
                raise ConfigError(  # the module is there, and imports a package that is not
                    f"objective {self.objective!r}: importing module {module!r} failed: it imports "
                    f"{exc.name!r}, which is not installed; install it"
                ) from exc
            raise ConfigError(
                f"objective {self.objective!r}: cannot import module {exc.name!r}; put it next to the "
                "config file or in the working directory, or install it"
            ) from None
        except SyntaxError as exc:
            where = f"{exc.filename}, line {exc.lineno}" if exc.filename else f"module {module!r}"
            raise ConfigError(
                f"objective {self.objective!r}: module {module!r} has a syntax error ({where}: "
                f"{exc.msg}); fix it and run again"
            ) from exc
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"objective {self.objective!r}: cannot import it ({exc})") from None
        except (Exception, SystemExit) as exc:  # the module's own code failed while importing
            lines = str(exc).strip().splitlines()
            raise ConfigError(
                f"objective {self.objective!r}: importing module {module!r} raised "
                f"{type(exc).__name__}{': ' + lines[0] if lines else ''}; fix the module (run "
                f"python -c 'import {module}' to see the traceback)"
            ) from exc
        if not callable(objective):
            raise ConfigError(f"objective {self.objective!r} is a {type(objective).__name__}, not a function")
        return objective

    def build_study(self) -> Study:
        """Create the study (its sampler, scheduler and checkpoint store) in its storage, or resume it
        when one of that name exists."""
        return Study(
            self.study,
            self.build_space(),
            self.direction,
            self.storage,
            self.build_sampler(),
            objectives=self.objectives,
            constraints=self.constraints,
            report_metric=self.report_metric,
            seed=self.seed,
            scheduler=self.build_scheduler(),
            checkpoints=self.checkpoints,
            rules=self.build_rules(),
        )

    def optimize_options(self) -> dict[str, Any]:
        """The keyword arguments of ``Study.optimize`` this config sets (``dask`` as ``executor``).

        ``n_trials`` is not among them: it is ``optimize``'s positional argument.
        """
        options: dict[str, Any] = {
            "timeout": self.timeout,
            "total_trials": self.total_trials,
            "timeout_per_trial": self.timeout_per_trial,
            "max_trials_per_worker": self.max_trials_per_worker,
            "catch": self.catch_types(),
        }
        if self.n_workers is not None:
            options["n_workers"] = self.n_workers
        if self.dask is not None:
            options["executor"] = self.dask
        if self.retries is not None:
            options["retries"] = self.retries
        if self.devices is not None:
            options["devices"] = self.devices
        if self.workers_per_device is not None:
            options["workers_per_device"] = self.workers_per_device
        return options

    def run(self, *, show_progress: bool = True) -> Study:
        """Import the objective, build (or resume) the study and run ``n_trials`` more trials.

        Every run option of the config applies: ``n_workers`` or ``dask``, ``total_trials``,
        ``timeout_per_trial``, ``max_trials_per_worker`` and ``retries``.
        """
        objective = self.load_objective()
        study = self.build_study()
        study.optimize(objective, self.n_trials, show_progress=show_progress, **self.optimize_options())
        return study


def _devices(
    data: Mapping[str, Any], n_workers: int | None, dask: str | None
) -> tuple[str | list[str | int] | None, int | None]:
    """``devices`` and ``workers_per_device`` checked as ``optimize`` checks them (the GPUs named
    must be visible here), before anything runs."""
    devices, per = data.get("devices"), data.get("workers_per_device")
    if devices is None and per is None:
        return None, None
    if isinstance(devices, (list, tuple)):
        devices = list(devices)
    try:
        if dask is not None:
            dask_gpus(devices, per)
        else:
            plan_devices(devices, n_workers, per)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None  # it names the key: devices, n_workers, workers_per_device
    return devices, per


def _objectives(
    data: Mapping[str, Any],
) -> tuple[dict[str, str] | None, list[str] | None, str | None, Objectives]:
    """``objectives``, ``constraints`` and ``report_metric`` checked (``ConfigError`` naming the key),
    and the objectives they make with ``direction``."""
    direction, objectives = data.get("direction"), data.get("objectives")
    constraints, report_metric = data.get("constraints"), data.get("report_metric")
    if objectives is not None:
        if direction is not None:
            raise ConfigError(
                "direction: remove it; with objectives each objective names its own direction, e.g. "
                "objectives: {accuracy: maximize, latency_ms: minimize}"
            )
        if not isinstance(objectives, Mapping):
            raise ConfigError(
                "objectives: must be a mapping of names to minimize or maximize, e.g. "
                f"{{accuracy: maximize, latency_ms: minimize}}; got {objectives!r}"
            )
    if constraints is not None and not isinstance(constraints, list):
        raise ConfigError(
            "constraints: must be a list such as ['memory_mb <= 512', 'latency_ms <= 20'], got "
            f"{constraints!r}"
        )
    for key, given in (("objectives", objectives), ("constraints", constraints)):
        try:
            Objectives.build(**{key: given})
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
    built = Objectives.build(direction=direction, objectives=objectives, constraints=constraints)
    try:
        report_metric_of(built, report_metric)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None  # it starts with "report_metric"
    named = None if objectives is None else {str(k): str(v) for k, v in objectives.items()}
    return named, None if constraints is None else list(constraints), report_metric, built

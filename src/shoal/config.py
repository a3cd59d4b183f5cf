"""Run configs: a study, its space, sampler, scheduler and objective in YAML (what ``shoal run`` reads).

The CLI and the Python API share this parser::

    config = RunConfig.from_yaml("examples/quickstart.yaml")
    study = config.run()            # build the study, import the objective, optimize
"""

from __future__ import annotations

import builtins
import inspect
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError  # noqa: F401 - defined in shoal.errors
from .samplers.base import Sampler
from .schedulers.base import Scheduler
from .space import Space, import_object
from .study import Study

__all__ = [
    "RunConfig",
    "ConfigError",
    "DEFAULT_STORAGE",
    "SAMPLER_NAMES",
    "SCHEDULER_NAMES",
    "default_storage",
    "build_sampler",
    "build_scheduler",
    "check_checkpoints",
    "check_dask_address",
]

#: Where studies live when neither ``--storage``, the config nor ``SHOAL_STORAGE`` says otherwise.
DEFAULT_STORAGE = "sqlite:///shoal.db"
STORAGE_ENV = "SHOAL_STORAGE"

#: Sampler names a config may use, and the class in ``shoal.samplers`` each one means.
SAMPLER_NAMES: dict[str, str] = {
    "random": "Random",
    "grid": "Grid",
    "quasirandom": "QuasiRandom",
    "coarse_to_fine": "CoarseToFine",
    "tpe": "TPE",
    "bohb": "BOHB",
    "gp": "GP",
    "cmaes": "CMAES",
    "auto": "Auto",
}

#: Scheduler names a config may use, and the class in ``shoal.schedulers`` each one means.
SCHEDULER_NAMES: dict[str, str] = {
    "median": "MedianStopping",
    "asha": "ASHA",
    "hyperband": "Hyperband",
    "pbt": "PBT",
}

_REQUIRED = ("study", "objective", "space")
#: ``scheme://host:port`` as ``dask scheduler`` prints it (tcp, tls, inproc, ucx, ws, wss).
_DASK_ADDRESS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")



def default_storage() -> str:
    """``$SHOAL_STORAGE`` if set, else ``sqlite:///shoal.db`` (relative to the working directory)."""
    return os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


def _spec_parts(key: str, spec: Any, example: str) -> tuple[Any, dict[str, Any]]:
    """The name and options of a spec written as ``"name"`` or ``{name: ..., option: value}``."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        options = dict(spec)
        if "name" not in options:
            raise ConfigError(f"{key}: a mapping needs a 'name' key, e.g. {example}")
        return options.pop("name"), options
    raise ConfigError(f"{key}: expected a name or a mapping with 'name', got {spec!r}")


def _named_class(key: str, name: Any, names: Mapping[str, str], module: Any) -> type:
    """The class ``names[name]`` of ``module``; ConfigError listing the valid names otherwise."""
    if not isinstance(name, str) or name not in names:
        raise ConfigError(f"{key}: unknown name {name!r}; use one of {', '.join(names)}")
    cls = getattr(module, names[name], None)
    if cls is None:
        raise ConfigError(f"{key}: {name!r} is not available in this version of shoal")
    return cls


def _check_options(key: str, name: str, cls: type, options: Mapping[str, Any]) -> None:
    """Every option must be a keyword of ``cls``; the error lists the ones it takes.

    A renamed keyword passes here, so that the class's own TypeError names the new one.
    """
    accepted = [
        p.name
        for p in inspect.signature(cls).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    renamed = getattr(cls, "renamed_keywords", {})
    unknown = [k for k in options if k not in accepted and k not in renamed]
    if unknown:
        raise ConfigError(
            f"{key} {name!r}: unknown option {unknown[0]!r}; valid options: "
            f"{', '.join(accepted) or 'none'}"
        )


def _construct(key: str, name: str, cls: type, options: Mapping[str, Any]) -> Any:
    """``cls(**options)``, with the class's own complaint about a value as a ConfigError."""
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} {name!r}: {exc}") from None


def build_sampler(spec: str | Mapping[str, Any] | None) -> Sampler | None:
    """A sampler from its config form: ``"grid"`` or ``{"name": "grid", "resolution": 4}``.

    ``coarse_to_fine`` takes a nested ``base:`` spec. ``None`` means the study's default (``Auto``).
    """
    from . import samplers

    if spec is None:
        return None
    name, options = _spec_parts("sampler", spec, "{name: grid, resolution: 4}")
    cls = _named_class("sampler", name, SAMPLER_NAMES, samplers)
    _check_options("sampler", name, cls, options)
    if "base" in options:
        try:
            options["base"] = build_sampler(options["base"])
        except ConfigError as exc:
            raise ConfigError(f"sampler {name!r}: base {exc}") from None
    return _construct("sampler", name, cls, options)


def build_scheduler(spec: str | Mapping[str, Any] | None) -> Scheduler | None:
    """A scheduler from its config form: ``"asha"`` or ``{"name": "asha", "min_resource": 1}``.

    ``None`` means no scheduler: every trial runs to its end.
    """
    from . import schedulers

    if spec is None:
        return None
    name, options = _spec_parts("scheduler", spec, "{name: asha, min_resource: 1, reduction_factor: 3}")
    cls = _named_class("scheduler", name, SCHEDULER_NAMES, schedulers)
    _check_options("scheduler", name, cls, options)
    return _construct("scheduler", name, cls, options)


def check_checkpoints(value: Any) -> str:
    """A checkpoint store as a config gives it: a folder (relative to the working directory, like a
    SQLite storage path) or an fsspec URL whose filesystem is installed. Returns it unchanged."""
    from .checkpoints import CheckpointStore

    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"checkpoints: must be a folder path or a URL such as 's3://bucket/run', got {value!r}"
        )
    if CheckpointStore(value).remote:
        protocol = value.split("://", 1)[0]
        try:
            import fsspec

            fsspec.get_filesystem_class(protocol)
        except ImportError as exc:
            raise ConfigError(
                f"checkpoints: {value!r} is a URL, which needs fsspec and the filesystem's package "
                f"(pip install 'shoal[fsspec]'; {exc})"
            ) from None
        except ValueError as exc:
            raise ConfigError(f"checkpoints: {value!r}: {exc}") from None
    return value


def _default_store_is_shared(storage: str, dask: str | None) -> bool:
    """Whether the study's default checkpoint store (next to a SQLite file) serves every run of it.

    Other storages put checkpoints in a temporary folder of each ``shoal run`` process, and Dask
    workers on other machines cannot reach a folder of the driver's.
    """
    prefix, sep, path = storage.partition(":///")
    database = path.split("?")[0]
    return dask is None and prefix.startswith("sqlite") and bool(sep) and database not in ("", ":memory:")


def _check_scheduler_fits(
    spec: Any, scheduler: Scheduler | None, checkpoints: str | None, storage: str, dask: str | None
) -> None:
    """A scheduler that pauses trials and resumes them from checkpoints (``pbt``, ``asha`` or
    ``hyperband`` with ``mode: promote``) needs a store every run reaches."""
    if scheduler is None or not scheduler.pauses or checkpoints is not None:
        return
    if _default_store_is_shared(storage, dask):
        return
    name = spec if isinstance(spec, str) else spec.get("name")
    where = "on a Dask cluster" if dask is not None else f"with storage {storage!r}"
    raise ConfigError(
        f"checkpoints: scheduler {name!r} resumes trials from checkpoints, and {where} the default "
        "store is a folder that other drivers or workers cannot reach; set checkpoints: to a folder "
        "every worker shares, or a URL such as 's3://bucket/run'"
    )


def _exception_class(name: Any) -> type[BaseException]:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"catch: expected exception names like ValueError, got {name!r}")
    obj = getattr(builtins, name, None) if ":" not in name else None
    if obj is None and ":" in name:
        try:
            obj = import_object(name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"catch: cannot import {name!r} ({exc})") from None
    if not (isinstance(obj, type) and issubclass(obj, BaseException)):
        raise ConfigError(
            f"catch: {name!r} is not an exception class; give a builtin name such as ValueError "
            "or 'module:ExceptionClass'"
        )
    return obj


def _add_import_paths(base_dir: str | os.PathLike[str] | None) -> None:
    """Put the working directory and the config's directory at the front of ``sys.path``."""
    for directory in (os.getcwd(), None if base_dir is None else str(Path(base_dir).resolve())):
        if directory is not None and directory not in sys.path:
            sys.path.insert(0, directory)


def _positive_int(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}: must be a positive integer, got {value!r}")
    return value


def _seconds(key: str, value: Any) -> float | None:
    """A positive, finite number of seconds; YAML 1.1 reads ``3e2`` as a string, so strings parse."""
    if value is None:
        return None
    number = value
    if isinstance(number, str):
        try:
            number = float(number)
        except ValueError:
            pass
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not (math.isfinite(number) and number > 0)
    ):
        raise ConfigError(f"{key}: must be a number of seconds > 0, got {value!r}")
    return float(number)


def check_dask_address(address: Any) -> str:
    """A Dask scheduler address with its scheme: ``tcp://10.0.0.5:8786``, ``tls://host:8786``.

    Raises ``ConfigError`` (its message starts with ``dask:``) for anything else.
    """
    if not (isinstance(address, str) and _DASK_ADDRESS.fullmatch(address)):
        raise ConfigError(
            f"dask: must be a Dask scheduler address such as 'tcp://10.0.0.5:8786' (what 'dask "
            f"scheduler' prints), got {address!r}"
        )
    return address


@dataclass
class RunConfig:
    """A validated run config. Build one with ``from_yaml`` or ``from_dict``.

    ``space``, ``sampler`` and ``scheduler`` keep their plain (YAML/JSON) form; ``base_dir`` is the
    config file's directory, put on ``sys.path`` (with the working directory) to import the objective.
    """

    study: str
    objective: str
    space: dict[str, Any]
    direction: str = "minimize"
    sampler: str | dict[str, Any] | None = None
    scheduler: str | dict[str, Any] | None = None
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
    base_dir: Path | None = None

    #: The keys a config file may hold.
    KEYS = ("study", "objective", "direction", "space", "sampler", "scheduler", "checkpoints", "n_trials",
            "timeout", "seed", "storage", "catch", "n_workers", "dask", "total_trials", "timeout_per_trial",
            "max_trials_per_worker", "retries")

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
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
        direction = data.get("direction", "minimize")
        if direction not in ("minimize", "maximize"):
            raise ConfigError(f"direction: must be minimize or maximize, got {direction!r}")
        space = data["space"]
        if not isinstance(space, Mapping) or not space:
            raise ConfigError(
                "space: must be a mapping of dimension names to specs, e.g. "
                "{lr: {type: float, low: 1.0e-4, high: 1, scale: log}}"
            )
        _add_import_paths(base_dir)  # a custom dimension's map may live next to the config
        try:
            Space.from_dict(space)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        sampler = data.get("sampler")
        build_sampler(sampler)  # validate now: a typo fails before any trial runs
        scheduler = data.get("scheduler")
        built_scheduler = build_scheduler(scheduler)
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
        if n_trials is None and timeout is None and total_trials is None:
            raise ConfigError(
                "n_trials: set n_trials, total_trials or timeout so the run ends (a grid stops early "
                "when every point is done)"
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
            direction=direction,
            sampler=sampler if not isinstance(sampler, Mapping) else dict(sampler),
            scheduler=scheduler if not isinstance(scheduler, Mapping) else dict(scheduler),
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

    def catch_types(self) -> tuple[type[BaseException], ...]:
        """The exception classes that fail a trial without stopping the run (default: Exception)."""
        if self.catch is None:
            return (Exception,)
        return tuple(_exception_class(name) for name in self.catch)

    def load_objective(self) -> Callable[..., Any]:
        """Import the objective, with the config's directory and the working directory on sys.path.

        Raises ``ConfigError`` when the module or function cannot be found; errors raised by the
        module's own code while it imports propagate unchanged.
        """
        _add_import_paths(self.base_dir)
        try:
            objective = import_object(self.objective)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"objective {self.objective!r}: cannot import module {exc.name!r}; put it next to the "
                "config file or in the working directory, or install it"
            ) from None
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"objective {self.objective!r}: cannot import it ({exc})") from None
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
            seed=self.seed,
            scheduler=self.build_scheduler(),
            checkpoints=self.checkpoints,
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

"""Samplers, schedulers and rules from their config names: ``"grid"``, ``{name: asha, min_resource: 1}``,
``[{name: reduce_on_plateau, dimension: lr}]``.

``build_sampler``, ``build_scheduler`` and ``build_rules`` turn the ``sampler:``, ``scheduler:`` and
``rules:`` keys of a run config into objects; an unknown name or option is a ``ConfigError`` that
lists the valid ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..rules import Rule
from ..samplers.base import Sampler
from ..schedulers.base import Scheduler
from ..space import Space

__all__ = [
    "SAMPLER_NAMES", "SCHEDULER_NAMES", "RULE_NAMES", "build_sampler", "build_scheduler", "build_rules",
]

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
    "mogp": "MOGP",
    "motpe": "MOTPE",
    "nsga2": "NSGAII",
    "auto": "Auto",
}

#: Scheduler names a config may use, and the class in ``shoal.schedulers`` each one means.
SCHEDULER_NAMES: dict[str, str] = {
    "median": "MedianStopping",
    "asha": "ASHA",
    "hyperband": "Hyperband",
    "pbt": "PBT",
}

#: Rule names a config may use, and the class in ``shoal.rules`` each one means (its first argument,
#: the dimension it changes, is the ``dimension`` key).
RULE_NAMES: dict[str, str] = {
    "reduce_on_plateau": "ReduceOnPlateau",
}


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
    from .. import samplers

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
    from .. import schedulers

    if spec is None:
        return None
    name, options = _spec_parts("scheduler", spec, "{name: asha, min_resource: 1, reduction_factor: 3}")
    cls = _named_class("scheduler", name, SCHEDULER_NAMES, schedulers)
    _check_options("scheduler", name, cls, options)
    return _construct("scheduler", name, cls, options)


def build_rules(spec: Any, space: Space) -> list[Rule]:
    """Rules from their config form, checked against ``space``: a list of mappings such as
    ``{"name": "reduce_on_plateau", "dimension": "lr", "factor": 0.5, "patience": 3}``.

    ``None`` means no rules.
    """
    from .. import rules

    if spec is None:
        return []
    example = "[{name: reduce_on_plateau, dimension: lr, factor: 0.5, patience: 3}]"
    if not isinstance(spec, list):
        raise ConfigError(f"rules: must be a list of rules, e.g. {example}; got {spec!r}")
    built = []
    for k, item in enumerate(spec):
        key = f"rules[{k}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{key}: must be a mapping with a name and a dimension, e.g. {example}; "
                              f"got {item!r}")
        name, options = _spec_parts(key, item, example)
        cls = _named_class(key, name, RULE_NAMES, rules)
        accepted = ["dimension", *(p for p in inspect.signature(cls).parameters if p != "name")]
        unknown = [option for option in options if option not in accepted]
        if unknown:
            raise ConfigError(
                f"{key} {name!r}: unknown option {unknown[0]!r}; valid options: {', '.join(accepted)}"
            )
        if "dimension" not in options:
            raise ConfigError(f"{key} {name!r}: needs a 'dimension' key: the hyperparameter it changes")
        dimension = options.pop("dimension")
        rule = _construct(key, name, cls, {"name": dimension, **options})
        try:
            built.append(rule.bind(space))
        except ValueError as exc:
            raise ConfigError(f"{key} {name!r}: {exc}") from None
    return built

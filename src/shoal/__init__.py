"""shoal: hyperparameter tuning on the right scale, with nothing lost when a trial or a machine dies.

Names are imported on first use (PEP 562), so a worker process that only runs objectives starts
without loading SQLAlchemy, the samplers or scipy.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from . import rules, samplers, schedulers
    from .analysis import Importance, importance
    from .errors import ShoalError
    from .presets import bohb
    from .samplers import SearchExhausted
    from .space import Choice, Custom, Dimension, Fixed, Float, Int, Space, SpaceMismatch
    from .storage import StudyNotFound
    from .study import RunningTrial, Study
    from .trial import FailureKind, Trial, TrialHandle, TrialPruned, TrialState

from ._version import __version__

_WHERE = {
    "Study": ".study",
    "Space": ".space",
    "Dimension": ".space",
    "Float": ".space",
    "Int": ".space",
    "Choice": ".space",
    "Fixed": ".space",
    "Custom": ".space",
    "SpaceMismatch": ".space",
    "Trial": ".trial",
    "RunningTrial": ".study",
    "TrialHandle": ".trial",
    "FailureKind": ".trial",
    "ShoalError": ".errors",
    "TrialState": ".trial",
    "TrialPruned": ".trial",
    "SearchExhausted": ".samplers",
    "StudyNotFound": ".storage",
    "importance": ".analysis",
    "Importance": ".analysis",
    "bohb": ".presets",
}

__all__ = [
    "Study",
    "Space",
    "Dimension",
    "Float",
    "Int",
    "Choice",
    "Fixed",
    "Custom",
    "SpaceMismatch",
    "Trial",
    "RunningTrial",
    "TrialHandle",
    "FailureKind",
    "ShoalError",
    "TrialState",
    "TrialPruned",
    "SearchExhausted",
    "StudyNotFound",
    "importance",
    "Importance",
    "bohb",
    "samplers",
    "schedulers",
    "rules",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value: Any = getattr(importlib.import_module(_WHERE[name], __name__), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule: shoal.storage
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'shoal' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

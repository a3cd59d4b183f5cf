"""shoal: hyperparameter tuning on the right scale, with nothing lost when a trial or a machine dies."""

from . import samplers
from .samplers import SearchExhausted
from .space import Choice, Custom, Dimension, Fixed, Float, Int, Space, SpaceMismatch
from .storage import StudyNotFound
from .study import Study
from .trial import RunningTrial, Trial, TrialPruned, TrialState

__version__ = "0.1.0"

__all__ = [
    "Study",
    "Space",
    "Dimension",
    "Float",
    "Int",
    "Choice",
    "Fixed",
    "Custom",
    "Trial",
    "RunningTrial",
    "TrialState",
    "TrialPruned",
    "SpaceMismatch",
    "SearchExhausted",
    "StudyNotFound",
    "samplers",
    "__version__",
]

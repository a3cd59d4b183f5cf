"""Where objective calls run. In this process for now; local processes and Dask come next."""

from .inprocess import Outcome, run_objective, wants_trial

__all__ = ["Outcome", "run_objective", "wants_trial"]

"""The study package: the one place that turns sampler and scheduler decisions into storage writes.

``core`` holds the ``Study`` class (ask, tell, enqueue, steering, recovery); ``loop`` the optimize
loop; ``trial_log`` a driver's view of the study's trials; ``scheduling`` what the study does with a
scheduler's decisions and plans; ``checkpointing`` the checkpoint policy; ``handle`` the handle an
in-process objective gets; ``heartbeat``, ``progress`` and ``frame`` the small helpers around them.
"""

from __future__ import annotations

from .core import Study
from .handle import RunningTrial

__all__ = ["Study", "RunningTrial"]

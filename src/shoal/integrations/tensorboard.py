"""TensorBoard's HParams view: one run folder per trial (``shoal.tensorboard.TensorBoardCallback``).

``study.optimize(objective, callbacks=[TensorBoardCallback("runs")])``, then ``tensorboard --logdir
runs``. Written with ``torch.utils.tensorboard`` by the driver when each trial finishes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoal.space import Choice
from shoal.trial import TrialState

from ._tracking import TrackingCallback, TrialLog, require, short_json

if TYPE_CHECKING:  # pragma: no cover
    from shoal.study import Study

require("tensorboard", "tensorboard", "shoal.tensorboard")
require("torch.utils.tensorboard", "tensorboard", "shoal.tensorboard")
from tensorboard.plugins.hparams.api_pb2 import Status  # noqa: E402
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402
from torch.utils.tensorboard.summary import hparams  # noqa: E402

__all__ = ["TensorBoardCallback", "STATE_HPARAM"]

#: The hyperparameter the trial's state is written under (HParams filters and sorts by it).
STATE_HPARAM = "shoal.state"
_STATUS = {TrialState.COMPLETE: "STATUS_SUCCESS", TrialState.PRUNED: "STATUS_SUCCESS",
           TrialState.FAILED: "STATUS_FAILURE"}
_STATES = [s.value for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED, TrialState.STALE)]


class TensorBoardCallback(TrackingCallback):
    """Write each finished trial to ``log_dir/<study name>/trial-<n>`` for TensorBoard's HParams view.

    A trial's run holds its config and state (``shoal.state``) as hyperparameters, the final value
    as metric ``metric_name`` (plus each named value of a study with several objectives or
    constraints), each report as scalar ``report_name`` at its step, and, for a tweaked or forked
    trial, its schedule as text. Its session status is success (COMPLETE, PRUNED) or failure.
    """

    tool = "TensorBoard"

    def __init__(self, log_dir: str | os.PathLike[str], metric_name: str = "value", *,
                 report_name: str = "report") -> None:
        super().__init__(metric_name, report_name)
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir).strip():
            raise ValueError(f"log_dir must be a folder path (str or Path), e.g. 'runs'; got {log_dir!r}")
        self.log_dir = Path(log_dir)

    def run_dir(self, study: str, number: int) -> Path:
        """Where trial ``number`` of ``study`` is written."""
        return self.log_dir / _folder(study) / f"trial-{number}"

    def _log(self, study: Study, record: TrialLog) -> None:
        hparam_dict = {name: _hparam(value) for name, value in record.config.items()}
        hparam_dict[STATE_HPARAM] = record.state.value
        domains = {STATE_HPARAM: _STATES}
        for name, value in hparam_dict.items():
            dim = study.space.dimensions.get(name)
            if isinstance(dim, Choice):
                options = [_hparam(v) for v in dim.values]
                if all(type(o) is type(value) for o in options):
                    domains[name] = options
        last = record.reports[-1][0] if record.reports else 0
        with SummaryWriter(log_dir=str(self.run_dir(record.study, record.number))) as writer:
            for step, value in record.reports:
                writer.add_scalar(self.report_name, value, step)
            experiment, start, end = hparams(hparam_dict, dict(record.finals), hparam_domain_discrete=domains)
            _set_status(end, _STATUS.get(record.state, "STATUS_UNKNOWN"), record.finished)
            for summary in (experiment, start, end):  # as SummaryWriter.add_hparams, with our status
                writer.file_writer.add_summary(summary)
            for name, value in record.finals.items():
                writer.add_scalar(name, value, last)
            if record.schedule is not None:
                writer.add_text("schedule", short_json(record.schedule, 100_000), last)


def _set_status(end: Any, status: str, finished: float | None) -> None:
    """Set the status (and end time) of the session-end summary ``hparams`` made (always success)."""
    content = end.value[0].metadata.plugin_data
    data = HParamsPluginData.FromString(content.content)
    data.session_end_info.status = Status.Value(status)
    if finished is not None:
        data.session_end_info.end_time_secs = finished
    content.content = data.SerializeToString()


def _hparam(value: Any) -> Any:
    """A value HParams can show: bools, numbers and strings as they are, anything else as text."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def _folder(name: str) -> str:
    """A study's name as one folder name."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip(".") or "study"

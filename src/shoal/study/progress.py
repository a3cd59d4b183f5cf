"""A rich progress bar that shows the best value so far."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class ProgressBar:
    """``with ProgressBar(total, enabled) as bar: bar.update(best_text)`` after each trial."""

    def __init__(self, total: int | None, enabled: bool, label: str) -> None:
        self._progress: Progress | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[best]}"),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._progress.add_task(label, total=total, best="")

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def update(self, best: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, best=best)
            task = self._progress.tasks[0]
            if task.total is not None and task.completed > task.total:  # more than planned (restarts)
                self._progress.update(self._task, total=task.completed)

    def finish(self) -> None:
        """The run ended because nothing is left to try (a grid, PBT's members done): the bar ends
        full at what ran, e.g. ``16/16``, not ``16/40``."""
        if self._progress is not None:
            self._progress.update(self._task, total=self._progress.tasks[0].completed)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

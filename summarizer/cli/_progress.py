"""The embedded model's first assembly drawn as a progress bar on stderr (the library's ``Progress`` callback)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from ._errors import err_console


class ModelBar:
    """A ``backends._gguf.Progress``: one bar per step (assembling, verifying), notices printed as lines."""

    def __init__(self, console: Console = err_console) -> None:
        self._console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if total == 0:
            self._console.print(label)
            return
        if self._bar is None or self._task is None:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=self._console,
            )
            self._bar.start()
            self._task = self._bar.add_task(label, total=total)
        self._bar.update(self._task, completed=done)
        if done >= total:
            self._bar.stop()
            self._bar = self._task = None

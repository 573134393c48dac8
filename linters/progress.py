"""A rich progress bar on stderr while revisions render, for long runs in a terminal only.

The CLI enables it for `--format text` when stderr is a terminal (never for json, sarif and the
other machine formats), and the bar only appears when there are at least MIN_REVISIONS revisions
to render: for a pull request of one or two revisions it would only flicker.
"""

from __future__ import annotations

from contextlib import contextmanager

MIN_REVISIONS = 10


class RenderProgress:
    """Called once per rendered revision; the Renderer tells it the total first (start)."""

    def __init__(self):
        self.progress = None
        self.task = None

    def start(self, total: int) -> None:
        if total < MIN_REVISIONS or self.progress is not None:
            return
        # Imported here: rich.progress costs ~20 ms of start-up that most runs never need.
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("rendering revisions"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.task = self.progress.add_task("render", total=total)
        self.progress.start()

    def __call__(self, _path) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


@contextmanager
def progress_for(enabled: bool):
    """Yields a callback for each rendered revision (or None when disabled)."""
    if not enabled:
        yield None
        return
    bar = RenderProgress()
    try:
        yield bar
    finally:
        bar.stop()

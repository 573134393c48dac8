"""A rich progress bar on stderr while revisions render; silent when not a terminal."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def progress_for(enabled: bool):
    """Yields a callback for each rendered revision (or None when disabled)."""
    if not enabled:
        yield None
        return
    # Imported here: rich.progress costs ~20 ms of start-up that json/sarif runs never need.
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("rendering revisions"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task("render", total=None)
    with progress:
        def advance(_path):
            progress.advance(task)
        yield advance

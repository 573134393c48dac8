"""Pause Python's cyclic garbage collector around a one-shot analysis.

A review allocates millions of small objects (JSON trees of statements, ASTs, findings) that
reference counting frees on its own; the cyclic collector finds next to nothing among them but
walks them all on every full collection: about a third of the main process's CPU in an `--all`
run on 1,000 revisions. Peak memory stays the same (measured in bench/), so the CLI turns it off
while it works.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def cycle_collection_paused():
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()

"""The daemon's heap after start-up, kept out of the garbage collector's full passes.

Start-up leaves a few hundred thousand objects that live as long as the process (modules,
SQLAlchemy and aiohttp machinery, the model). CPython's full collection walks all of them each
time, and under load it ran dozens of times a minute: 0.1 s each, about a seventh of the
pipeline's CPU (`bench/pipeline.py`). Frozen, they are never walked again; what the stages
allocate later is still collected as usual. And a stage's batch allocates tens of thousands of
short-lived objects: with the default first threshold (700) the collector ran every few hundred
microseconds of work, so it is raised (as services under this load commonly do).
"""

from __future__ import annotations

import gc

# Allocations between young collections, and young (then middle) collections between older ones.
THRESHOLDS = (10_000, 20, 20)


def freeze_startup_heap() -> int:
    """Collect once, move every surviving object to the permanent generation and raise the
    collection thresholds; returns how many objects are frozen. Call it when start-up is done,
    before the work begins."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return gc.get_freeze_count()

"""The daemon's start-up heap is frozen out of the collector's full passes (heap.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from muara.heap import THRESHOLDS, freeze_startup_heap
from tests.test_daemon import daemon_settings, run_daemon


class Node:
    itself: object = None


@pytest.fixture
def fresh_collector() -> Iterator[None]:
    """Nothing frozen before the test, and the process's collector as it was after it."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_what_lives_at_start_up_is_frozen_and_later_garbage_still_collected(
    fresh_collector: None,
) -> None:
    startup = [{"n": n} for n in range(1_000)]
    frozen = freeze_startup_heap()

    assert frozen >= len(startup)
    tracked = {id(thing) for thing in gc.get_objects()}
    assert not any(id(thing) in tracked for thing in startup)
    assert gc.get_threshold() == THRESHOLDS

    later = Node()
    later.itself = later  # a cycle only the collector can free
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None


async def test_the_daemon_freezes_its_heap_once_started(
    fresh_collector: None, store_url: str, tmp_path: Path
) -> None:
    assert gc.get_freeze_count() == 0
    async with run_daemon(daemon_settings(store_url, tmp_path)):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS

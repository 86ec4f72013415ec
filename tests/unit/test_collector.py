"""engine.collector: no cyclic collection inside a batch, survivors frozen after it, a full collection by time."""

from __future__ import annotations

import gc
import weakref

import pytest

from engine import collector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    """A reference cycle that is garbage as soon as this returns (only the cyclic collector can free it)."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_the_collector_waits_for_the_end_of_the_block_and_freezes_what_survived() -> None:
    assert gc.isenabled()
    with collector.cyclic_gc_paused():
        assert not gc.isenabled()
        kept = [Node() for _ in range(100)]
        frozen_before = gc.get_freeze_count()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + len(kept)  # out of the collector's sight from now on


def test_frozen_cyclic_garbage_is_collected_once_the_thaw_is_due(monkeypatch: pytest.MonkeyPatch) -> None:
    with collector.cyclic_gc_paused():
        garbage = _cycle()
    assert garbage() is not None  # frozen with the survivors: no collection sees it
    gc.collect()
    assert garbage() is not None
    monkeypatch.setattr(collector, "THAW_EVERY_S", 0.0)
    with collector.cyclic_gc_paused():
        pass
    assert garbage() is None  # the full collection of everything frozen freed it

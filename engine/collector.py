"""Keeping Python's cyclic garbage collector off the engine's long-lived objects.

The collector runs by allocation count and, every so often, walks every
object that has lived long enough: for the engine that is the aggregate
cache, for a rebuild the rows in memory. A batch allocates hundreds of
thousands of short-lived objects, so left running the collector would walk
the long-lived ones again and again (a fifth of the ingest time, measured),
and more so as the cache fills. So the collector waits for the end of each
batch, when reference counting has already freed the batch's objects; then
what survived is frozen (`gc.freeze`: moved out of the collector's sight).
Every `THAW_EVERY` batches everything is thawed and collected once, so a
reference cycle that became garbage is freed at the latest then.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THAW_EVERY = 200  # batches between full collections of what was frozen

_batches = [0]  # batches since start (a list: one counter for the process, no global statement)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block; the caller's setting is restored after it, survivors frozen."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            _batches[0] += 1
            if _batches[0] % THAW_EVERY == 0:
                gc.unfreeze()
                gc.collect()
            gc.freeze()
            gc.enable()

"""Pausing Python's cyclic garbage collector while a step allocates a great many objects.

Reading a city's households from SQLite creates a tuple per row, and every 700 new tuples
set off a collection that walks the young objects; every tenth of those walks older ones too,
so a read of 200,000 rows spent a third of its time collecting garbage it did not make
(measured on the ``--scale 8`` county: reading the pieces' households, members and buildings
2.6 s with the collector on, 1.6-1.8 s with it paused). The steps paused here make no
reference cycles of their own; whatever cycles appear meanwhile are collected as usual once
the step is over (the collector runs again at the next threshold).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (nested blocks are fine); it is enabled
    again on the way out only if it was enabled on the way in."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

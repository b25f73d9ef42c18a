"""Copy a whole workspace from one store to another (``gisgov copy SRC DST``).

A county that starts on a GeoPackage moves to PostGIS (or back) in one call; the
destination changes in one transaction, so an interrupted copy leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from gisgov.layers import LAYERS
from gisgov.store._base import WorkspaceBase

__all__ = ["CopyProgress", "copy_workspace"]

#: ``progress(step, done, total)``: ``step`` is the layer or table just copied.
CopyProgress = Callable[[str, int, int], None]

#: Meta keys that belong to the destination, not to the data.
_OWN_META = frozenset({"version"})


def copy_workspace(
    src: WorkspaceBase, dst: WorkspaceBase, *, progress: CopyProgress | None = None
) -> dict[str, int]:
    """Copy every schema layer, every product table and the meta from ``src`` to ``dst``.

    Each schema layer of ``dst`` is replaced by the one in ``src`` (empty when ``src`` lacks
    it), product tables of ``src`` replace those of the same name, and meta values are
    copied except ``version``: the destination's counter moves on by one, so its caches
    notice the change. Tables that exist only in ``dst`` are left alone.

    Parameters
    ----------
    src, dst
        Open workspaces (any store).
    progress
        Called after each layer or table as ``progress(name, done, total)``.

    Returns
    -------
    dict
        Rows copied, by layer or table name.

    Raises
    ------
    ValidationError
        A layer of ``src`` breaks the schema; ``dst`` is unchanged.
    StoreError
        Either store failed; ``dst`` is unchanged.
    """
    from gisgov.layers import empty_layer

    present = set(src.layers())
    tables = src.tables()
    total = len(LAYERS) + len(tables) + 1
    done = 0
    counts: dict[str, int] = {}

    def step(name: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(name, done, total)

    with dst.transaction() as tx:
        for name in LAYERS:
            frame = src.read(name) if name in present else empty_layer(name)
            tx.write(name, frame, mode="replace")
            counts[name] = len(frame)
            step(name)
        for name in tables:
            table = src.read_table(name)
            tx.write_table(name, table, mode="replace")
            counts[name] = len(table)
            step(name)
        for key, value in src.meta().items():
            if key not in _OWN_META:
                tx.set_meta(key, value)
        step("meta")
    return counts

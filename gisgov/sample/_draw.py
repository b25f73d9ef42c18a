"""Small random and counting helpers the layer families of the generator share."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

from gisgov.sample._reference import Array

__all__ = ["largest_remainder", "random_points", "seq_ids"]


def random_points(rng: np.random.Generator, poly: shapely.Polygon, n: int) -> Array:
    """``n`` uniform random points inside ``poly`` (rejection sampling in its bounds)."""
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    pts: list[Array] = []
    got = 0
    for _ in range(50):
        cand = np.column_stack(
            [rng.uniform(minx, maxx, 4 * n + 8), rng.uniform(miny, maxy, 4 * n + 8)]
        )
        ok = shapely.contains_xy(poly, cand[:, 0], cand[:, 1])
        pts.append(cand[ok])
        got += int(ok.sum())
        if got >= n:
            break
    allpts = np.concatenate(pts)
    if len(allpts) < n:  # pragma: no cover - only for degenerate slivers
        p = shapely.point_on_surface(poly)
        allpts = np.concatenate([allpts, np.tile([p.x, p.y], (n - len(allpts), 1))])
    return allpts[:n]


def seq_ids(prefix: str, n: int, width: int, start: int = 0) -> NDArray[np.str_]:
    """``prefix`` + zero-padded numbers ``start + 1 … start + n``.

    ``start`` lets the districts of a city continue one numbering, so keys stay unique
    across districts written one after another.
    """
    return np.char.add(prefix, np.char.zfill(np.arange(start + 1, start + n + 1).astype(str),
                                             width))


def largest_remainder(weights: NDArray[np.float64], total: int) -> NDArray[np.int64]:
    """Integer shares of ``total`` proportional to ``weights`` that sum exactly to it."""
    raw = weights / weights.sum() * total
    out: NDArray[np.int64] = np.floor(raw).astype(np.int64)
    rest = total - int(out.sum())
    if rest > 0:
        out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out

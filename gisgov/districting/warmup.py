"""Compile (or load) the districting kernels before any clock starts.

The annealing and merge-split kernels (:mod:`._kernel`, :mod:`._recom`) are compiled by numba
on their first call in a process — about 7 s for the annealing and 16 s with the merge-split
kernels on a free 2-core machine, several times that on a loaded one — and read from numba's
disk cache afterwards. Compiled lazily, that first call happens *inside* a run's time limit: a
job given 20 s spent most of them compiling, the search was cut short, and whether it
succeeded depended on the machine's load and on whether the cache was warm. That made a run's
outcome (and CI) depend on the wall clock.

:func:`prepare_kernels` runs the real search once on a tiny lattice, with the same argument
types as production runs, so every kernel that a run calls from Python is compiled (or loaded)
before the caller starts its clock. :func:`gisgov.districting.partition` calls it before
reading the clock, and the redistrict and grids jobs call it before their first progress step.
"""

from __future__ import annotations

import math
import threading
import time

import geopandas as gpd
import numba
import numpy as np
import shapely

from gisgov.districting._kernel import kernel_ready
from gisgov.districting._recom import recom_ready
from gisgov.districting._search import SearchBudget, piece_search, search_piece
from gisgov.districting.graph import graph_from_units
from gisgov.districting.objective import Objective

__all__ = ["kernels_prepared", "prepare_kernels"]

_lock = threading.Lock()


def kernels_prepared() -> bool:
    """Whether every kernel a run calls is loaded in this process (always true when numba's
    JIT is disabled: the functions are then plain Python and need no compiling)."""
    if getattr(numba.config, "DISABLE_JIT", False):
        return True
    return kernel_ready() and recom_ready()


def prepare_kernels() -> float:
    """Compile or load every districting kernel now; the seconds it took (0 when they were
    already loaded).

    A 4×4 lattice split in two, with the merge-split phase on, calls the annealing, the
    merge-split, the clean-up and the objective kernels with the argument types of a real
    run (``int64`` graph arrays, ``float64`` weights and costs), so the next real run finds
    them compiled. Thread-safe: concurrent jobs wait for one compilation.

    Returns
    -------
    float
        Seconds spent compiling or loading.
    """
    if kernels_prepared():
        return 0.0
    with _lock:
        if kernels_prepared():
            return 0.0
        t0 = time.monotonic()
        cells = [shapely.box(x, y, x + 100.0, y + 100.0)
                 for y in range(0, 400, 100) for x in range(0, 400, 100)]
        units = gpd.GeoDataFrame({"hh": [10.0] * 16}, geometry=cells, crs="EPSG:32650")
        graph = graph_from_units(units, crs="EPSG:32650")
        xy = np.column_stack([units.centroid.x.to_numpy(), units.centroid.y.to_numpy()])
        w = units["hh"].to_numpy(dtype=float)
        search = piece_search(
            graph, w, 2, lower=72.0, upper=88.0, objective=Objective(),
            locked=np.full(16, -1, dtype=np.int64), home=np.zeros(16, dtype=np.int64), xy=xy,
            seed=0,
        )
        search_piece(search, SearchBudget(starts=2, iterations=2_000, deadline=math.inf,
                                          recom_rounds=8))
        return time.monotonic() - t0

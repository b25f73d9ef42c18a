"""Importing this module loads the districting kernels (numba's disk cache, or a compile).

A local Dask cluster's fork server imports it (:data:`gisgov.grids.tasks.PRELOAD`) before it
forks the workers, so the kernels are loaded once for all of them instead of once in each;
nothing else imports it.
"""

from __future__ import annotations

from gisgov.districting.warmup import prepare_kernels

#: Seconds the loading took in this process.
SECONDS = prepare_kernels()

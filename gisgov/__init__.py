"""gisgov — GIS for community grid governance (社区网格化治理, 红色网格).

The public API is what ``__all__`` lists: open a workspace, read and check its layers, run the
engines (re-draw communities, partition grids, assign red-grid members) and look up who is
responsible for a place. Everything else is reached through its module (see
docs/ARCHITECTURE.md). Names are loaded on first use (PEP 562), so ``import gisgov`` stays
light: the compiled districting kernels, OR-Tools and the stores load only when a name that
needs them is used, and nothing here needs the web server, the map renderer or a database
driver (the ``serve``, ``maps`` and ``postgis`` extras).

Examples
--------
>>> import gisgov
>>> gisgov.__version__
'0.1.0'
>>> gisgov.LAYERS["grids"].key
'code'
>>> sorted(set(gisgov.__all__) - set(dir(gisgov)))
[]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The package version (the one source: ``pyproject.toml`` reads it from here).
__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors: every failure users can act on
    "GisgovError": "gisgov.errors",
    "ValidationError": "gisgov.errors",
    "NotFoundError": "gisgov.errors",
    "ConflictError": "gisgov.errors",
    "CRSError": "gisgov.errors",
    "InfeasibleError": "gisgov.errors",
    "StoreError": "gisgov.errors",
    # the schema
    "LAYERS": "gisgov.layers",
    "STORAGE_CRS": "gisgov.layers",
    "conform": "gisgov.layers",
    "validate_workspace": "gisgov.layers",
    # stores
    "Workspace": "gisgov.store",
    "open_workspace": "gisgov.store",
    # files and coordinates
    "read_layer_file": "gisgov.io",
    "write_layer_file": "gisgov.io",
    "to_storage": "gisgov.crs",
    "working_crs_for": "gisgov.crs",
    # the reference county
    "generate_county": "gisgov.sample",
    # engines
    "partition": "gisgov.districting",
    "make_grids": "gisgov.grids",
    "write_grid_plan": "gisgov.grids",
    "assign": "gisgov.assignment",
    "write_assignment": "gisgov.assignment",
    # where things are
    "LookupIndex": "gisgov.lookup",
    "LiveIndex": "gisgov.lookup",
    "Locator": "gisgov.locate",
    "locate_points": "gisgov.locate",
    "codes_at": "gisgov.locate",
    "snap_coverage": "gisgov.coverage",
    # checks
    "check_layers": "gisgov.checks",
}

__all__ = [
    "LAYERS",
    "STORAGE_CRS",
    "CRSError",
    "ConflictError",
    "GisgovError",
    "InfeasibleError",
    "LiveIndex",
    "Locator",
    "LookupIndex",
    "NotFoundError",
    "StoreError",
    "ValidationError",
    "Workspace",
    "__version__",
    "assign",
    "check_layers",
    "codes_at",
    "conform",
    "generate_county",
    "locate_points",
    "make_grids",
    "open_workspace",
    "partition",
    "read_layer_file",
    "snap_coverage",
    "to_storage",
    "validate_workspace",
    "working_crs_for",
    "write_assignment",
    "write_grid_plan",
    "write_layer_file",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time names load on first use
    from gisgov.assignment import assign, write_assignment
    from gisgov.checks import check_layers
    from gisgov.coverage import snap_coverage
    from gisgov.crs import to_storage, working_crs_for
    from gisgov.districting import partition
    from gisgov.errors import (
        ConflictError,
        CRSError,
        GisgovError,
        InfeasibleError,
        NotFoundError,
        StoreError,
        ValidationError,
    )
    from gisgov.grids import make_grids, write_grid_plan
    from gisgov.io import read_layer_file, write_layer_file
    from gisgov.layers import LAYERS, STORAGE_CRS, conform, validate_workspace
    from gisgov.locate import Locator, codes_at, locate_points
    from gisgov.lookup import LiveIndex, LookupIndex
    from gisgov.sample import generate_county
    from gisgov.store import Workspace, open_workspace


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gisgov' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""Onboarding a county's own data: OSM extracts, Excel registers, derived layers.

``gisgov onboard`` runs :func:`onboard_layers` (on :class:`OnboardInputs`) then :func:`onboard_workspace`;
``gisgov import WS extract.osm.pbf`` runs :func:`import_osm`. See :mod:`.osm`,
:mod:`.registers`, :mod:`.blocks` and :mod:`.derive` for the pieces.
"""

from __future__ import annotations

from gisgov.blocks import blocks_from_streets
from gisgov.onboard.chain import (
    BLOCKS_TABLE,
    EstimateOptions,
    OnboardInputs,
    OnboardResult,
    import_osm,
    missing_for_grids_and_assignment,
    onboard_layers,
    onboard_workspace,
)
from gisgov.onboard.derive import (
    assign_to_areas,
    community_from_extent,
    compounds_from_blocks,
    households_from_buildings,
)
from gisgov.onboard.osm import OsmExtract, is_osm_file, read_osm
from gisgov.onboard.registers import HEADER_ALIASES, Register, read_register

__all__ = [
    "BLOCKS_TABLE",
    "HEADER_ALIASES",
    "EstimateOptions",
    "OnboardInputs",
    "OnboardResult",
    "OsmExtract",
    "Register",
    "assign_to_areas",
    "blocks_from_streets",
    "community_from_extent",
    "compounds_from_blocks",
    "households_from_buildings",
    "import_osm",
    "is_osm_file",
    "missing_for_grids_and_assignment",
    "onboard_layers",
    "onboard_workspace",
    "read_osm",
    "read_register",
]

"""The onboarding chain: a county's own files → a complete, valid workspace, in one step.

:func:`onboard_layers` is pure (files in, layers and a report out); :func:`onboard_workspace`
writes its layers in one transaction, so a failure part-way leaves the workspace as it was.
The report says what was imported, what was derived and what is still missing before grids
can be drawn and red-grid members assigned (:func:`missing_for_grids_and_assignment`).

Without community boundaries the chain needs ``community_code`` and ``community_name`` and
creates one placeholder community (and its subdistrict, the code's first 9 digits) covering
all the data: grids can then be drawn at once, and the boundary re-drawn later. Communities
are never invented from clusters of streets: a 社区 is an administrative fact with a code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gisgov.blocks import blocks_from_streets
from gisgov.crs import working_crs_for
from gisgov.errors import ValidationError
from gisgov.layers import LAYERS, conform
from gisgov.onboard.derive import (
    DEFAULT_DWELLING_M2,
    DEFAULT_FLOORS,
    DEFAULT_PERSONS_PER_HOUSEHOLD,
    DEFAULT_RESIDENTIAL_SHARE,
    assign_to_areas,
    branches_from_members,
    community_from_extent,
    compounds_from_blocks,
    households_from_buildings,
    subdistricts_from_communities,
)
from gisgov.onboard.osm import OsmExtract, extract_summary, is_osm_file, read_osm
from gisgov.onboard.registers import Register, read_register
from gisgov.references import describe_orphans, orphans_of_replace

__all__ = [
    "BLOCKS_TABLE",
    "EstimateOptions",
    "OnboardResult",
    "import_osm",
    "missing_for_grids_and_assignment",
    "onboard_layers",
    "onboard_workspace",
]

#: Product table holding the street blocks (districting units) the chain derived.
BLOCKS_TABLE = "street_blocks"

ProgressFn = Callable[[str, float], None]
_TABLE_SUFFIXES = (".xlsx", ".csv")


@dataclass(frozen=True)
class EstimateOptions:
    """How households are estimated from buildings (see :func:`households_from_buildings`)."""

    dwelling_m2: float = DEFAULT_DWELLING_M2
    residential_share: float = DEFAULT_RESIDENTIAL_SHARE
    default_floors: int = DEFAULT_FLOORS
    persons_per_household: float = DEFAULT_PERSONS_PER_HOUSEHOLD


@dataclass
class OnboardResult:
    """Layers built by the chain and what happened to each.

    Attributes
    ----------
    layers
        Layer name → conformed GeoDataFrame, ready to write.
    blocks
        Street blocks (districting units), EPSG:4326.
    imported, derived
        Layer name → row count, by origin.
    registers
        Summaries of the registers read (placed by coordinates/address, unmatched rows).
    notes, missing
        Remarks, and what grids and assignment still need.
    seconds
        Wall time of each step.
    """

    layers: dict[str, gpd.GeoDataFrame]
    blocks: gpd.GeoDataFrame
    imported: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)
    registers: dict[str, dict[str, object]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    osm: dict[str, object] | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """JSON-ready report (no personal data)."""
        return {"imported": dict(self.imported), "derived": dict(self.derived),
                "blocks": len(self.blocks), "registers": dict(self.registers),
                "osm": self.osm, "notes": list(self.notes), "missing": list(self.missing),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def onboard_layers(
    *,
    streets: str | Path,
    buildings: str | Path | None = None,
    communities: str | Path | None = None,
    households: str | Path | None = None,
    members: str | Path | None = None,
    crs: str | None = None,
    community_code: str | None = None,
    community_name: str | None = None,
    subdistrict_name: str | None = None,
    estimate: EstimateOptions = EstimateOptions(),
    progress: ProgressFn | None = None,
) -> OnboardResult:
    """Build every layer a workspace needs from a county's own files.

    Parameters
    ----------
    streets
        An OSM extract (``.osm.pbf``/``.osm``, which also gives buildings and compounds) or a
        street centre-line file (GeoPackage, GeoJSON, shapefile).
    buildings
        Building footprints; optional when ``streets`` is an OSM extract.
    communities
        Community boundaries (``code``, ``name``, ``kind``, ``subdistrict_code``).
    households, members
        Registers (``.xlsx``/``.csv`` with Chinese headers) or layer files.
    crs
        Coordinate system of the input files' coordinates (``wgs84``, ``cgcs2000``, ``gcj02``,
        ``bd09``, ``EPSG:n``) where a file does not say so itself; registers exported from a
        Gaode picker need ``gcj02``.
    community_code, community_name, subdistrict_name
        Create one placeholder community covering the data when ``communities`` is not given.
    estimate
        Household estimation options (used when no households register is given).
    progress
        ``update(description, fraction)`` callback.

    Returns
    -------
    OnboardResult

    Raises
    ------
    ValidationError
        Missing inputs (no buildings, no communities and no placeholder code) or data that
        breaks the schema; the message says which option to add.
    """
    tick = progress or (lambda _d, _f: None)
    res = OnboardResult(layers={}, blocks=gpd.GeoDataFrame())
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        res.seconds[name] = now - clock
        clock = now

    tick("reading streets", 0.02)
    extract: OsmExtract | None = None
    if is_osm_file(streets):
        extract = read_osm(streets)
        res.osm = dict(extract_summary(extract))
        street_layer = extract.streets
    else:
        street_layer = _read_layer(streets, "streets", crs)
    step("streets")
    tick("reading buildings", 0.15)
    if buildings is not None:
        if is_osm_file(buildings):
            other = extract if extract is not None and Path(buildings) == Path(streets) else (
                read_osm(buildings))
            building_layer = other.buildings
            extract = extract or other
        else:
            building_layer = _read_layer(buildings, "buildings", crs)
    elif extract is not None:
        building_layer = extract.buildings
    else:
        raise ValidationError("--buildings is required unless --streets is an OSM extract")
    if street_layer.empty:
        raise ValidationError(f"{Path(streets).name} holds no streets")
    res.imported["streets"] = len(street_layer)
    res.imported["buildings"] = len(building_layer)
    step("buildings")

    metric = working_crs_for(street_layer)
    tick("communities", 0.3)
    if communities is not None:
        community_layer = _read_layer(communities, "communities", crs)
        subdistrict_layer = subdistricts_from_communities(
            community_layer, names={community_layer["subdistrict_code"].iloc[0]:
                                    subdistrict_name} if subdistrict_name else None)
        res.imported["communities"] = len(community_layer)
        res.derived["subdistricts"] = len(subdistrict_layer)
    elif community_code:
        community_layer, subdistrict_layer = community_from_extent(
            [street_layer.geometry, building_layer.geometry], code=community_code,
            name=community_name or _default_name(extract, community_code),
            subdistrict_name=subdistrict_name, crs=metric,
        )
        res.derived["communities"] = 1
        res.derived["subdistricts"] = 1
        res.notes.append(
            f"no community boundaries given: one placeholder community {community_code} "
            "covers all the data; re-draw it with real boundaries when you have them"
        )
    else:
        raise ValidationError(
            "no community boundaries: pass --communities FILE, or --community-code CODE "
            "(12 digits) and --community-name NAME to create one community covering the data"
        )
    step("communities")

    tick("polygonising street blocks", 0.4)
    # Faces close along the communities' edge; a placeholder's buffered hull would add a thin
    # ring of margin as one more "block", so the data's own hull closes them instead.
    outline = (community_layer.geometry.union_all() if communities is not None else
               shapely.convex_hull(shapely.union_all(
                   [street_layer.geometry.union_all(), building_layer.geometry.union_all()])))
    res.blocks = blocks_from_streets(street_layer, crs=metric, extent=outline)
    step("blocks")

    tick("compounds", 0.55)
    mapped = extract.compounds if extract is not None else None
    compound_layer = compounds_from_blocks(
        res.blocks, building_layer, compounds=mapped,
        places=extract.places if extract is not None else None,
    )
    n_mapped = 0 if mapped is None else len(mapped)
    if n_mapped:
        res.imported["compounds"] = n_mapped
    res.derived["compounds"] = len(compound_layer) - n_mapped
    compound_layer["community_code"] = assign_to_areas(compound_layer, community_layer,
                                                       key="code")
    building_layer = building_layer.copy()
    building_layer["compound_id"] = assign_to_areas(building_layer, compound_layer, key="id")
    step("compounds")

    tick("households", 0.65)
    if households is not None:
        household_layer, reg = _read_people(households, "households", crs, building_layer)
        if reg is not None:
            res.registers["households"] = reg.summary()
        res.imported["households"] = len(household_layer)
        missing_building = household_layer["building_id"].isna() if (
            "building_id" in household_layer) else pd.Series(True, index=household_layer.index)
        if missing_building.any():
            household_layer.loc[missing_building, "building_id"] = assign_to_areas(
                household_layer[missing_building], building_layer, key="id")
        household_layer["estimated"] = False
    else:
        household_layer = households_from_buildings(
            building_layer, crs=metric, dwelling_m2=estimate.dwelling_m2,
            residential_share=estimate.residential_share,
            default_floors=estimate.default_floors,
            persons_per_household=estimate.persons_per_household,
        )
        res.derived["households"] = len(household_layer)
        res.notes.append(
            f"households estimated from {len(building_layer)} buildings (footprint × floors ÷ "
            f"{estimate.dwelling_m2:g} m², unknown-use buildings at "
            f"{estimate.residential_share:.0%}, {estimate.default_floors} floors where none "
            "recorded); they carry estimated=true until a register replaces them"
        )
    step("households")

    tick("members", 0.8)
    layers: dict[str, gpd.GeoDataFrame] = {
        "subdistricts": subdistrict_layer, "streets": street_layer,
        "communities": community_layer, "compounds": compound_layer,
        "buildings": building_layer, "households": household_layer,
    }
    if members is not None:
        member_layer, reg = _read_people(members, "members", crs, building_layer)
        if reg is not None:
            res.registers["members"] = reg.summary()
        branch_layer, member_layer = branches_from_members(member_layer, community_layer)
        res.imported["members"] = len(member_layer)
        layers["members"] = member_layer
        if len(branch_layer):
            res.derived["branches"] = len(branch_layer)
            layers["branches"] = branch_layer
    step("members")

    tick("checking", 0.9)
    res.layers = {name: conform(name, gdf) for name, gdf in layers.items()}
    for reg_summary in res.registers.values():
        res.notes.extend(str(n) for n in reg_summary.get("notes", []))  # type: ignore[attr-defined]
    res.missing = missing_for_grids_and_assignment(res.layers)
    return res


def _default_name(extract: OsmExtract | None, code: str) -> str:
    if extract is not None and len(extract.places):
        return f"{extract.places['name'].iloc[0]}社区"
    return f"社区 {code}"


def _read_layer(path: str | Path, layer: str, crs: str | None) -> gpd.GeoDataFrame:
    from gisgov.io import read_layer_file

    return read_layer_file(path, layer=layer, crs=crs)


def _read_people(
    path: str | Path, layer: str, crs: str | None, buildings: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, Register | None]:
    if Path(path).suffix.lower() in _TABLE_SUFFIXES:
        reg = read_register(path, layer=layer, crs=crs, buildings=buildings)
        return reg.frame, reg
    return _read_layer(path, layer, crs), None


def missing_for_grids_and_assignment(layers: dict[str, gpd.GeoDataFrame]) -> list[str]:
    """What a workspace still lacks before ``gisgov grids`` and ``gisgov assign`` are useful.

    Parameters
    ----------
    layers
        Layer name → GeoDataFrame (absent or empty layers count as missing).

    Returns
    -------
    list of str
        One sentence per gap, each saying what to import.
    """
    def n(name: str) -> int:
        gdf = layers.get(name)
        return 0 if gdf is None else len(gdf)

    out: list[str] = []
    if not n("communities"):
        out.append("no communities: grids are drawn inside communities "
                   "(--communities FILE or --community-code/--community-name)")
    if not n("streets"):
        out.append("no streets: blocks and walking distances need the street network")
    if not n("households"):
        out.append("no households: grids are balanced on households (--households FILE)")
    elif "estimated" in layers["households"] and layers["households"]["estimated"].fillna(
            False).astype(bool).all():
        out.append("households are estimates from buildings: fine for drawing grids, but "
                   "assignment lists need the real register (--households FILE)")
    if not n("members"):
        out.append("no members: red-grid assignment needs party members (--members FILE)")
    elif not n("branches"):
        out.append("no branches: members have no 所属支部; branch checks will be empty")
    if not n("grids"):
        out.append("no grids yet: draw them with `gisgov grids WS`")
    if not n("staff"):
        out.append("no grid staff: fill geodata/templates/staff.csv once grids exist")
    return out


def onboard_workspace(
    workspace: Any,
    result: OnboardResult,
) -> None:
    """Write an :class:`OnboardResult` into ``workspace`` in one transaction.

    Layers built by the chain replace the workspace's; others are left alone. Derived
    households replace any earlier estimate only: a workspace that already holds register
    households keeps them unless the chain imported a register itself.

    Raises
    ------
    ValidationError
        If a layer breaks the schema; nothing is written then.
    """
    with workspace.transaction() as tx:
        for name in [n for n in LAYERS if n in result.layers]:
            if name == "households" and "households" in result.derived:
                current = tx.read("households")
                if len(current) and not current["estimated"].fillna(False).astype(bool).all():
                    result.notes.append(
                        "kept the workspace's register households; skipped the estimate")
                    continue
            tx.write(name, result.layers[name], mode="replace")
        tx.write_table(BLOCKS_TABLE, result.blocks.assign(source="onboard"))
        tx.set_meta("onboard", result.report())


def import_osm(
    workspace: Any, path: str | Path, *, layers: Sequence[str] | None = None,
    crs: str | None = None, force: bool = False,
) -> dict[str, Any]:
    """``gisgov import WS extract.osm.pbf``: streets, buildings and named compounds.

    The layers are replaced; when rows of other layers (households' ``building_id``…) refer
    to buildings or compounds the extract does not carry, the import is refused unless
    ``force`` (see :mod:`gisgov.references`).

    Parameters
    ----------
    workspace
        Target workspace.
    path
        The extract.
    layers
        Subset of ``streets``, ``buildings``, ``compounds`` (default all three).
    crs
        Only for vendor extracts shifted to GCJ-02/BD-09.
    force
        Replace even when other layers' rows would then refer to deleted rows.

    Returns
    -------
    dict
        Rows written per layer plus the extract summary.
    """
    wanted = list(layers or ("streets", "buildings", "compounds"))
    bad = [w for w in wanted if w not in ("streets", "buildings", "compounds")]
    if bad:
        raise ValidationError(
            f"an OSM extract fills streets, buildings and compounds, not {', '.join(bad)}")
    extract = read_osm(path, crs=crs)
    frames = {"streets": extract.streets, "buildings": extract.buildings,
              "compounds": extract.compounds}
    written: dict[str, int] = {}
    with workspace.transaction() as tx:
        broken = [
            o for name in wanted if not (name == "compounds" and frames[name].empty)
            for o in orphans_of_replace(tx, name, conform(name, frames[name]))
            if o.layer not in wanted  # layers replaced here carry new references
        ]
        if broken and not force:
            raise ValidationError(describe_orphans(
                "/".join(wanted), broken,
                remedy="pass --force to replace them anyway (an extract always replaces)"))
        for name in wanted:
            if name == "compounds" and frames[name].empty:
                continue
            tx.write(name, frames[name], mode="replace")
            written[name] = len(frames[name])
        recorded = dict(tx.get_meta("source_crs", {}) or {})
        recorded.update(dict.fromkeys(written, crs or "wgs84"))
        tx.set_meta("source_crs", recorded)
    return {"written": written, **extract_summary(extract)}

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
    "OnboardInputs",
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


@dataclass(frozen=True)
class OnboardInputs:
    """What one onboarding reads: the county's files and the choices that fill gaps.

    Attributes
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
    """

    streets: str | Path
    buildings: str | Path | None = None
    communities: str | Path | None = None
    households: str | Path | None = None
    members: str | Path | None = None
    crs: str | None = None
    community_code: str | None = None
    community_name: str | None = None
    subdistrict_name: str | None = None
    estimate: EstimateOptions = EstimateOptions()


@dataclass
class _Chain:
    """The state the steps of :func:`onboard_layers` take and fill, one layer at a time."""

    inputs: OnboardInputs
    res: OnboardResult
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    extract: OsmExtract | None = None
    metric: Any = None


def onboard_layers(inputs: OnboardInputs, *, progress: ProgressFn | None = None
                   ) -> OnboardResult:
    """Build every layer a workspace needs from a county's own files.

    The chain is a sequence of steps over one state (:data:`_STEPS`): streets, buildings,
    communities, street blocks, compounds, households, members; each is timed in
    ``OnboardResult.seconds`` under its name.

    Parameters
    ----------
    inputs
        The files and the choices that fill gaps (:class:`OnboardInputs`).
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
    chain = _Chain(inputs=inputs, res=OnboardResult(layers={}, blocks=gpd.GeoDataFrame()))
    clock = time.perf_counter()
    for name, label, fraction, run in _STEPS:
        tick(label, fraction)
        run(chain)
        now = time.perf_counter()
        chain.res.seconds[name] = now - clock
        clock = now
    tick("checking", 0.9)
    res = chain.res
    res.layers = {name: conform(name, chain.layers[name])
                  for name in _LAYER_ORDER if name in chain.layers}
    for reg_summary in res.registers.values():
        res.notes.extend(str(n) for n in reg_summary.get("notes", []))  # type: ignore[attr-defined]
    res.missing = missing_for_grids_and_assignment(res.layers)
    return res


def _read_streets(ch: _Chain) -> None:
    """Streets from an OSM extract (kept: it may give buildings too) or a line file."""
    streets = ch.inputs.streets
    if is_osm_file(streets):
        ch.extract = read_osm(streets)
        ch.res.osm = dict(extract_summary(ch.extract))
        ch.layers["streets"] = ch.extract.streets
    else:
        ch.layers["streets"] = _read_layer(streets, "streets", ch.inputs.crs)


def _read_buildings(ch: _Chain) -> None:
    """Buildings from their own file, the same or another OSM extract, or the streets' one."""
    inp = ch.inputs
    if inp.buildings is not None:
        if is_osm_file(inp.buildings):
            same = ch.extract is not None and Path(inp.buildings) == Path(inp.streets)
            other = ch.extract if same and ch.extract is not None else read_osm(inp.buildings)
            ch.layers["buildings"] = other.buildings
            ch.extract = ch.extract or other
        else:
            ch.layers["buildings"] = _read_layer(inp.buildings, "buildings", inp.crs)
    elif ch.extract is not None:
        ch.layers["buildings"] = ch.extract.buildings
    else:
        raise ValidationError("--buildings is required unless --streets is an OSM extract")
    if ch.layers["streets"].empty:
        raise ValidationError(f"{Path(inp.streets).name} holds no streets")
    ch.res.imported["streets"] = len(ch.layers["streets"])
    ch.res.imported["buildings"] = len(ch.layers["buildings"])


def _communities(ch: _Chain) -> None:
    """Communities from their file, or one placeholder covering the data; subdistricts."""
    inp, res = ch.inputs, ch.res
    ch.metric = working_crs_for(ch.layers["streets"])
    if inp.communities is not None:
        community_layer = _read_layer(inp.communities, "communities", inp.crs)
        subdistrict_layer = subdistricts_from_communities(
            community_layer, names={community_layer["subdistrict_code"].iloc[0]:
                                    inp.subdistrict_name} if inp.subdistrict_name else None)
        res.imported["communities"] = len(community_layer)
        res.derived["subdistricts"] = len(subdistrict_layer)
    elif inp.community_code:
        community_layer, subdistrict_layer = community_from_extent(
            [ch.layers["streets"].geometry, ch.layers["buildings"].geometry],
            code=inp.community_code,
            name=inp.community_name or _default_name(ch.extract, inp.community_code),
            subdistrict_name=inp.subdistrict_name, crs=ch.metric,
        )
        res.derived["communities"] = 1
        res.derived["subdistricts"] = 1
        res.notes.append(
            f"no community boundaries given: one placeholder community {inp.community_code} "
            "covers all the data; re-draw it with real boundaries when you have them"
        )
    else:
        raise ValidationError(
            "no community boundaries: pass --communities FILE, or --community-code CODE "
            "(12 digits) and --community-name NAME to create one community covering the data"
        )
    ch.layers["communities"] = community_layer
    ch.layers["subdistricts"] = subdistrict_layer


def _blocks(ch: _Chain) -> None:
    """Street blocks: the faces of the street network inside the communities' outline."""
    streets, buildings = ch.layers["streets"], ch.layers["buildings"]
    # Faces close along the communities' edge; a placeholder's buffered hull would add a thin
    # ring of margin as one more "block", so the data's own hull closes them instead.
    outline = (ch.layers["communities"].geometry.union_all()
               if ch.inputs.communities is not None else
               shapely.convex_hull(shapely.union_all(
                   [streets.geometry.union_all(), buildings.geometry.union_all()])))
    ch.res.blocks = blocks_from_streets(streets, crs=ch.metric, extent=outline)


def _compounds(ch: _Chain) -> None:
    """Compounds (mapped ones kept, the rest from blocks); buildings get their compound."""
    res, extract = ch.res, ch.extract
    mapped = extract.compounds if extract is not None else None
    compound_layer = compounds_from_blocks(
        res.blocks, ch.layers["buildings"], compounds=mapped,
        places=extract.places if extract is not None else None,
    )
    n_mapped = 0 if mapped is None else len(mapped)
    if n_mapped:
        res.imported["compounds"] = n_mapped
    res.derived["compounds"] = len(compound_layer) - n_mapped
    compound_layer["community_code"] = assign_to_areas(compound_layer, ch.layers["communities"],
                                                       key="code")
    building_layer = ch.layers["buildings"].copy()
    building_layer["compound_id"] = assign_to_areas(building_layer, compound_layer, key="id")
    ch.layers["compounds"] = compound_layer
    ch.layers["buildings"] = building_layer


def _households(ch: _Chain) -> None:
    """Households from a register (placed on buildings), or estimated from the buildings."""
    inp, res, building_layer = ch.inputs, ch.res, ch.layers["buildings"]
    if inp.households is not None:
        household_layer, reg = _read_people(inp.households, "households", inp.crs,
                                            building_layer)
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
        est = inp.estimate
        household_layer = households_from_buildings(
            building_layer, crs=ch.metric, dwelling_m2=est.dwelling_m2,
            residential_share=est.residential_share, default_floors=est.default_floors,
            persons_per_household=est.persons_per_household,
        )
        res.derived["households"] = len(household_layer)
        res.notes.append(
            f"households estimated from {len(building_layer)} buildings (footprint × floors ÷ "
            f"{est.dwelling_m2:g} m², unknown-use buildings at "
            f"{est.residential_share:.0%}, {est.default_floors} floors where none "
            "recorded); they carry estimated=true until a register replaces them"
        )
    ch.layers["households"] = household_layer


def _members(ch: _Chain) -> None:
    """Members from their roster, and the party branches it names."""
    inp, res = ch.inputs, ch.res
    if inp.members is None:
        return
    member_layer, reg = _read_people(inp.members, "members", inp.crs, ch.layers["buildings"])
    if reg is not None:
        res.registers["members"] = reg.summary()
    branch_layer, member_layer = branches_from_members(member_layer, ch.layers["communities"])
    res.imported["members"] = len(member_layer)
    ch.layers["members"] = member_layer
    if len(branch_layer):
        res.derived["branches"] = len(branch_layer)
        ch.layers["branches"] = branch_layer


#: The steps of :func:`onboard_layers`: (timing name, progress label, fraction, step).
_STEPS: tuple[tuple[str, str, float, Callable[[_Chain], None]], ...] = (
    ("streets", "reading streets", 0.02, _read_streets),
    ("buildings", "reading buildings", 0.15, _read_buildings),
    ("communities", "communities", 0.3, _communities),
    ("blocks", "polygonising street blocks", 0.4, _blocks),
    ("compounds", "compounds", 0.55, _compounds),
    ("households", "households", 0.65, _households),
    ("members", "members", 0.8, _members),
)
#: The order layers are handed to the writer in (parents before the rows that refer to them).
_LAYER_ORDER = ("subdistricts", "streets", "communities", "compounds", "buildings",
                "households", "members", "branches")


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

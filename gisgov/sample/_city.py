"""A city: N reference-county districts side by side, streets joined at the seams.

Cities grow by more communities of the same size, not by bigger ones (that is ``--scale``:
area and people grow together, side lengths with its square root, so the density stays the
reference county's and ``--scale 8`` is a county 8 times the area, 16 x 14 km):
district ``k`` is the reference county drawn with its own random stream, its own 6-digit code
(``410223 + k``; subdistrict, community, grid and branch codes follow it), its keys numbered on
from the district before, and its names and addresses prefixed with the district's name.
District 0 is the reference county itself, byte for byte, so ``--districts 1`` is the county.

Layout, in UTM metres (the county's frame): districts fill rows of ``ceil(sqrt(N))`` columns,
eastwards then northwards, at a pitch wide enough for any draw of the lattice and ring plus a
gap. Seam roads (城际联络线) join the outer roads across each gap: between every two neighbours
in a row and, in the first column, between rows. Those seams form a tree, so they connect the
whole network without closing a face: the blocks (faces) of the city are exactly the blocks
of its districts. Each seam leaves its outer-road node straight outwards (east or north),
turns in the middle of the gap and enters the neighbour straight from the opposite side, so it
crosses no street.

Districts are generated and handed out one at a time (:func:`iter_city`), so a writer can
stream them to the store; only the seam nodes and bounds of earlier districts are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.errors import ValidationError
from gisgov.layers import LAYERS, STORAGE_CRS, conform, empty_layer
from gisgov.sample._county import (
    District,
    DistrictResult,
    IdStart,
    check_options,
    generate_district,
)
from gisgov.sample._draw import seq_ids
from gisgov.sample._layers import to_lonlat
from gisgov.sample._reference import COUNTY_CODE, HEIGHT, RING, WIDTH, Array, ProgressFn
from gisgov.sample._site import utm_frame

__all__ = ["MAX_DISTRICTS", "SEAM_NAME", "CityDistrict", "district_code", "generate_city",
           "iter_city"]

#: Codes 410223 … 410286 stay within one prefecture's 4102xx block.
MAX_DISTRICTS = 64
#: Name of the seam roads between districts.
SEAM_NAME = "城际联络线"
#: Names put before the names and addresses of districts 1, 2, …; district 0 (the county)
#: keeps its own. Past the list, districts are numbered.
DISTRICT_NAMES: tuple[str, ...] = (
    "河东区", "河西区", "城南区", "城北区", "新华区", "高新区", "经开区", "滨河区", "湖滨区",
    "龙湖区", "金水区", "文峰区", "白沙区", "永安区", "清平区", "港区",
)
# Half extents of a district in its unscaled frame: the jittered lattice (15% of a spacing),
# the ring (RING) and its spokes' jitter (3 sd), with the urban-area scaling's headroom.
_HALF_W = (WIDTH / 2 + 0.15 * WIDTH / 13 + RING + 3 * 80) * 1.1
_HALF_H = (HEIGHT / 2 + 0.15 * HEIGHT / 11 + RING + 3 * 80) * 1.1
_GAP = 800.0
# outer-road nodes: south of the divider, east of the midline, north of it, west of it
_SOUTH, _EAST, _NORTH, _WEST = 2, 6, 10, 14


def district_code(k: int) -> str:
    """6-digit code of district ``k`` (0 is the reference county's)."""
    return str(int(COUNTY_CODE) + k)


def _district_name(k: int) -> str:
    if k == 0:
        return ""
    return DISTRICT_NAMES[k - 1] if k <= len(DISTRICT_NAMES) else f"第{k + 1}区"


@dataclass(frozen=True)
class _Layout:
    n: int
    cols: int
    pitch_x: float
    pitch_y: float

    @classmethod
    def of(cls, n: int, scale: float) -> _Layout:
        s = float(np.sqrt(scale))
        return cls(n, int(np.ceil(np.sqrt(n))), (2 * _HALF_W + _GAP) * s,
                   (2 * _HALF_H + _GAP) * s)

    def shift(self, k: int) -> tuple[float, float]:
        return (k % self.cols) * self.pitch_x, (k // self.cols) * self.pitch_y


@dataclass
class CityDistrict:
    """One district as handed out by :func:`iter_city`."""

    index: int
    code: str
    name: str
    layers: dict[str, gpd.GeoDataFrame]  # populated layers; streets include its seams


@dataclass
class _Placed:
    ring: list[Array]
    bounds: tuple[float, float, float, float]


def _seam(a: Array, b: Array, *, mid: float, eastward: bool) -> list[shapely.LineString]:
    """Three straight pieces from ``a`` to ``b`` turning at ``mid`` (x when eastward, else y)."""
    if eastward:
        turn_a, turn_b = np.array([mid, a[1]]), np.array([mid, b[1]])
    else:
        turn_a, turn_b = np.array([a[0], mid]), np.array([b[0], mid])
    return [shapely.LineString([a, turn_a]), shapely.LineString([turn_a, turn_b]),
            shapely.LineString([turn_b, b])]


def _seams(k: int, layout: _Layout, placed: list[_Placed]) -> list[shapely.LineString]:
    """The seam roads joining district ``k`` to its west neighbour (or, first in a row, south)."""
    here = placed[k]
    if k % layout.cols:
        west = placed[k - 1]
        if west.bounds[2] >= here.bounds[0]:
            raise AssertionError("districts overlap")  # pragma: no cover - layout invariant
        return _seam(west.ring[_EAST], here.ring[_WEST], eastward=True,
                     mid=(west.bounds[2] + here.bounds[0]) / 2)
    if k:
        south = placed[k - layout.cols]
        if south.bounds[3] >= here.bounds[1]:
            raise AssertionError("districts overlap")  # pragma: no cover - layout invariant
        return _seam(south.ring[_NORTH], here.ring[_SOUTH], eastward=False,
                     mid=(south.bounds[3] + here.bounds[1]) / 2)
    return []


def _with_seams(result: DistrictResult, seams: list[shapely.LineString], start: int
                ) -> tuple[gpd.GeoDataFrame, int]:
    """The district's streets followed by its seam roads (ids numbered on from ``start``)."""
    if not seams:
        return result.layers["streets"], 0
    utm, _ = utm_frame()
    extra = conform("streets", gpd.GeoDataFrame(
        {"id": seq_ids("DL", len(seams), 5, start), "name": [SEAM_NAME] * len(seams),
         "class": ["secondary"] * len(seams)},
        geometry=to_lonlat(np.array(seams, dtype=object), utm), crs=STORAGE_CRS))
    streets = pd.concat([result.layers["streets"], extra], ignore_index=True)
    return conform("streets", gpd.GeoDataFrame(streets, crs=STORAGE_CRS)), len(seams)


def iter_city(*, seed: int = 0, scale: float = 1.0, districts: int = 1,
              progress: ProgressFn | None = None) -> Iterator[CityDistrict]:
    """Generate a city district by district (see the module docstring).

    Parameters
    ----------
    seed
        District 0 draws from ``default_rng(seed)`` (the county of that seed), district
        ``k`` from ``default_rng([seed, k])``.
    scale
        As for :func:`gisgov.sample.generate_county`, per district.
    districts
        How many districts, 1 to :data:`MAX_DISTRICTS`.
    progress
        Called as ``progress(stage, fraction_done)`` over the whole city.

    Yields
    ------
    CityDistrict
        Each district's populated layers in EPSG:4326, in order.

    Raises
    ------
    ValidationError
        If an option is out of range.
    """
    check_options(seed, scale)
    if isinstance(districts, bool) or not isinstance(districts, (int, np.integer)) or not (
            1 <= districts <= MAX_DISTRICTS):
        raise ValidationError(f"区数须为 1 到 {MAX_DISTRICTS} 的整数 (districts must be an "
                              f"integer from 1 to {MAX_DISTRICTS}), got {districts!r}")
    layout = _Layout.of(int(districts), scale)
    placed: list[_Placed] = []
    ids = IdStart()
    for k in range(layout.n):
        def sub(stage: str, frac: float, k: int = k) -> None:
            if progress is not None:
                progress(f"district {k + 1}/{layout.n}: {stage}", (k + frac) / layout.n)

        rng = np.random.default_rng(seed if k == 0 else [seed, k])
        name = _district_name(k)
        spec = District(code=district_code(k), shift=layout.shift(k), name_prefix=name, ids=ids)
        result = generate_district(rng, scale, spec, sub)
        placed.append(_Placed(result.ring_outer, result.bounds))
        streets, n_seams = _with_seams(result, _seams(k, layout, placed),
                                       result.next_ids.streets)
        result.layers["streets"] = streets
        ids = replace(result.next_ids, streets=result.next_ids.streets + n_seams)
        yield CityDistrict(index=k, code=spec.code, name=name, layers=result.layers)
    if progress is not None:
        progress("done", 1.0)


def generate_city(*, seed: int = 0, scale: float = 1.0, districts: int = 1,
                  progress: ProgressFn | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The whole city in memory: every layer of :data:`~gisgov.layers.LAYERS`, concatenated.

    For large cities write :func:`iter_city`'s districts one at a time instead.
    """
    parts: dict[str, list[gpd.GeoDataFrame]] = {}
    for d in iter_city(seed=seed, scale=scale, districts=districts, progress=progress):
        for name, gdf in d.layers.items():
            parts.setdefault(name, []).append(gdf)
    return {name: conform(name, gpd.GeoDataFrame(pd.concat(parts[name], ignore_index=True),
                                                 crs=STORAGE_CRS))
            if name in parts else empty_layer(name) for name in LAYERS}

"""Responsibility lookup: which subdistrict, community and grid a point is in, and who covers it.

Field staff ask "whose is this place?" from a phone. :class:`LookupIndex` answers from memory:
shapely STRtrees over grids, communities, subdistricts and buildings, plus dictionaries of
staff by grid, households by building and red-grid members by household. It is built once from
a workspace (:meth:`LookupIndex.from_workspace`) and :class:`LiveIndex` keeps it current by
watching the workspace version.

Boundaries: the rule of :mod:`gisgov.locate` (a point belongs to the grids covering it,
boundary included; on a shared edge the lowest grid code wins, and the result says
``on_boundary``), answered by its :class:`~gisgov.locate.Locator`. Input positions may be in any
system :func:`gisgov.crs.transform_points` knows (WGS-84, CGCS2000, GCJ-02 from WeChat/Gaode,
BD-09 from Baidu); they are converted at the edge, the index itself is in EPSG:4326.

Examples
--------
>>> import geopandas as gpd, shapely
>>> grids = gpd.GeoDataFrame(
...     {"code": ["410223001001001", "410223001001002"], "name": ["一网格", "二网格"],
...      "community_code": ["410223001001"] * 2},
...     geometry=[shapely.box(114.19, 34.41, 114.20, 34.42),
...               shapely.box(114.20, 34.41, 114.21, 34.42)], crs="EPSG:4326")
>>> index = LookupIndex.from_layers({"grids": grids})
>>> hit = index.lookup(114.20, 34.415)
>>> hit.grid.code, hit.on_boundary
('410223001001001', True)
>>> index.lookup_many([114.195, 114.205, 115.0], [34.415, 34.415, 34.0]).grid_codes.tolist()
['410223001001001', '410223001001002', None]
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from gisgov.crs import normalise_crs_name, transform_points, working_crs_for
from gisgov.errors import NotFoundError, ValidationError
from gisgov.locate import Locator

__all__ = [
    "INPUT_CRS",
    "Area",
    "BatchResult",
    "HouseholdHit",
    "LiveIndex",
    "LookupIndex",
    "LookupResult",
    "Person",
    "lookup_layers",
]

log = logging.getLogger(__name__)

#: Coordinate systems a position may arrive in.
INPUT_CRS = ("wgs84", "cgcs2000", "gcj02", "bd09")

#: Layers the index reads.
lookup_layers = (
    "subdistricts", "communities", "grids", "buildings", "households", "staff", "members",
    "assignments",
)

# Staff shown first: the leader, then full-time, part-time, instructors, volunteers.
_ROLE_ORDER = {"leader": 0, "full_time": 1, "part_time": 2, "instructor": 3, "volunteer": 4}
# How many households of one building a lookup returns (nearest first).
_MAX_HOUSEHOLDS = 50
# Distances below this (metres) count as "on the boundary" for points that hit one grid only.
_ON_EDGE_M = 0.01

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Area:
    """An administrative area or grid: code and name."""

    code: str
    name: str


@dataclass(frozen=True)
class Person:
    """Someone responsible: grid staff or a red-grid member (values unmasked)."""

    id: str
    name: str | None
    phone: str | None
    role: str


@dataclass(frozen=True)
class HouseholdHit:
    """A household in the building under the point, with its red-grid member."""

    id: str
    address: str | None
    head_name: str | None
    phone: str | None
    id_number: str | None
    size: int | None
    distance_m: float
    member: Person | None


@dataclass(frozen=True)
class LookupResult:
    """Everything a lookup found for one position (unmasked; see :mod:`gisgov.privacy`).

    Attributes
    ----------
    lon, lat
        The position in WGS-84 (after conversion from ``input_crs``).
    input_crs
        The system the position arrived in.
    subdistrict, community, grid
        Where the point is.
    on_boundary
        The point lies on a grid edge; ``grid`` is then the lowest code among ``grids``.
    grids
        Codes of every grid the point touches (one unless on a shared edge).
    distance_to_boundary_m
        Distance from the point to the edge of ``grid`` in metres.
    leader, workers
        Grid leader and the other grid staff.
    building
        The building under the point, if any.
    households
        Households of that building, nearest first, each with its red-grid member.
    """

    lon: float
    lat: float
    input_crs: str
    subdistrict: Area | None
    community: Area | None
    grid: Area
    on_boundary: bool
    grids: tuple[str, ...]
    distance_to_boundary_m: float
    leader: Person | None
    workers: tuple[Person, ...]
    building: Area | None
    households: tuple[HouseholdHit, ...] = ()

    @property
    def household(self) -> HouseholdHit | None:
        """The household nearest the point in its building, if any."""
        return self.households[0] if self.households else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (unmasked)."""
        out = asdict(self)
        out["household"] = asdict(self.household) if self.household else None
        out["grids"] = list(self.grids)
        return out


@dataclass
class BatchResult:
    """Results of :meth:`LookupIndex.lookup_many`, one entry per input point.

    Attributes
    ----------
    grid_index
        Row of the grid in :attr:`LookupIndex.grid_codes` (``-1``: outside every grid).
    grid_codes
        Grid codes (``None`` outside), as an object array.
    on_boundary
        Whether the point touched more than one grid or lies on the edge of its grid.
    distance_m
        Distance to the grid's edge in metres (``nan`` outside, or when not computed).
    """

    grid_index: IntArray
    grid_codes: NDArray[np.object_]
    on_boundary: NDArray[np.bool_]
    distance_m: FloatArray

    def __len__(self) -> int:
        return len(self.grid_index)


def _str_or_none(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)


def _polygons(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if gdf is None or gdf.empty:
        return gpd.GeoDataFrame({"geometry": gpd.GeoSeries([], crs="EPSG:4326")},
                                crs="EPSG:4326")
    keep = gdf.geometry.notna().to_numpy() & ~gdf.geometry.is_empty.to_numpy()
    return gdf[keep]


class LookupIndex:
    """An in-memory spatial index of a workspace's grids and the people responsible for them.

    Build it with :meth:`from_workspace` or :meth:`from_layers`; it is immutable afterwards
    (a new version of the data means a new index, see :class:`LiveIndex`), so one index can
    be shared by any number of threads.

    Parameters
    ----------
    layers
        Layer frames in EPSG:4326 by name (any of :data:`lookup_layers`; ``grids`` required).
    metric_crs
        Projected CRS for distances (default: the UTM zone of the grids).
    version
        Workspace version the layers were read at.
    """

    def __init__(
        self,
        layers: Mapping[str, gpd.GeoDataFrame],
        *,
        metric_crs: pyproj.CRS | None = None,
        version: int | None = None,
    ) -> None:
        self.version = version
        grids = _polygons(layers.get("grids"))
        if len(grids) and "code" in grids:
            grids = grids.sort_values("code", kind="stable")  # index order == code order
        grids = grids.reset_index(drop=True)
        if metric_crs is None:
            metric_crs = (working_crs_for(grids) if len(grids)
                          else pyproj.CRS.from_epsg(32650))
        self.metric_crs = metric_crs
        self._to_metric = pyproj.Transformer.from_crs(4326, metric_crs, always_xy=True)

        # ---- grids: the tree every lookup starts from --------------------------------
        self.grid_codes: NDArray[np.object_] = grids.get(
            "code", pd.Series([], dtype=object)).astype(str).to_numpy(dtype=object)
        self._grid_names = _column(grids, "name")
        self._grid_community = _column(grids, "community_code")
        self._grid_geoms = np.asarray(grids.geometry.values, dtype=object)
        # rows are in code order, so the locator's tie-break (lowest code) is the lowest row
        self._grid_cells = Locator(self._grid_geoms)
        self._grid_tree = self._grid_cells.tree
        metric = grids.geometry.to_crs(metric_crs) if len(grids) else grids.geometry
        self._grid_edges_m = np.asarray(shapely.boundary(np.asarray(metric.values)),
                                        dtype=object)
        self._grid_tree_m = shapely.STRtree(np.asarray(metric.values, dtype=object))
        self._grid_pos = {c: i for i, c in enumerate(self.grid_codes)}

        # ---- communities and subdistricts: by code, and spatially as a fallback ---------
        communities = _polygons(layers.get("communities")).reset_index(drop=True)
        self._communities = {
            str(c): (str(n), _str_or_none(s))
            for c, n, s in zip(_column(communities, "code"), _column(communities, "name"),
                               _column(communities, "subdistrict_code"), strict=True)
        }
        self._community_codes = _column(communities, "code")
        self._community_tree = shapely.STRtree(np.asarray(communities.geometry.values))
        subdistricts = _polygons(layers.get("subdistricts")).reset_index(drop=True)
        self._subdistricts = {
            str(c): str(n) for c, n in zip(_column(subdistricts, "code"),
                                           _column(subdistricts, "name"), strict=True)
        }
        self._subdistrict_codes = _column(subdistricts, "code")
        self._subdistrict_tree = shapely.STRtree(np.asarray(subdistricts.geometry.values))

        # ---- buildings and their households --------------------------------------------
        buildings = _polygons(layers.get("buildings")).reset_index(drop=True)
        self._building_ids = _column(buildings, "id")
        self._building_address = _column(buildings, "address")
        self._building_geoms = np.asarray(buildings.geometry.values, dtype=object)
        shapely.prepare(self._building_geoms)
        self._building_tree = shapely.STRtree(self._building_geoms)

        households = layers.get("households")
        if households is None:
            households = gpd.GeoDataFrame({"id": [], "building_id": []},
                                          geometry=gpd.GeoSeries([], crs="EPSG:4326"))
        households = households.reset_index(drop=True)
        self._households = households.drop(columns=households.geometry.name)
        # Plain tuples, not DataFrame rows: a lookup reads a handful, and pandas row access
        # costs more than the whole spatial query.
        cols = ("id", "address", "head_name", "phone", "id_number", "size")
        self._household_rows = list(zip(*(
            (_column(households, c) if c != "size" else
             np.array([_int_or_none(v) for v in households.get("size", pd.Series(
                 [None] * len(households))).tolist()], dtype=object))
            for c in cols), strict=True)) if len(households) else []
        hx = np.asarray(shapely.get_x(np.asarray(households.geometry.values)), dtype=float)
        hy = np.asarray(shapely.get_y(np.asarray(households.geometry.values)), dtype=float)
        self._household_xy_m = np.column_stack(self._to_metric.transform(hx, hy)) \
            if len(households) else np.empty((0, 2))
        self._by_building: dict[str, list[int]] = {}
        for i, b in enumerate(_column(households, "building_id")):
            if b is not None:
                self._by_building.setdefault(str(b), []).append(i)
        # The grid of each household, for "field staff see only their own grids".
        self._household_grid = self.lookup_many(hx, hy, distances=False).grid_codes \
            if len(households) else np.empty(0, dtype=object)

        # ---- people -----------------------------------------------------------------
        members = layers.get("members")
        self._members: dict[str, tuple[str | None, str | None]] = {}
        if members is not None and len(members):
            for mid, name, phone in zip(members["id"], _column(members, "name"),
                                        _column(members, "phone"), strict=True):
                self._members[str(mid)] = (_str_or_none(name), _str_or_none(phone))
        assignments = layers.get("assignments")
        self._member_of: dict[str, str] = {}
        if assignments is not None and len(assignments):
            self._member_of = {
                str(h): str(m)
                for h, m in zip(assignments["household_id"], assignments["member_id"],
                                strict=True)
                if m is not None and m is not pd.NA
            }
        staff = layers.get("staff")
        self._staff: dict[str, list[Person]] = {}
        if staff is not None and len(staff):
            for row in staff.sort_values("id").to_dict("records"):
                person = Person(str(row["id"]), _str_or_none(row.get("name")),
                                _str_or_none(row.get("phone")), str(row.get("role")))
                self._staff.setdefault(str(row["grid_code"]), []).append(person)
            for people in self._staff.values():
                people.sort(key=lambda p: (_ROLE_ORDER.get(p.role, 9), p.id))

    # ---- construction -----------------------------------------------------------------
    @classmethod
    def from_layers(cls, layers: Mapping[str, gpd.GeoDataFrame], *,
                    metric_crs: pyproj.CRS | None = None,
                    version: int | None = None) -> LookupIndex:
        """Build an index from layer frames (see the class parameters)."""
        return cls(layers, metric_crs=metric_crs, version=version)

    @classmethod
    def from_workspace(cls, ws: Any) -> LookupIndex:
        """Read the lookup layers of a workspace and index them.

        Parameters
        ----------
        ws
            A :class:`gisgov.store.Workspace`.

        Returns
        -------
        LookupIndex
            Stamped with the workspace version read *before* the layers, so a write that
            lands while reading makes the index look stale, never fresh.
        """
        version = int(ws.version)
        present = set(ws.layers())
        layers = {name: ws.read(name) for name in lookup_layers if name in present}
        try:
            crs = ws.working_crs
        except NotFoundError:
            crs = None
        return cls(layers, metric_crs=crs, version=version)

    # ---- queries ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.grid_codes)

    def to_wgs84(self, lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
        """Positions given in ``crs`` (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``) as WGS-84,
        checked to be longitudes and latitudes (:class:`ValidationError` otherwise)."""
        return self._to_wgs84(lon, lat, crs)

    def _to_wgs84(self, lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
        name = normalise_crs_name(crs)
        if name not in INPUT_CRS:
            raise ValidationError(
                f"positions must be in one of {', '.join(INPUT_CRS)}, not {crs!r}"
            )
        x = np.asarray(lon, dtype=np.float64).ravel()
        y = np.asarray(lat, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValidationError(f"{x.size} longitudes but {y.size} latitudes")
        bad = ~(np.isfinite(x) & np.isfinite(y)) | (np.abs(x) > 180) | (np.abs(y) > 90)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValidationError(
                f"position {i} ({x[i]}, {y[i]}) is not a longitude/latitude; give lon in "
                "[-180, 180] and lat in [-90, 90], longitude first"
            )
        if name in ("gcj02", "bd09"):
            return transform_points(x, y, source=name, target="wgs84")
        return x, y

    def locate(self, lon: float, lat: float) -> list[int]:
        """Rows of every grid the WGS-84 point touches, lowest code first (fast path)."""
        return self._grid_cells.locate(lon, lat)

    def lookup(self, lon: float, lat: float, *, crs: str = "wgs84") -> LookupResult:
        """Who is responsible for one position.

        Parameters
        ----------
        lon, lat
            The position, longitude first.
        crs
            ``wgs84``, ``cgcs2000``, ``gcj02`` (WeChat, Gaode/AMap, Tencent) or ``bd09``.

        Returns
        -------
        LookupResult

        Raises
        ------
        NotFoundError
            Outside every grid; the message names the nearest grid and its distance
            (also in ``exc.nearest_grid`` and ``exc.distance_m``).
        ValidationError
            A position that is not lon/lat, or an unknown ``crs``.
        """
        xs, ys = self._to_wgs84([lon], [lat], crs)
        x, y = float(xs[0]), float(ys[0])
        hits = self.locate(x, y)
        if not hits:
            raise self._outside(x, y)
        g = hits[0]
        xm, ym = self._to_metric.transform(x, y)
        distance = float(shapely.distance(self._grid_edges_m[g], shapely.Point(xm, ym)))
        code = str(self.grid_codes[g])
        community = self._community_for(g, x, y)
        staff = self._staff.get(code, [])
        leader = next((p for p in staff if p.role == "leader"), None)
        return LookupResult(
            lon=x, lat=y, input_crs=normalise_crs_name(crs),
            subdistrict=self._subdistrict_for(community, x, y),
            community=community,
            grid=Area(code, str(self._grid_names[g] or "")),
            on_boundary=len(hits) > 1 or distance < _ON_EDGE_M,
            grids=tuple(str(self.grid_codes[i]) for i in hits),
            distance_to_boundary_m=round(distance, 2),
            leader=leader,
            workers=tuple(p for p in staff if p is not leader),
            **self._building_at(x, y, xm, ym),
        )

    def _outside(self, x: float, y: float) -> NotFoundError:
        if not len(self.grid_codes):
            return NotFoundError(
                "the workspace has no grids yet; draw them with `gisgov grids` or import a "
                "grids layer"
            )
        xm, ym = self._to_metric.transform(x, y)
        idx = np.empty(0, dtype=np.int64)
        if np.isfinite(xm) and np.isfinite(ym):
            idx, dist = self._grid_tree_m.query_nearest(shapely.Point(xm, ym),
                                                        return_distance=True)
        if len(np.atleast_1d(idx)):
            g = int(np.min(np.atleast_1d(idx)))  # ties: lowest code
            meters = round(float(np.atleast_1d(dist)[0]), 1)
        else:
            # Far outside the working CRS's zone (projection fails): nearest in degrees,
            # distance on the ellipsoid.
            g = int(np.min(np.atleast_1d(self._grid_tree.query_nearest(shapely.Point(x, y)))))
            line = shapely.shortest_line(self._grid_geoms[g], shapely.Point(x, y))
            (x1, y1), (x2, y2) = shapely.get_coordinates(line)
            meters = round(float(pyproj.Geod(ellps="WGS84").inv(x1, y1, x2, y2)[2]), 1)
        err = NotFoundError(
            f"({x:.6f}, {y:.6f}) is outside every grid; the nearest is "
            f"{self.grid_codes[g]} {self._grid_names[g] or ''}, {meters} m away — "
            "check the coordinate system (GCJ-02 from WeChat/Gaode differs by hundreds of metres)"
        )
        err.nearest_grid = str(self.grid_codes[g])  # type: ignore[attr-defined]
        err.nearest_grid_name = str(self._grid_names[g] or "")  # type: ignore[attr-defined]
        err.distance_m = meters  # type: ignore[attr-defined]
        return err

    def _community_for(self, g: int, x: float, y: float) -> Area | None:
        code = self._grid_community[g]
        if code is not None and str(code) in self._communities:
            return Area(str(code), self._communities[str(code)][0])
        hits = self._community_tree.query(shapely.Point(x, y), predicate="intersects")
        if len(hits):
            c = str(self._community_codes[int(np.min(hits))])
            return Area(c, self._communities[c][0])
        return None if code is None else Area(str(code), "")

    def _subdistrict_for(self, community: Area | None, x: float, y: float) -> Area | None:
        if community is not None and community.code in self._communities:
            s = self._communities[community.code][1]
            if s is not None and s in self._subdistricts:
                return Area(s, self._subdistricts[s])
        hits = self._subdistrict_tree.query(shapely.Point(x, y), predicate="intersects")
        if len(hits):
            s = str(self._subdistrict_codes[int(np.min(hits))])
            return Area(s, self._subdistricts[s])
        return None

    def _building_at(self, x: float, y: float, xm: float, ym: float) -> dict[str, Any]:
        candidates = self._building_tree.query(shapely.Point(x, y))
        hits = candidates[shapely.intersects_xy(self._building_geoms[candidates], x, y)] \
            if len(candidates) else candidates
        if not len(hits):
            return {"building": None, "households": ()}
        b = int(np.min(hits))
        bid = str(self._building_ids[b])
        rows = self._by_building.get(bid, [])
        found: list[HouseholdHit] = []
        if rows:
            d = np.hypot(self._household_xy_m[rows, 0] - xm, self._household_xy_m[rows, 1] - ym)
            order = np.argsort(d, kind="stable")[:_MAX_HOUSEHOLDS]
            for i in order:
                hid, address, head, phone, id_number, size = self._household_rows[rows[i]]
                mid = self._member_of.get(str(hid))
                member = None
                if mid is not None:
                    name, mphone = self._members.get(mid, (None, None))
                    member = Person(mid, name, mphone, "red_grid_member")
                found.append(HouseholdHit(
                    id=str(hid), address=address, head_name=head, phone=phone,
                    id_number=id_number, size=size, distance_m=round(float(d[i]), 1),
                    member=member,
                ))
        address = self._building_address[b]
        return {"building": Area(bid, "" if address is None else str(address)),
                "households": tuple(found)}

    def lookup_many(
        self,
        lon: ArrayLike,
        lat: ArrayLike,
        *,
        crs: str = "wgs84",
        distances: bool = True,
    ) -> BatchResult:
        """Grid of every point, vectorised.

        A raster of cells built from the grids' STRtree answers most points by array lookup;
        points in cells crossed by a grid edge are tested with one prepared ``intersects_xy``
        call over their cell's candidates (boundary included); the lowest code wins.

        Parameters
        ----------
        lon, lat
            Arrays of positions.
        crs
            Their coordinate system (see :meth:`lookup`).
        distances
            Also compute the distance to the grid's edge in metres (costs a projection).

        Returns
        -------
        BatchResult
        """
        x, y = self._to_wgs84(lon, lat, crs)
        n = x.size
        best, touching = self._grid_cells.locate_many(x, y)
        codes = np.full(n, None, dtype=object)
        inside = best >= 0
        codes[inside] = self.grid_codes[best[inside]]
        dist = np.full(n, np.nan)
        on_edge = touching > 1
        if distances and inside.any():
            xm, ym = self._to_metric.transform(x[inside], y[inside])
            dist[inside] = shapely.distance(self._grid_edges_m[best[inside]],
                                            shapely.points(xm, ym))
            on_edge |= np.nan_to_num(dist, nan=np.inf) < _ON_EDGE_M
        return BatchResult(best, codes, on_edge, dist)

    def grid_info(self, code: str) -> dict[str, Any]:
        """Codes and names of a grid and its community and subdistrict (for batch output)."""
        g = self._grid_pos[code]
        x, y = shapely.get_coordinates(shapely.point_on_surface(self._grid_geoms[g]))[0]
        community = self._community_for(g, float(x), float(y))
        subdistrict = self._subdistrict_for(community, float(x), float(y))
        staff = self._staff.get(code, [])
        return {
            "grid_code": code,
            "grid_name": str(self._grid_names[g] or ""),
            "community_code": community.code if community else None,
            "community_name": community.name if community else None,
            "subdistrict_code": subdistrict.code if subdistrict else None,
            "subdistrict_name": subdistrict.name if subdistrict else None,
            "leader": next((p for p in staff if p.role == "leader"), None),
        }

    def households_in_grids(self, codes: Sequence[str] | frozenset[str]) -> list[str]:
        """Ids of the households whose point lies in one of ``codes`` (sorted)."""
        wanted = set(codes)
        mask = np.fromiter((c in wanted for c in self._household_grid), dtype=bool,
                           count=len(self._household_grid))
        return sorted(self._households["id"].astype(str).to_numpy()[mask].tolist())

    def grid_of_household(self, household_id: str) -> str | None:
        """The grid a household's point lies in."""
        hits = np.flatnonzero(self._households["id"].astype(str).to_numpy() == household_id)
        return None if not len(hits) else _str_or_none(self._household_grid[hits[0]])

    def household_grids(self) -> dict[str, str | None]:
        """Household id → the grid its point lies in (for :mod:`gisgov.policy` scopes)."""
        return {str(h): _str_or_none(g) for h, g in
                zip(self._households["id"].tolist(), self._household_grid.tolist(), strict=True)}


def _column(frame: pd.DataFrame, name: str) -> NDArray[np.object_]:
    if name not in frame:
        return np.full(len(frame), None, dtype=object)
    return np.array([_str_or_none(v) for v in frame[name].tolist()], dtype=object)


@dataclass
class LiveIndex:
    """A :class:`LookupIndex` that follows the workspace.

    :meth:`get` checks ``ws.version`` at most once per ``check_interval`` seconds; when it
    changed, a new index is built in a background thread while the old one keeps answering
    (``background=False`` rebuilds before answering: the CLI and tests). If the store cannot
    be reached, the last index keeps answering: lookups survive a database restart.

    Parameters
    ----------
    ws
        The workspace.
    check_interval
        Seconds between version checks.
    background
        Rebuild in a background thread (the service) or inline.
    """

    ws: Any
    check_interval: float = 1.0
    background: bool = True
    _index: LookupIndex | None = field(default=None, init=False)
    _checked: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _building: threading.Thread | None = field(default=None, init=False)
    builds: int = field(default=0, init=False)

    def get(self) -> LookupIndex:
        """The current index (built on first use)."""
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    self._index = self._build()
                    self._checked = time.monotonic()
                return self._index
        now = time.monotonic()
        if now - self._checked < self.check_interval:
            return index
        self._checked = now
        try:
            version = int(self.ws.version)
        except Exception as exc:  # the store is down: keep answering from memory
            log.warning("lookup index: cannot read workspace version (%s); serving the last "
                        "index", exc)
            return index
        if version == index.version:
            return index
        if not self.background:
            return self.refresh()
        with self._lock:
            if self._building is None or not self._building.is_alive():
                self._building = threading.Thread(target=self._rebuild, name="lookup-index",
                                                  daemon=True)
                self._building.start()
        return index

    def _build(self) -> LookupIndex:
        index = LookupIndex.from_workspace(self.ws)
        self.builds += 1
        return index

    def _rebuild(self) -> None:
        try:
            self._index = self._build()
        except Exception:  # keep the old index; the next check tries again
            log.exception("lookup index: rebuild failed; serving the last index")

    def refresh(self) -> LookupIndex:
        """Rebuild now and return the new index."""
        with self._lock:
            self._index = self._build()
            self._checked = time.monotonic()
            return self._index

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for a background rebuild to finish (tests, shutdown)."""
        thread = self._building
        if thread is not None:
            thread.join(timeout)

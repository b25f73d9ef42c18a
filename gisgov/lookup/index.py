"""The in-memory lookup index: grids, areas, buildings and people of one workspace version.

:class:`LookupIndex` answers "whose is this place?" from memory: the grid from the raster
:class:`gisgov.locate.Locator` (one boundary rule for all of gisgov), the community and
subdistrict by code (STRtrees as a fallback), the building under the point from an STRtree of
prepared polygons, and the people from dictionaries built once. It is immutable after
construction, so any number of threads share one; a new workspace version means a new index
(see :mod:`gisgov.lookup.reload`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
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
from gisgov.lookup.result import (
    Area,
    BatchResult,
    FloatArray,
    HouseholdHit,
    LookupResult,
    Person,
)

__all__ = ["INPUT_CRS", "LookupIndex", "lookup_layers"]

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

    def lookup(self, lon: float, lat: float, *, crs: str = "wgs84",
               households: bool | Callable[[str, str | None, str | None], bool] = True
               ) -> LookupResult:
        """Who is responsible for one position.

        Parameters
        ----------
        lon, lat
            The position, longitude first.
        crs
            ``wgs84``, ``cgcs2000``, ``gcj02`` (WeChat, Gaode/AMap, Tencent) or ``bd09``.
        households
            Whether to list the households of the building under the point; or a predicate
            of ``(grid, community, subdistrict)`` codes deciding it once they are known (the
            service passes :meth:`gisgov.privacy.Principal.covers`: a caller who may not see
            the grid's households does not pay for up to 50 of them being gathered).

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
        name = normalise_crs_name(crs)
        x, y = self._point_to_wgs84(lon, lat, name)
        hits = self.locate(x, y)
        if not hits:
            raise self._outside(x, y)
        g = hits[0]
        xm, ym = self._to_metric.transform(x, y)
        # one call makes both points: shapely's per-call overhead dominates a single lookup
        here, here_m = shapely.points([[x, y], [xm, ym]])
        distance = float(shapely.distance(self._grid_edges_m[g], here_m))
        code = str(self.grid_codes[g])
        community = self._community_for(g, here)
        subdistrict = self._subdistrict_for(community, here)
        staff = self._staff.get(code, [])
        leader = next((p for p in staff if p.role == "leader"), None)
        if callable(households):
            households = households(code, community.code if community else None,
                                    subdistrict.code if subdistrict else None)
        return LookupResult(
            lon=x, lat=y, input_crs=name,
            subdistrict=subdistrict,
            community=community,
            grid=Area(code, str(self._grid_names[g] or "")),
            on_boundary=len(hits) > 1 or distance < _ON_EDGE_M,
            grids=tuple(str(self.grid_codes[i]) for i in hits),
            distance_to_boundary_m=round(distance, 2),
            leader=leader,
            workers=tuple(p for p in staff if p is not leader),
            **self._building_at(here, xm, ym, with_households=bool(households)),
        )

    def _point_to_wgs84(self, lon: float, lat: float, name: str) -> tuple[float, float]:
        """One position in WGS-84, checked with plain floats (numpy costs more for one)."""
        if name not in INPUT_CRS:
            raise ValidationError(
                f"positions must be in one of {', '.join(INPUT_CRS)}, not {name!r}")
        try:
            x, y = float(lon), float(lat)
        except (TypeError, ValueError):
            raise ValidationError(f"position ({lon!r}, {lat!r}) is not a number pair") from None
        if not (math.isfinite(x) and math.isfinite(y)) or abs(x) > 180 or abs(y) > 90:
            raise ValidationError(
                f"position 0 ({x}, {y}) is not a longitude/latitude; give lon in "
                "[-180, 180] and lat in [-90, 90], longitude first")
        if name in ("gcj02", "bd09"):
            xs, ys = transform_points(np.array([x]), np.array([y]), source=name, target="wgs84")
            return float(xs[0]), float(ys[0])
        return x, y

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

    def _community_for(self, g: int, here: shapely.Point) -> Area | None:
        code = self._grid_community[g]
        if code is not None and str(code) in self._communities:
            return Area(str(code), self._communities[str(code)][0])
        hits = self._community_tree.query(here, predicate="intersects")
        if len(hits):
            c = str(self._community_codes[int(np.min(hits))])
            return Area(c, self._communities[c][0])
        return None if code is None else Area(str(code), "")

    def _subdistrict_for(self, community: Area | None, here: shapely.Point) -> Area | None:
        if community is not None and community.code in self._communities:
            s = self._communities[community.code][1]
            if s is not None and s in self._subdistricts:
                return Area(s, self._subdistricts[s])
        hits = self._subdistrict_tree.query(here, predicate="intersects")
        if len(hits):
            s = str(self._subdistrict_codes[int(np.min(hits))])
            return Area(s, self._subdistricts[s])
        return None

    def _building_at(self, here: shapely.Point, xm: float, ym: float, *,
                     with_households: bool = True) -> dict[str, Any]:
        hits = self._building_tree.query(here, predicate="intersects")
        if not len(hits):
            return {"building": None, "households": ()}
        b = int(np.min(hits))
        bid = str(self._building_ids[b])
        rows = self._by_building.get(bid, []) if with_households else []
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
        inside = shapely.point_on_surface(self._grid_geoms[g])
        community = self._community_for(g, inside)
        subdistrict = self._subdistrict_for(community, inside)
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


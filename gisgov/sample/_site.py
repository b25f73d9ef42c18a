"""One district's ground: its streets and blocks, scaled and placed in UTM metres.

The network is drawn in an unscaled local frame (:mod:`gisgov.sample._network`); one uniform
scaling makes the urban communities cover exactly ``11.4 km² × scale`` and a shift moves the
frame to UTM around :data:`~gisgov.sample._reference.CENTRE_LONLAT` (plus the district's
offset in a city). The same arithmetic on the same floats keeps every shared vertex shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray

from gisgov.sample._blocks import BlockLabels, classify_blocks
from gisgov.sample._network import Lattice, Network, build_network
from gisgov.sample._reference import CENTRE_LONLAT, REFERENCE, URBAN, WIDTH, Array

__all__ = ["Site", "lay_out", "utm_frame"]


@dataclass
class Site:
    """The district's blocks and streets in UTM metres, with what placement needs per block."""

    scale: float
    net: Network
    lat: Lattice
    utm: pyproj.CRS
    blocks: NDArray[np.object_]
    labels: BlockLabels
    street_geoms: NDArray[np.object_]
    ring_outer: list[Array]  # outer-road nodes in UTM (see Lattice.ring_outer)
    width: float  # lattice width in metres
    g: float  # building size factor: blocks shrink faster than buildings

    def __post_init__(self) -> None:
        self.label = self.labels.label
        self.urban_block = self.label < URBAN
        self.new_town = self.labels.new_town
        self.rep = shapely.point_on_surface(self.blocks)
        self.rep_xy = shapely.get_coordinates(self.rep)
        centre_xy = self.rep_xy[self.urban_block].mean(axis=0)
        self.dist = np.hypot(*(self.rep_xy - centre_xy).T)
        self.area = shapely.area(self.blocks)


def utm_frame() -> tuple[pyproj.CRS, Array]:
    """The UTM zone of the county seat and the seat's easting/northing in it."""
    lon0, lat0 = CENTRE_LONLAT
    zone = int((lon0 + 180.0) // 6.0) + 1
    utm = pyproj.CRS.from_epsg(32600 + zone)
    e0, n0 = pyproj.Transformer.from_crs(4326, utm, always_xy=True).transform(lon0, lat0)
    return utm, np.array([e0, n0])


def lay_out(rng: np.random.Generator, scale: float, shift: Array | None = None) -> Site:
    """Draw a district's network, label its blocks and place it in UTM.

    ``shift`` (metres) moves the district away from the county seat; a city lays its
    districts out side by side with it.
    """
    net, lat = build_network(rng)
    lines = [shapely.LineString(c) for c in net.coords]
    blocks = np.asarray(shapely.get_parts(shapely.polygonize(lines)))
    labels = classify_blocks(rng, blocks, lat)
    urban_block = labels.label < URBAN
    factor = float(np.sqrt(REFERENCE["urban_area_km2"] * 1e6 * scale
                           / shapely.area(blocks[urban_block]).sum()))
    utm, offset = utm_frame()
    if shift is not None:
        offset = offset + shift

    def to_utm(c: Array) -> Array:
        return np.asarray(c * factor + offset, dtype=np.float64)

    return Site(
        scale=scale, net=net, lat=lat, utm=utm,
        blocks=shapely.transform(blocks, to_utm),
        labels=labels,
        street_geoms=np.array([shapely.LineString(to_utm(c)) for c in net.coords], dtype=object),
        ring_outer=[to_utm(p) for p in lat.ring_outer],
        width=WIDTH * factor,
        g=float(np.clip(np.sqrt(scale), 0.45, 1.0)),
    )

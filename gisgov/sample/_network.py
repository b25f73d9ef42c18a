"""The street network of one district: main lattice, lanes, suburban ring, footways.

Built in a local metric frame centred on the district (before scaling). Every edge joins
explicit nodes, so the network is planar and split at intersections by construction (no
noding, no floating-point T-junctions), and its faces (``shapely.polygonize``) are the blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray

from gisgov.sample import _names as names
from gisgov.sample._draw import random_points
from gisgov.sample._reference import DIV, HEIGHT, JMID, NX, NY, RING, WIDTH, Array

__all__ = ["Lattice", "Network", "build_network", "footways"]


@dataclass
class Network:
    """Street edges as coordinate arrays with their names and classes, in drawing order."""

    coords: list[Array] = field(default_factory=list)
    name: list[str | None] = field(default_factory=list)
    cls: list[str] = field(default_factory=list)

    def add(self, pts: list[Array], name: str | None, cls: str) -> None:
        self.coords.append(np.array(pts, dtype=np.float64))
        self.name.append(name)
        self.cls.append(cls)


@dataclass
class Lattice:
    """The jittered main-street lattice and where the network's lines divide the district.

    ``X``/``Y`` are the (NX, NY) intersections; ``divider`` (解放大道 extended through the
    suburbs) splits the subdistricts, ``midline`` (迎宾大道 extended) north from south;
    ``ring_outer`` are the outer-road nodes at the ends of the suburban spokes,
    counter-clockwise from the south-west corner (index 2: south of the divider, 6: east of
    the midline, 10: north of the divider, 14: west of the midline) — where a city joins
    neighbouring districts.
    """

    X: Array
    Y: Array
    divider: Array = field(default_factory=lambda: np.empty((0, 2)))
    midline: Array = field(default_factory=lambda: np.empty((0, 2)))
    villages: list[str] = field(default_factory=list)
    ring_outer: list[Array] = field(default_factory=list)

    def node(self, i: int, j: int) -> Array:
        return np.array([self.X[i, j], self.Y[i, j]])


def _lattice(rng: np.random.Generator) -> Lattice:
    def axis(n: int, length: float) -> Array:
        gaps = rng.uniform(0.75, 1.25, n - 1)
        pos = np.concatenate([[0.0], np.cumsum(gaps)])
        return np.asarray(pos / pos[-1] * length - length / 2, dtype=np.float64)

    xs, ys = axis(NX, WIDTH), axis(NY, HEIGHT)
    dx, dy = WIDTH / (NX - 1), HEIGHT / (NY - 1)
    # clipped so the lattice never folds: neighbours stay at least 45% of a spacing apart
    jx = np.clip(rng.normal(0, 0.06 * dx, (NX, NY)), -0.15 * dx, 0.15 * dx)
    jy = np.clip(rng.normal(0, 0.06 * dy, (NX, NY)), -0.15 * dy, 0.15 * dy)
    return Lattice(xs[:, None] + jx, ys[None, :] + jy)


@dataclass
class _Splits:
    """Candidate split points on each main edge, and which of them a lane uses."""

    lat: Lattice
    t_ns: Array
    t_ew: Array
    vsplit: NDArray[np.bool_]  # (NX-1, NY-1): the cell is cut by a north-south lane
    hsplit: NDArray[np.bool_]  # (NX-1, NY-1): the cell is cut by an east-west lane
    used_ns: NDArray[np.bool_]
    used_ew: NDArray[np.bool_]

    @classmethod
    def draw(cls, rng: np.random.Generator, lat: Lattice) -> _Splits:
        has_ns = rng.random((NX, NY - 1)) < 0.6
        t_ns = rng.uniform(0.35, 0.65, (NX, NY - 1))
        has_ew = rng.random((NX - 1, NY)) < 0.6
        t_ew = rng.uniform(0.35, 0.65, (NX - 1, NY))
        vsplit = has_ew[:, :-1] & has_ew[:, 1:]
        hsplit = has_ns[:-1, :] & has_ns[1:, :]
        used_ew = np.zeros_like(has_ew)
        used_ew[:, :-1] |= vsplit
        used_ew[:, 1:] |= vsplit
        used_ns = np.zeros_like(has_ns)
        used_ns[:-1, :] |= hsplit
        used_ns[1:, :] |= hsplit
        return cls(lat, t_ns, t_ew, vsplit, hsplit, used_ns, used_ew)

    def p_ns(self, i: int, j: int) -> Array:
        a, b = self.lat.node(i, j), self.lat.node(i, j + 1)
        return np.asarray(a + self.t_ns[i, j] * (b - a), dtype=np.float64)

    def p_ew(self, i: int, j: int) -> Array:
        a, b = self.lat.node(i, j), self.lat.node(i + 1, j)
        return np.asarray(a + self.t_ew[i, j] * (b - a), dtype=np.float64)


def _main_edge(net: Network, a: Array, b: Array, mid: Array | None, name: str) -> None:
    """One lattice edge of a main street, as two edges when a lane meets it at ``mid``."""
    if mid is None:
        net.add([a, b], name, "main")
    else:
        net.add([a, mid], name, "main")
        net.add([mid, b], name, "main")


def _main_streets(net: Network, sp: _Splits) -> None:
    """The 26 named main streets, each edge split where a lane meets it."""
    lat = sp.lat
    for i in range(NX):
        for j in range(NY - 1):
            _main_edge(net, lat.node(i, j), lat.node(i, j + 1),
                       sp.p_ns(i, j) if sp.used_ns[i, j] else None, names.MAIN_STREETS_NS[i])
    for j in range(NY):
        for i in range(NX - 1):
            _main_edge(net, lat.node(i, j), lat.node(i + 1, j),
                       sp.p_ew(i, j) if sp.used_ew[i, j] else None, names.MAIN_STREETS_EW[j])


def _lanes(rng: np.random.Generator, net: Network, sp: _Splits) -> None:
    """Secondary/minor lanes cutting superblocks in two or four (named while names last)."""
    lanes = list(rng.permutation(np.array(names.LANES)))
    lane_no = 0

    def lane_name() -> str | None:
        nonlocal lane_no
        lane_no += 1
        return str(lanes[(lane_no - 1) % len(lanes)]) if lane_no <= len(lanes) else None

    for i in range(NX - 1):
        for j in range(NY - 1):
            v, h = bool(sp.vsplit[i, j]), bool(sp.hsplit[i, j])
            if not (v or h):
                continue
            cls = "secondary" if rng.random() < 0.35 else "minor"
            lane: str | None = lane_name() if cls == "secondary" else None
            if v and h:
                s, n, w, e = sp.p_ew(i, j), sp.p_ew(i, j + 1), sp.p_ns(i, j), sp.p_ns(i + 1, j)
                c = (s + n + w + e) / 4 + rng.normal(0, 4.0, 2)
                for end in (s, n, w, e):
                    net.add([end, c], lane, cls)
            elif v:
                net.add([sp.p_ew(i, j), sp.p_ew(i, j + 1)], lane, cls)
            else:
                net.add([sp.p_ns(i, j), sp.p_ns(i + 1, j)], lane, cls)


def _spokes(rng: np.random.Generator, lat: Lattice) -> list[tuple[Array, Array]]:
    """(lattice node, outer node) of the 16 suburban connectors, counter-clockwise from SW."""
    ring: list[tuple[Array, Array]] = []
    r, rc = RING, 0.8 * RING

    def spoke(i: int, j: int, dx: float, dy: float, sdx: float, sdy: float) -> None:
        jit = np.array([dx + float(rng.normal(0, sdx)), dy + float(rng.normal(0, sdy))])
        ring.append((lat.node(i, j), lat.node(i, j) + jit))

    spoke(0, 0, -rc, -rc, 60, 60)
    for i in (3, DIV, 10):
        spoke(i, 0, 0, -r, 60, 80)
    spoke(NX - 1, 0, rc, -rc, 60, 60)
    for j in (3, JMID, 9):
        spoke(NX - 1, j, r, 0, 80, 60)
    spoke(NX - 1, NY - 1, rc, rc, 60, 60)
    for i in (10, DIV, 3):
        spoke(i, NY - 1, 0, r, 60, 80)
    spoke(0, NY - 1, -rc, rc, 60, 60)
    for j in (9, JMID, 3):
        spoke(0, j, -r, 0, 80, 60)
    return ring


def _suburban_ring(rng: np.random.Generator, net: Network, lat: Lattice) -> None:
    """Connectors from the lattice edge out to an outer road, via a village road."""
    ring = _spokes(rng, lat)
    villages = list(rng.permutation(np.array(names.VILLAGES)))
    mids: list[Array] = []
    for k, (core, outer) in enumerate(ring):
        mid = (core + outer) / 2 + rng.normal(0, 25.0, 2)
        mids.append(mid)
        nm = f"{villages[k % len(villages)]}路"
        net.add([core, mid], nm, "secondary")
        net.add([mid, outer], nm, "secondary")
    for k in range(len(ring)):
        k2 = (k + 1) % len(ring)
        net.add([ring[k][1], ring[k2][1]], "外环路", "secondary")
        net.add([mids[k], mids[k2]], None, "minor")
    lat.divider = np.array([ring[2][1], mids[2]] + [lat.node(DIV, j) for j in range(NY)]
                           + [mids[10], ring[10][1]])
    lat.midline = np.array([ring[14][1], mids[14]] + [lat.node(i, JMID) for i in range(NX)]
                           + [mids[6], ring[6][1]])
    lat.villages = [str(v) for v in villages]
    lat.ring_outer = [outer for _, outer in ring]


def build_network(rng: np.random.Generator) -> tuple[Network, Lattice]:
    """Draw the whole street network of one district in its unscaled local frame."""
    lat = _lattice(rng)
    splits = _Splits.draw(rng, lat)
    net = Network()
    _main_streets(net, splits)
    _lanes(rng, net, splits)
    _suburban_ring(rng, net, lat)
    return net, lat


def footways(
    rng: np.random.Generator,
    compounds: NDArray[np.object_],
    streets: NDArray[np.object_],
) -> NDArray[np.object_]:
    """Dead-end footways into each compound from street nodes on its boundary.

    Dead ends only, so polygonizing the street layer still yields the same blocks.
    """
    ends = shapely.get_coordinates(shapely.boundary(streets))
    nodes = {(float(x), float(y)) for x, y in ends}
    geoms: list[shapely.Geometry] = []
    for poly in compounds:
        ring = shapely.get_coordinates(poly.exterior)[:-1]
        on_street = ring[[(float(x), float(y)) in nodes for x, y in ring]]
        if len(on_street) == 0:
            continue
        shapely.prepare(poly)
        targets = random_points(rng, poly.buffer(-0.2 * np.sqrt(poly.area) / 2), 2)
        for start, end in zip(on_street[rng.permutation(len(on_street))[:2]], targets,
                              strict=False):
            line = shapely.LineString([start, end])
            if poly.covers(line):
                geoms.append(line)
    return np.array(geoms, dtype=object)

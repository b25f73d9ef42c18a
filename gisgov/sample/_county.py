"""The reference county generator (see :func:`gisgov.sample.generate_county`).

How the county is built, in a local metric frame centred on the county seat:

1. A main lattice of 14 north-south and 12 east-west main streets (26 named) with jittered
   spacing and jittered intersections, so streets bend slightly at every crossing.
2. Secondary/minor roads split some lattice cells ("superblocks") in two or four. Split points
   are chosen per street edge, so a lane continues across a main street when both neighbours
   use the same point. Every edge is built between explicit nodes: the network is planar and
   split at intersections by construction (no noding, no floating-point T-junctions).
3. A suburban ring around the lattice: connector roads, a village road and an outer road.
4. Blocks are the faces of that network (``shapely.polygonize``); communities and
   subdistricts are unions of blocks, so they tile each other exactly.
5. The whole frame is scaled once so the urban communities cover exactly ``11.4 km² × scale``,
   then shifted to UTM around :data:`CENTRE_LONLAT` and finally projected to EPSG:4326.
6. Compounds, buildings, households, members, units and stations are placed inside blocks,
   with the counts of the county report (seed 002) forced exactly where it gives a count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from gisgov.errors import ValidationError
from gisgov.layers import LAYERS, STORAGE_CRS, conform, empty_layer
from gisgov.sample import _names as names

__all__ = [
    "CENTRE_LONLAT",
    "COMMUNITIES",
    "COUNTY_CODE",
    "OLD_BRANCH_SIZES",
    "REFERENCE",
    "SUBDISTRICTS",
    "generate_county",
]

#: County code (GB/T 2260) used as the prefix of every code and ID number. The county is
#: fictional ("xx县" in the field report); the code and centre are those of a real Henan county
#: seat only so that basemaps show a plausible place.
COUNTY_CODE = "410223"
#: Centre of the county seat (lon, lat, WGS-84).
CENTRE_LONLAT = (114.19, 34.41)
#: Reference year for ages and ID-number birth dates.
REFERENCE_YEAR = 2025

#: The figures of the county report (seed 002) at scale 1.
REFERENCE: dict[str, float] = {
    "urban_area_km2": 11.4,
    "subdistricts": 2,
    "main_streets": 26,
    "compounds": 73,
    "old_compounds": 33,
    # 95% of 33 is 31.35: 31 old compounds have no property management (94%), 2 got one.
    "old_compounds_unmanaged": 31,
    "new_compounds": 40,
    "residents": 68_000,
    "floating": 24_400,
    "units": 88,
    "volunteer_stations": 11,
    "old_community_members": 280,
    "old_community_members_50plus": 102,
    "old_community_members_away": 89,
    "urban_communities_before": 4,
    "mixed_communities": 4,
    "in_service_members": 2_720,
    # 174 grids in the 5 urban communities at about 100 households each
    "urban_grids": 174,
    "households_per_grid": 100,
}

#: (3-digit code, name) of the two subdistricts, west then east.
SUBDISTRICTS: tuple[tuple[str, str], ...] = (("001", "城关街道"), ("002", "城东街道"))
#: (3-digit code, name, kind, subdistrict index) of the communities before the reform.
COMMUNITIES: tuple[tuple[str, str, str, int], ...] = (
    ("001", "北关社区", "urban", 0),
    ("002", "西关社区", "urban", 0),
    ("001", "东关社区", "urban", 1),
    ("002", "东城社区", "urban", 1),  # also holds the new town (新城区) east of 车站路's west
    ("201", "王庄社区", "mixed", 0),  # north-west suburbs
    ("202", "李寨社区", "mixed", 0),  # south-west
    ("201", "孙营社区", "mixed", 1),  # north-east
    ("202", "刘店社区", "mixed", 1),  # south-east
)
#: Community-branch members of the 4 old urban communities at scale 1 (sum 280): all over the
#: 50-member cap, 东城社区 (with the new town) over 100.
OLD_BRANCH_SIZES: tuple[int, ...] = (60, 56, 58, 106)
#: Branch members of the 4 mixed communities at scale 1; the first is floored at 51 at every
#: scale so that a small sample still has a branch over the cap.
MIXED_BRANCH_SIZES: tuple[int, ...] = (66, 47, 62, 58)
VOLUNTEER_STATIONS: tuple[int, ...] = (3, 2, 2, 4)

_NX, _NY = len(names.MAIN_STREETS_NS), len(names.MAIN_STREETS_EW)
_DIV = 6  # 解放大道: the subdistrict boundary
_JMID = 6  # 迎宾大道: north/south suburbs
_NEW_TOWN_COL = 11  # lattice columns >= this are the new town
_URBAN = 4  # community indices < 4 are urban
_WIDTH, _HEIGHT, _RING = 3900.0, 2920.0, 1100.0

ProgressFn = Callable[[str, float], None]
Array = NDArray[np.float64]


@dataclass
class _Network:
    coords: list[Array] = field(default_factory=list)
    name: list[str | None] = field(default_factory=list)
    cls: list[str] = field(default_factory=list)

    def add(self, pts: list[Array], name: str | None, cls: str) -> None:
        self.coords.append(np.array(pts, dtype=np.float64))
        self.name.append(name)
        self.cls.append(cls)


def _check_options(seed: int, scale: float) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValidationError(f"seed must be a non-negative integer, got {seed!r}")
    if not np.isfinite(scale) or not 0.005 <= scale <= 20:
        raise ValidationError(
            f"scale must be between 0.005 and 20 (1 = the reference county), got {scale!r}"
        )


def _lattice(rng: np.random.Generator) -> tuple[Array, Array]:
    def axis(n: int, length: float) -> Array:
        gaps = rng.uniform(0.75, 1.25, n - 1)
        pos = np.concatenate([[0.0], np.cumsum(gaps)])
        return np.asarray(pos / pos[-1] * length - length / 2, dtype=np.float64)

    xs, ys = axis(_NX, _WIDTH), axis(_NY, _HEIGHT)
    dx, dy = _WIDTH / (_NX - 1), _HEIGHT / (_NY - 1)
    # clipped so the lattice never folds: neighbours stay at least 45% of a spacing apart
    jx = np.clip(rng.normal(0, 0.06 * dx, (_NX, _NY)), -0.15 * dx, 0.15 * dx)
    jy = np.clip(rng.normal(0, 0.06 * dy, (_NX, _NY)), -0.15 * dy, 0.15 * dy)
    return xs[:, None] + jx, ys[None, :] + jy


def _build_network(rng: np.random.Generator) -> tuple[_Network, dict[str, object]]:
    X, Y = _lattice(rng)

    def node(i: int, j: int) -> Array:
        return np.array([X[i, j], Y[i, j]])

    # candidate split points on each main edge; kept only where a split uses them
    has_ns = rng.random((_NX, _NY - 1)) < 0.6
    t_ns = rng.uniform(0.35, 0.65, (_NX, _NY - 1))
    has_ew = rng.random((_NX - 1, _NY)) < 0.6
    t_ew = rng.uniform(0.35, 0.65, (_NX - 1, _NY))
    vsplit = has_ew[:, :-1] & has_ew[:, 1:]  # (NX-1, NY-1)
    hsplit = has_ns[:-1, :] & has_ns[1:, :]
    used_ew = np.zeros_like(has_ew)
    used_ew[:, :-1] |= vsplit
    used_ew[:, 1:] |= vsplit
    used_ns = np.zeros_like(has_ns)
    used_ns[:-1, :] |= hsplit
    used_ns[1:, :] |= hsplit

    def p_ns(i: int, j: int) -> Array:
        a, b = node(i, j), node(i, j + 1)
        return np.asarray(a + t_ns[i, j] * (b - a), dtype=np.float64)

    def p_ew(i: int, j: int) -> Array:
        a, b = node(i, j), node(i + 1, j)
        return np.asarray(a + t_ew[i, j] * (b - a), dtype=np.float64)

    net = _Network()
    for i in range(_NX):
        for j in range(_NY - 1):
            a, b = node(i, j), node(i, j + 1)
            nm = names.MAIN_STREETS_NS[i]
            if used_ns[i, j]:
                m = p_ns(i, j)
                net.add([a, m], nm, "main")
                net.add([m, b], nm, "main")
            else:
                net.add([a, b], nm, "main")
    for j in range(_NY):
        for i in range(_NX - 1):
            a, b = node(i, j), node(i + 1, j)
            nm = names.MAIN_STREETS_EW[j]
            if used_ew[i, j]:
                m = p_ew(i, j)
                net.add([a, m], nm, "main")
                net.add([m, b], nm, "main")
            else:
                net.add([a, b], nm, "main")

    lanes = list(rng.permutation(np.array(names.LANES)))
    lane_no = 0

    def lane_name() -> str | None:
        nonlocal lane_no
        lane_no += 1
        return str(lanes[(lane_no - 1) % len(lanes)]) if lane_no <= len(lanes) else None

    for i in range(_NX - 1):
        for j in range(_NY - 1):
            v, h = bool(vsplit[i, j]), bool(hsplit[i, j])
            if not (v or h):
                continue
            cls = "secondary" if rng.random() < 0.35 else "minor"
            lane: str | None = lane_name() if cls == "secondary" else None
            if v and h:
                s, n, w, e = p_ew(i, j), p_ew(i, j + 1), p_ns(i, j), p_ns(i + 1, j)
                c = (s + n + w + e) / 4 + rng.normal(0, 4.0, 2)
                for end in (s, n, w, e):
                    net.add([end, c], lane, cls)
            elif v:
                net.add([p_ew(i, j), p_ew(i, j + 1)], lane, cls)
            else:
                net.add([p_ns(i, j), p_ns(i + 1, j)], lane, cls)

    # suburban ring: connectors from the lattice edge out to an outer road, via a village road
    def jit(sd: float) -> float:
        return float(rng.normal(0, sd))

    ring: list[tuple[Array, Array]] = []  # (core node, outer node), counter-clockwise from SW
    r, rc = _RING, 0.8 * _RING

    def spoke(i: int, j: int, dx: float, dy: float, sdx: float, sdy: float) -> None:
        ring.append((node(i, j), node(i, j) + np.array([dx + jit(sdx), dy + jit(sdy)])))

    spoke(0, 0, -rc, -rc, 60, 60)
    for i in (3, _DIV, 10):
        spoke(i, 0, 0, -r, 60, 80)
    spoke(_NX - 1, 0, rc, -rc, 60, 60)
    for j in (3, _JMID, 9):
        spoke(_NX - 1, j, r, 0, 80, 60)
    spoke(_NX - 1, _NY - 1, rc, rc, 60, 60)
    for i in (10, _DIV, 3):
        spoke(i, _NY - 1, 0, r, 60, 80)
    spoke(0, _NY - 1, -rc, rc, 60, 60)
    for j in (9, _JMID, 3):
        spoke(0, j, -r, 0, 80, 60)
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

    div_pts = [ring[2][1], mids[2]] + [node(_DIV, j) for j in range(_NY)] + [mids[10], ring[10][1]]
    mid_pts = [ring[14][1], mids[14]] + [node(i, _JMID) for i in range(_NX)] + [mids[6], ring[6][1]]
    info: dict[str, object] = {
        "X": X,
        "Y": Y,
        "divider": np.array(div_pts),
        "midline": np.array(mid_pts),
        "villages": villages,
    }
    return net, info


def _classify_blocks(
    rng: np.random.Generator, blocks: NDArray[np.object_], info: dict[str, object]
) -> dict[str, NDArray[np.int64] | NDArray[np.bool_]]:
    X = np.asarray(info["X"])
    Y = np.asarray(info["Y"])
    n = len(blocks)
    rep = shapely.point_on_surface(blocks)
    quads = []
    for i in range(_NX - 1):
        for j in range(_NY - 1):
            quads.append(
                shapely.Polygon(
                    [(X[i, j], Y[i, j]), (X[i + 1, j], Y[i + 1, j]),
                     (X[i + 1, j + 1], Y[i + 1, j + 1]), (X[i, j + 1], Y[i, j + 1])]
                )
            )
    tree = shapely.STRtree(quads)
    hit = tree.query(rep, predicate="within")
    sb = np.full(n, -1, dtype=np.int64)
    sb[hit[0]] = hit[1]
    core = sb >= 0
    si = np.where(core, sb // (_NY - 1), -1)
    sj = np.where(core, sb % (_NY - 1), -1)
    px, py = shapely.get_x(rep), shapely.get_y(rep)
    div = np.asarray(info["divider"])
    mid = np.asarray(info["midline"])
    west = np.where(core, si < _DIV, px < np.interp(py, div[:, 1], div[:, 0]))
    southern = np.where(core, sj < _JMID, py < np.interp(px, mid[:, 0], mid[:, 1]))
    mixed_label = 4 + np.where(west, 0, 2) + np.where(southern, 1, 0)
    label = mixed_label.copy()

    # west old town: 北关 (north) / 西关 (south), cut along a wandering row with teeth
    cut_row = np.clip(3 + np.cumsum(rng.integers(-1, 2, _DIV)), 2, 6)
    # east old town: 东关 (west part) / 东城 (east part + the new town)
    cut_col = np.clip(8 + np.cumsum(rng.integers(-1, 2, _NY - 1)), 7, 9)
    flip = rng.random(n) < 0.3
    for b in np.flatnonzero(core):
        i, j = int(si[b]), int(sj[b])
        if i < _DIV:
            c = int(cut_row[i])
            north = j > c
            if j in (c, c + 1) and flip[b]:
                north = not north
            label[b] = 0 if north else 1
        elif i < _NEW_TOWN_COL:
            c = int(cut_col[j])
            westish = i < c
            if i in (c - 1, c) and flip[b]:
                westish = not westish
            label[b] = 2 if westish else 3
        else:
            label[b] = 3
    # an exclave: the old cotton-mill quarter in the south-west still belongs to 北关社区
    exclave = core & (si == 2) & (sj == 0)
    label[exclave] = 0
    new_town = core & (si >= _NEW_TOWN_COL)
    # urban villages (城中村): a few lattice-edge blocks still belong to the suburban community
    outline = shapely.Polygon(
        [(X[i, 0], Y[i, 0]) for i in range(_NX)]
        + [(X[_NX - 1, j], Y[_NX - 1, j]) for j in range(1, _NY)]
        + [(X[i, _NY - 1], Y[i, _NY - 1]) for i in range(_NX - 2, -1, -1)]
        + [(X[0, j], Y[0, j]) for j in range(_NY - 2, 0, -1)]
    ).exterior
    edge = shapely.length(shapely.intersection(blocks, outline)) > 1.0
    village = core & edge & ~exclave & ~new_town & (rng.random(n) < 0.12)
    label[village] = mixed_label[village]
    _make_contiguous(blocks, label, keep_apart=exclave)
    return {
        "label": label,
        "core": core,
        "new_town": new_town,
        "urban_village": village,
        "si": si,
        "sj": sj,
    }


def _make_contiguous(
    blocks: NDArray[np.object_], label: NDArray[np.int64], *, keep_apart: NDArray[np.bool_]
) -> None:
    """Hand stray pieces of a community to the neighbour in the same subdistrict, in place.

    The random teeth along community edges can cut a block or two off; the report's messy
    boundaries are interlocking, not scattered. Blocks in ``keep_apart`` (the documented
    exclave) stay where they are.
    """
    tree = shapely.STRtree(blocks)
    a, b = tree.query(blocks, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(blocks[a], blocks[b])) > 0.5
    edges = np.concatenate([np.stack([a[shared], b[shared]]), np.stack([b[shared], a[shared]])],
                           axis=1)
    graph = csr_array((np.ones(edges.shape[1], dtype=np.int8), (edges[0], edges[1])),
                      shape=(len(blocks), len(blocks)))
    sd_of = np.array([sd for _, _, _, sd in COMMUNITIES])
    for _ in range(20):
        changed = False
        for c in range(len(COMMUNITIES)):
            nodes = np.flatnonzero(label == c)
            if not len(nodes):
                continue
            _, part = connected_components(graph[nodes][:, nodes], directed=False)
            comps = sorted((nodes[part == k].tolist() for k in np.unique(part)),
                           key=lambda comp: (-len(comp), min(comp)))
            for comp in comps[1:]:
                if keep_apart[comp].any():
                    continue
                for node in sorted(comp):
                    around = [label[n] for n in graph.indices[graph.indptr[node]:
                                                              graph.indptr[node + 1]]
                              if label[n] != c and sd_of[label[n]] == sd_of[c]]
                    if around:
                        label[node] = np.bincount(around).argmax()
                        changed = True
        if not changed:
            return


@dataclass
class _Buildings:
    cx: list[Array] = field(default_factory=list)
    cy: list[Array] = field(default_factory=list)
    length: list[Array] = field(default_factory=list)
    depth: list[Array] = field(default_factory=list)
    floors: list[NDArray[np.int64]] = field(default_factory=list)
    block: list[NDArray[np.int64]] = field(default_factory=list)
    compound: list[NDArray[np.int64]] = field(default_factory=list)
    group: list[NDArray[np.int64]] = field(default_factory=list)
    address: list[NDArray[np.str_]] = field(default_factory=list)

    def cat(self, name: str) -> NDArray[np.generic]:
        parts = getattr(self, name)
        return np.concatenate(parts) if parts else np.empty(0)


# household groups: where a household lives
_OLD, _NEW, _STREET, _VILLAGE = 0, 1, 2, 3
#: Shares of households in old compounds, new compounds, street buildings and villages. The
#: first three make up the urban communities: 71.9% of ~24,200 households is the ~17,400 that
#: 174 grids of ~100 households hold; the villages of the 4 mixed communities hold the rest.
_GROUP_SHARE = (0.25, 0.33, 0.139, 0.281)


def _boxes_in(
    rng: np.random.Generator,
    poly: shapely.Polygon,
    *,
    length: float,
    depth: float,
    gap_x: float,
    gap_y: float,
    setback: float,
    density: float = 1.0,
    clip: shapely.Geometry | None = None,
    required: bool = False,
) -> Array:
    """Axis-aligned building footprints on a jittered lattice inside ``poly``: (k, 4) centres
    and sizes ``cx, cy, length, depth``."""
    inner = shapely.buffer(poly, -setback)
    if clip is not None:
        inner = shapely.intersection(inner, clip)  # type: ignore[assignment]
    out = np.empty((0, 4))
    if not inner.is_empty:
        minx, miny, maxx, maxy = inner.bounds
        xs = np.arange(minx + length / 2 + rng.uniform(0, gap_x), maxx - length / 2,
                       length + gap_x)
        ys = np.arange(miny + depth / 2 + rng.uniform(0, gap_y), maxy - depth / 2,
                       depth + gap_y)
        cx, cy = (a.ravel() for a in np.meshgrid(xs, ys))
        if len(cx):
            rects = shapely.box(cx - length / 2, cy - depth / 2, cx + length / 2, cy + depth / 2)
            shapely.prepare(inner)
            keep = shapely.contains(inner, rects)
            if density < 1.0:
                keep &= rng.random(len(cx)) < density
            out = np.column_stack(
                [cx[keep], cy[keep], np.full(keep.sum(), length), np.full(keep.sum(), depth)]
            )
    if len(out) == 0 and required:
        # a tiny compound still gets one building: shrink a footprint until it fits
        p = shapely.point_on_surface(poly)
        for k in range(12):
            lx, dy = length * 0.7**k, depth * 0.7**k
            rect = shapely.box(p.x - lx / 2, p.y - dy / 2, p.x + lx / 2, p.y + dy / 2)
            if poly.contains(rect):
                return np.array([[p.x, p.y, lx, dy]])
        raise AssertionError("no room for a building")  # pragma: no cover
    return out


def _random_points(rng: np.random.Generator, poly: shapely.Polygon, n: int) -> Array:
    """``n`` uniform random points inside ``poly`` (rejection sampling in its bounds)."""
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    pts: list[Array] = []
    got = 0
    for _ in range(50):
        cand = np.column_stack(
            [rng.uniform(minx, maxx, 4 * n + 8), rng.uniform(miny, maxy, 4 * n + 8)]
        )
        ok = shapely.contains_xy(poly, cand[:, 0], cand[:, 1])
        pts.append(cand[ok])
        got += int(ok.sum())
        if got >= n:
            break
    allpts = np.concatenate(pts)
    if len(allpts) < n:  # pragma: no cover - only for degenerate slivers
        p = shapely.point_on_surface(poly)
        allpts = np.concatenate([allpts, np.tile([p.x, p.y], (n - len(allpts), 1))])
    return allpts[:n]


def _names_of(rng: np.random.Generator, n: int) -> NDArray[np.str_]:
    sur = np.array([s for s, _ in names.SURNAMES])
    w = np.array([x for _, x in names.SURNAMES])
    chars = np.array(list(names.GIVEN_CHARS))
    s = sur[rng.choice(len(sur), n, p=w / w.sum())]
    g1 = chars[rng.integers(0, len(chars), n)]
    g2 = np.where(rng.random(n) < 0.7, chars[rng.integers(0, len(chars), n)], "")
    return np.char.add(np.char.add(s, g1), g2)


def _phones(rng: np.random.Generator, n: int) -> NDArray[np.str_]:
    second = np.array([3, 5, 7, 8, 9])[rng.integers(0, 5, n)]
    num = 10_000_000_000 + second.astype(np.int64) * 1_000_000_000 + rng.integers(
        0, 1_000_000_000, n
    )
    return num.astype(str)


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


def _id_numbers(rng: np.random.Generator, ages: NDArray[np.int64]) -> NDArray[np.str_]:
    """18-character resident ID numbers (GB 11643) with a valid ISO 7064 check character."""
    n = len(ages)
    year = REFERENCE_YEAR - ages
    date = year * 10_000 + rng.integers(1, 13, n) * 100 + rng.integers(1, 29, n)
    body = int(COUNTY_CODE) * 10**11 + date.astype(np.int64) * 1000 + rng.integers(0, 1000, n)
    digits = (body[:, None] // 10 ** np.arange(16, -1, -1)) % 10
    check = _ID_CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11]
    return np.char.add(body.astype(str), check)


def _seq_ids(prefix: str, n: int, width: int) -> NDArray[np.str_]:
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _largest_remainder(weights: NDArray[np.float64], total: int) -> NDArray[np.int64]:
    raw = weights / weights.sum() * total
    out: NDArray[np.int64] = np.floor(raw).astype(np.int64)
    rest = total - int(out.sum())
    if rest > 0:
        out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def _member_classes(
    age: NDArray[np.int64], status: NDArray[np.str_], poor_health: NDArray[np.bool_]
) -> NDArray[np.str_]:
    """A/B/C/D classes (积分制分类管理) by age, health and job.

    D: aged 75+ or in poor health; C: working away (流动党员) or aged 65-74; B: aged 50-64,
    present and healthy; A: under 50, present (resident or in service) and healthy.
    """
    d = (age >= 75) | poor_health
    c = ~d & ((status == "away") | (age >= 65))
    b = ~d & ~c & (age >= 50)
    return np.where(d, "D", np.where(c, "C", np.where(b, "B", "A")))


def generate_county(
    *,
    seed: int = 0,
    scale: float = 1.0,
    progress: ProgressFn | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Generate the reference county ("xx县", seed 002) in its state before the reform.

    Two subdistricts; four old urban communities with interlocking, unbalanced boundaries
    (北关社区 has a detached exclave, the old cotton-mill quarter, so it is a MultiPolygon);
    东城社区 also holds the new town's compounds; four mixed village-to-residence
    communities around the edge, with a few urban villages (城中村) inside the street
    lattice. 26 named main streets, 73 compounds (33 old, 40 new), 88 stationed units,
    11 volunteer stations, 68,000 residents (24,400 floating) and the party members of the
    report, plus enough in-service members for red-grid work. Grids, staff and assignments
    are returned empty: gisgov produces them.

    Parameters
    ----------
    seed
        Seed of the only random generator used (``numpy.random.default_rng``).
    scale
        1 is the reference county. Population, members and area scale with it (side
        lengths with its square root); the structure (streets, compounds, units, stations,
        communities) stays the same at every scale. 0.1 is the test fixture.
    progress
        Called as ``progress(stage, fraction_done)``.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        Every layer of :data:`gisgov.layers.LAYERS`, conformed, in EPSG:4326. ``compounds``
        carries one extra column, ``new_town`` (bool), marking the new town's compounds that
        a planner moves into a fifth urban community. Members: the community-branch members
        of the 4 old communities (280 at scale 1) have status resident/away; in-service
        members (``unit_id`` set, branch = their unit's branch) live across the urban
        communities and report to the one they live in (``report_community_code``, 双报到);
        members of the mixed communities belong to those communities' branches.

    Raises
    ------
    ValidationError
        If ``seed`` or ``scale`` is out of range.
    """
    _check_options(seed, scale)

    def report(stage: str, frac: float) -> None:
        if progress is not None:
            progress(stage, frac)

    rng = np.random.default_rng(seed)
    report("streets", 0.0)
    net, info = _build_network(rng)
    lines = [shapely.LineString(c) for c in net.coords]
    blocks = np.asarray(shapely.get_parts(shapely.polygonize(lines)))
    cls = _classify_blocks(rng, blocks, info)
    label = np.asarray(cls["label"], dtype=np.int64)
    urban_block = label < _URBAN
    # one uniform scaling makes the urban area exact; the same arithmetic on the same floats
    # keeps every shared vertex shared
    factor = float(np.sqrt(REFERENCE["urban_area_km2"] * 1e6 * scale
                           / shapely.area(blocks[urban_block]).sum()))
    lon0, lat0 = CENTRE_LONLAT
    zone = int((lon0 + 180.0) // 6.0) + 1
    utm = pyproj.CRS.from_epsg(32600 + zone)
    e0, n0 = pyproj.Transformer.from_crs(4326, utm, always_xy=True).transform(lon0, lat0)
    offset = np.array([e0, n0])

    def to_utm(c: Array) -> Array:
        return np.asarray(c * factor + offset, dtype=np.float64)

    blocks = shapely.transform(blocks, to_utm)
    street_geoms = np.array([shapely.LineString(to_utm(c)) for c in net.coords], dtype=object)
    width = _WIDTH * factor
    g = float(np.clip(np.sqrt(scale), 0.45, 1.0))  # building size; blocks shrink faster
    n_blocks = len(blocks)
    rep = shapely.point_on_surface(blocks)
    rep_xy = shapely.get_coordinates(rep)
    centre_xy = rep_xy[urban_block].mean(axis=0)
    dist = np.hypot(*(rep_xy - centre_xy).T)
    area = shapely.area(blocks)
    new_town = np.asarray(cls["new_town"], dtype=bool)

    # ---- compounds -------------------------------------------------------------------
    report("compounds", 0.15)
    cand = np.flatnonzero(urban_block & ~new_town)
    w_old = np.exp(-dist[cand] / (0.3 * width))
    old_blocks = rng.choice(cand, len(names.OLD_COMPOUNDS), replace=False, p=w_old / w_old.sum())
    cand = np.setdiff1d(np.flatnonzero(urban_block), old_blocks)
    w_new = np.where(new_town[cand], 6.0, 1.0) * (0.3 + dist[cand] / width)
    new_blocks = rng.choice(cand, len(names.NEW_COMPOUNDS), replace=False, p=w_new / w_new.sum())
    comp_block = np.concatenate([old_blocks, new_blocks])
    n_comp = len(comp_block)
    comp_old = np.arange(n_comp) < len(old_blocks)
    comp_geom = blocks[comp_block].copy()
    big = area[comp_block] > 1.4 * np.median(area[urban_block])
    halve = big & (rng.random(n_comp) < 0.5)
    for hk in np.flatnonzero(halve):
        k = int(hk)
        # compounds that are part of a block: the rest of the block is shops or offices
        minx, miny, maxx, maxy = comp_geom[k].bounds
        if maxx - minx > maxy - miny:
            mx = (minx + maxx) / 2
            box = shapely.box(minx, miny, mx, maxy) if rng.random() < 0.5 else shapely.box(
                mx, miny, maxx, maxy)
        else:
            my = (miny + maxy) / 2
            box = shapely.box(minx, miny, maxx, my) if rng.random() < 0.5 else shapely.box(
                minx, my, maxx, maxy)
        comp_geom[k] = shapely.intersection(comp_geom[k], box)
    managed = np.where(comp_old, False, rng.random(n_comp) < 0.92)
    old_managed = rng.choice(len(old_blocks), len(old_blocks) - int(REFERENCE[
        "old_compounds_unmanaged"]), replace=False)
    managed[old_managed] = True
    comp_names = np.concatenate(
        [rng.permutation(np.array(names.OLD_COMPOUNDS)),
         rng.permutation(np.array(names.NEW_COMPOUNDS))]
    )

    # ---- units and land use -----------------------------------------------------------
    rest = np.setdiff1d(np.flatnonzero(urban_block), comp_block)
    n_big_units = 18
    unit_blocks = rng.choice(rest, n_big_units, replace=False)
    street_blocks = np.setdiff1d(rest, unit_blocks)
    village_blocks = np.flatnonzero(~urban_block)
    ring_village = village_blocks[rng.random(len(village_blocks)) < 0.75]
    for c in range(_URBAN, len(COMMUNITIES)):  # every suburban community has a village
        mine = village_blocks[label[village_blocks] == c]
        if len(mine) and not np.isin(mine, ring_village).any():
            ring_village = np.append(ring_village, mine[0])
    ring_village = np.sort(ring_village)

    # addresses: the nearest main street names a compound or block
    main_idx = np.flatnonzero(np.array(net.cls) == "main")
    tree = shapely.STRtree(street_geoms[main_idx])
    near = tree.query_nearest(rep, all_matches=False)
    block_street = np.empty(n_blocks, dtype=object)
    block_street[near[0]] = np.array(net.name, dtype=object)[main_idx][near[1]]
    villages = list(np.asarray(info["villages"]))

    # ---- buildings ----------------------------------------------------------------------
    report("buildings", 0.3)
    bld = _Buildings()

    def add(boxes: Array, floors: NDArray[np.int64], block: int, compound: int, group: int,
            address: NDArray[np.str_]) -> None:
        bld.cx.append(boxes[:, 0])
        bld.cy.append(boxes[:, 1])
        bld.length.append(boxes[:, 2])
        bld.depth.append(boxes[:, 3])
        bld.floors.append(floors)
        bld.block.append(np.full(len(boxes), block))
        bld.compound.append(np.full(len(boxes), compound))
        bld.group.append(np.full(len(boxes), group))
        bld.address.append(address)

    next_no: dict[str, int] = {}

    def door_numbers(street: str, n: int) -> NDArray[np.int64]:
        # house numbers grow along each street, so no two addresses coincide
        steps = rng.integers(1, 4, n) * 2
        nums = next_no.get(street, int(rng.integers(1, 9))) + np.cumsum(steps) - steps[0]
        next_no[street] = int(nums[-1]) + 2
        return np.asarray(nums, dtype=np.int64)

    for k in range(n_comp):
        b = int(comp_block[k])
        if comp_old[k]:
            boxes = _boxes_in(rng, comp_geom[k], length=rng.uniform(40, 60) * g, depth=11 * g,
                              gap_x=8 * g, gap_y=18 * g, setback=8 * g, required=True)
            floors = rng.integers(4, 8, len(boxes))
            grp = _OLD
        else:
            high = rng.random() < 0.7
            boxes = _boxes_in(rng, comp_geom[k], length=(30 if high else 40) * g,
                              depth=(17 if high else 13) * g, gap_x=14 * g,
                              gap_y=(34 if high else 22) * g, setback=10 * g, required=True)
            floors = rng.integers(18, 34, len(boxes)) if high else rng.integers(6, 12, len(boxes))
            grp = _NEW
        num = int(door_numbers(str(block_street[b]), 1)[0])
        addr = np.char.add(f"{block_street[b]}{num}号",
                           np.char.add(np.arange(1, len(boxes) + 1).astype(str), "号楼"))
        add(boxes, floors.astype(np.int64), b, k, grp, addr)
    for sb in street_blocks:
        b = int(sb)
        boxes = _boxes_in(rng, blocks[b], length=18 * g, depth=12 * g, gap_x=10 * g,
                          gap_y=14 * g, setback=4 * g, density=0.12)
        if len(boxes) == 0:
            continue
        nums = door_numbers(str(block_street[b]), len(boxes))
        addr = np.char.add(np.char.add(str(block_street[b]), nums.astype(str)), "号")
        add(boxes, rng.integers(2, 7, len(boxes)).astype(np.int64), b, -1, _STREET, addr)
    for n_v, b in enumerate(ring_village):
        vname = str(villages[n_v % len(villages)])
        if n_v >= len(villages):
            vname += "新村"
        core = bool(np.asarray(cls["core"])[b])
        radius = (0.45 if core else 0.3) * np.sqrt(area[b])
        cx, cy = rep_xy[b]
        disk = shapely.Point(cx, cy).buffer(min(radius, 100 * np.sqrt(scale)))
        boxes = _boxes_in(rng, blocks[b], length=12 * g, depth=10 * g, gap_x=5 * g,
                          gap_y=6 * g, setback=10 * g, density=0.85, clip=disk)
        if len(boxes) == 0:
            continue
        addr = np.char.add(np.char.add(vname, np.arange(1, len(boxes) + 1).astype(str)), "号")
        add(boxes, rng.integers(1, 4, len(boxes)).astype(np.int64), int(b), -1, _VILLAGE, addr)

    bcx, bcy = bld.cat("cx").astype(float), bld.cat("cy").astype(float)
    blen, bdep = bld.cat("length").astype(float), bld.cat("depth").astype(float)
    bfloors = bld.cat("floors").astype(np.int64)
    bblock = bld.cat("block").astype(np.int64)
    bcomp = bld.cat("compound").astype(np.int64)
    bgroup = bld.cat("group").astype(np.int64)
    baddr = bld.cat("address").astype(str)
    n_bld = len(bcx)
    bld_geom = shapely.box(bcx - blen / 2, bcy - bdep / 2, bcx + blen / 2, bcy + bdep / 2)
    bld_ids = _seq_ids("LD", n_bld, 6)

    # ---- households -----------------------------------------------------------------------
    report("households", 0.5)
    residents = round(REFERENCE["residents"] * scale)
    n_hh = round(residents / 2.81)
    cap = blen * bdep * bfloors
    hh_bld_parts = []
    group_totals = _largest_remainder(np.array(_GROUP_SHARE), n_hh)
    for grp in (_OLD, _NEW, _STREET, _VILLAGE):
        idx = np.flatnonzero(bgroup == grp)
        counts = rng.multinomial(int(group_totals[grp]), cap[idx] / cap[idx].sum())
        hh_bld_parts.append(np.repeat(idx, counts))
    hh_bld = np.sort(np.concatenate(hh_bld_parts))
    first = np.searchsorted(hh_bld, hh_bld, side="left")
    rank = np.arange(n_hh) - first
    per_unit = bfloors[hh_bld] * 2
    unit_no = rank // per_unit + 1
    floor_no = (rank % per_unit) // 2 + 1
    room = rank % 2 + 1
    hh_addr = pd.Series(baddr[hh_bld]) + pd.Series(unit_no).astype(str) + "单元" + (
        pd.Series(floor_no * 100 + room).astype(str)) + "室"
    hx = bcx[hh_bld] + rng.uniform(-0.4, 0.4, n_hh) * blen[hh_bld]
    hy = bcy[hh_bld] + rng.uniform(-0.4, 0.4, n_hh) * bdep[hh_bld]
    hgroup = bgroup[hh_bld]
    hh_label = np.asarray(label[bblock[hh_bld]], dtype=np.int64)
    size = rng.choice(np.arange(1, 7), n_hh, p=[0.15, 0.31, 0.26, 0.17, 0.08, 0.03])
    diff = residents - int(size.sum())
    if diff > 0:  # make the resident total exact
        size[rng.choice(n_hh, diff, replace=False)] += 1
    elif diff < 0:
        size[rng.choice(np.flatnonzero(size > 1), -diff, replace=False)] -= 1
    floating_total = round(REFERENCE["floating"] * scale)
    # tenants (floating residents) live mostly in old compounds and street buildings
    w_float = np.array([3.0, 1.0, 3.0, 0.7])[hgroup]
    order = np.argsort(rng.exponential(1.0, n_hh) / w_float, kind="stable")
    cum = np.cumsum(size[order])
    floating = np.zeros(n_hh, dtype=np.int64)
    full = cum <= floating_total
    floating[order[full]] = size[order[full]]
    k_part = int(full.sum())
    if k_part < n_hh:
        floating[order[k_part]] = floating_total - (int(cum[k_part - 1]) if k_part else 0)
    p_elderly = np.array([0.30, 0.13, 0.22, 0.26])[hgroup]
    elderly = rng.random(n_hh) < p_elderly
    head_age = np.where(elderly, rng.integers(60, 91, n_hh), rng.integers(24, 60, n_hh))
    hh_ids = _seq_ids("H", n_hh, 7)

    # ---- members ------------------------------------------------------------------------
    report("members", 0.7)
    hh_by_comm = [np.flatnonzero(hh_label == c) for c in range(len(COMMUNITIES))]
    n_old = round(REFERENCE["old_community_members"] * scale)
    old_sizes = _largest_remainder(np.array(OLD_BRANCH_SIZES, dtype=float), n_old)
    mixed_sizes = np.maximum(np.round(np.array(MIXED_BRANCH_SIZES) * scale), 1).astype(np.int64)
    mixed_sizes[0] = max(int(mixed_sizes[0]), 51)
    n_service = round(REFERENCE["in_service_members"] * scale)

    comm_sizes = np.concatenate([old_sizes, mixed_sizes])
    m_comm = np.repeat(np.arange(len(COMMUNITIES)), comm_sizes)  # branch community
    m_home = np.concatenate(
        [rng.choice(hh_by_comm[c], int(comm_sizes[c])) for c in range(len(COMMUNITIES))]
    ).astype(np.int64)
    n_comm_members = len(m_comm)
    age = rng.integers(23, 50, n_comm_members)
    status = np.full(n_comm_members, "resident", dtype=object)
    # the 4 old communities: exactly 102/280 aged 50+ and 89/280 away at scale 1
    old_idx = np.flatnonzero(m_comm < _URBAN)
    n50 = round(REFERENCE["old_community_members_50plus"] * scale)
    n_away = round(REFERENCE["old_community_members_away"] * scale)
    perm = rng.permutation(old_idx)
    older, younger = perm[:n50], perm[n50:]
    age[older] = rng.choice(np.arange(50, 91), len(older),
                            p=_age_profile(np.arange(50, 91)))
    n_away_old = min(round(n_away * 14 / 89), len(older))
    away = np.concatenate([older[:n_away_old], younger[: n_away - n_away_old]])
    age[older[:n_away_old]] = rng.integers(50, 60, n_away_old)
    status[away] = "away"
    mix_idx = np.flatnonzero(m_comm >= _URBAN)
    age[mix_idx] = rng.choice(np.arange(25, 91), len(mix_idx),
                              p=_age_profile(np.arange(25, 91), young=0.6))
    status[mix_idx[rng.random(len(mix_idx)) < 0.18]] = "away"
    urban_hh = np.flatnonzero(hh_label < _URBAN)
    s_home = rng.choice(urban_hh, n_service)
    s_age = rng.integers(23, 60, n_service)
    units_kind = np.array([k for k, _ in names.UNITS])
    w_unit = np.select(
        [units_kind == "医院", units_kind == "学校", units_kind == "机关"], [8.0, 4.0, 3.0], 1.5
    )
    s_unit = rng.choice(len(names.UNITS), n_service, p=w_unit / w_unit.sum())

    m_home_all = np.concatenate([m_home, s_home])
    m_age = np.concatenate([age, s_age]).astype(np.int64)
    m_status = np.concatenate([status.astype(str), np.full(n_service, "in_service")])
    poor = rng.random(len(m_age)) < np.where(m_age >= 60, 0.12, 0.02)
    m_class = _member_classes(m_age, m_status, poor)
    n_m = len(m_age)
    m_ids = _seq_ids("DY", n_m, 6)

    # ---- codes, branches, units, stations --------------------------------------------------
    report("organisations", 0.8)
    sd_codes = [COUNTY_CODE + c for c, _ in SUBDISTRICTS]
    comm_codes = [sd_codes[sd] + c for c, _, _, sd in COMMUNITIES]
    unit_ids = _seq_ids("DW", len(names.UNITS), 3)
    # big units sit on their own blocks, the others in street blocks (ground floors, offices)
    unit_block = np.concatenate(
        [unit_blocks, rng.choice(street_blocks, len(names.UNITS) - n_big_units)]
    )
    unit_xy = np.vstack(
        [rep_xy[unit_blocks]]
        + [_random_points(rng, blocks[b], 1) for b in unit_block[n_big_units:]]
    )
    unit_comm = label[unit_block]
    sd_branch = [f"DGW{c}" for c in sd_codes]
    comm_branch = [f"DZB{c}" for c in comm_codes]
    unit_branch = np.char.add("DZB", unit_ids)
    comm_sd = np.array([sd for _, _, _, sd in COMMUNITIES])
    m_branch = np.concatenate(
        [np.array(comm_branch)[m_comm], unit_branch[s_unit]]
    )
    m_unit = np.concatenate([np.full(n_comm_members, None, dtype=object),
                             unit_ids[s_unit].astype(object)])
    # 双报到: in-service members report to the community they live in (no random draw, so
    # every calibrated figure stays as it was).
    m_report = np.concatenate([np.full(n_comm_members, None, dtype=object),
                               np.array(comm_codes, dtype=object)[hh_label[s_home]]])

    st_comm = np.repeat(np.arange(_URBAN), VOLUNTEER_STATIONS)
    urban_blocks_by = [np.flatnonzero(label == c) for c in range(len(COMMUNITIES))]
    st_block = np.array([rng.choice(urban_blocks_by[c]) for c in st_comm]
                        + [rng.choice(urban_blocks_by[c]) for c in range(len(COMMUNITIES))])
    st_xy = np.vstack([_random_points(rng, blocks[b], 1) for b in st_block])
    st_comm_all = label[st_block]
    st_kind = ["volunteer"] * len(st_comm) + ["service_center"] * len(COMMUNITIES)
    ordinal = np.concatenate([np.arange(1, n + 1) for n in VOLUNTEER_STATIONS])
    st_name = [f"{COMMUNITIES[c][1]}志愿服务站{o}号" for c, o in zip(st_comm, ordinal, strict=True)]
    st_name += [f"{n}党群服务中心" for _, n, _, _ in COMMUNITIES]

    # ---- kin links (就亲): ~9% of households have a member relative in their community ------
    kin = np.full(n_hh, None, dtype=object)
    m_home_comm = hh_label[m_home_all]
    for c in range(len(COMMUNITIES)):
        members_here = np.flatnonzero(m_home_comm == c)
        hh_here = hh_by_comm[c]
        if len(members_here) == 0 or len(hh_here) == 0:
            continue
        chosen = hh_here[rng.random(len(hh_here)) < 0.09]
        kin[chosen] = m_ids[rng.choice(members_here, len(chosen))]

    # ---- frames -------------------------------------------------------------------------
    report("frames", 0.9)
    to_ll = pyproj.Transformer.from_crs(utm, 4326, always_xy=True)

    def ll(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        def f(c: Array) -> Array:
            x, y = to_ll.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        return np.asarray(shapely.transform(geoms, f))

    def frame(data: dict[str, object], geoms: NDArray[np.object_] | None, n: int,
              name: str) -> gpd.GeoDataFrame:
        geo = gpd.GeoSeries(ll(geoms) if geoms is not None else [None] * n, crs=STORAGE_CRS)
        return conform(name, gpd.GeoDataFrame(data, geometry=geo.values, crs=STORAGE_CRS))

    sd_geom = np.array([shapely.coverage_union_all(blocks[comm_sd[label] == s])
                        for s in range(len(SUBDISTRICTS))], dtype=object)
    comm_geom = np.array([shapely.coverage_union_all(blocks[label == c])
                          for c in range(len(COMMUNITIES))], dtype=object)
    street_ids = _seq_ids("DL", len(street_geoms), 5)
    foot_geoms, foot_ids = _footways(rng, comp_geom, street_geoms, len(street_ids))

    out: dict[str, gpd.GeoDataFrame] = {}
    out["subdistricts"] = frame(
        {"code": sd_codes, "name": [n for _, n in SUBDISTRICTS]}, sd_geom, 2, "subdistricts")
    out["streets"] = frame(
        {"id": np.concatenate([street_ids, foot_ids]),
         "name": list(net.name) + [None] * len(foot_ids),
         "class": list(net.cls) + ["footway"] * len(foot_ids)},
        np.concatenate([street_geoms, foot_geoms]), 0, "streets")
    out["communities"] = frame(
        {"code": comm_codes, "name": [n for _, n, _, _ in COMMUNITIES],
         "kind": [k for _, _, k, _ in COMMUNITIES],
         "subdistrict_code": [sd_codes[sd] for _, _, _, sd in COMMUNITIES],
         "boundary_text": [f"{n[:2]}片区，四至不清" if k == "urban" else None
                           for _, n, k, _ in COMMUNITIES]},
        comm_geom, 0, "communities")
    comp_ids = _seq_ids("XQ", n_comp, 3)
    out["compounds"] = frame(
        {"id": comp_ids, "name": comp_names,
         "community_code": np.array(comm_codes)[label[comp_block]],
         "old": comp_old, "property_managed": managed,
         "new_town": new_town[comp_block]},
        comp_geom, 0, "compounds")
    out["buildings"] = frame(
        {"id": bld_ids,
         "compound_id": pd.Series(comp_ids[np.maximum(bcomp, 0)], dtype=object).where(
             bcomp >= 0, None),
         "address": baddr, "floors": bfloors},
        bld_geom, 0, "buildings")
    out["households"] = frame(
        {"id": hh_ids, "building_id": bld_ids[hh_bld], "address": hh_addr.to_numpy(),
         "head_name": _names_of(rng, n_hh), "phone": _phones(rng, n_hh),
         "id_number": _id_numbers(rng, head_age), "size": size, "floating": floating,
         "elderly": elderly, "low_income": rng.random(n_hh) < 0.03,
         "disabled": rng.random(n_hh) < 0.02, "kin_member_id": kin},
        np.asarray(shapely.points(hx, hy)), 0, "households")
    hh_geom = out["households"].geometry.values
    out["members"] = frame(
        {"id": m_ids, "name": _names_of(rng, n_m), "phone": _phones(rng, n_m),
         "class": m_class, "age": m_age, "status": m_status, "unit_id": m_unit,
         "branch_id": m_branch, "report_community_code": m_report},
        None, n_m, "members")
    out["members"] = out["members"].set_geometry(
        gpd.GeoSeries(np.asarray(hh_geom)[m_home_all], crs=STORAGE_CRS).values)
    out["branches"] = frame(
        {"id": sd_branch + comm_branch + list(unit_branch),
         "name": [f"{n}党工委" for _, n in SUBDISTRICTS]
         + [f"{n}党支部" for _, n, _, _ in COMMUNITIES]
         + [f"{n}党支部" for _, n in names.UNITS],
         "level": ["subdistrict"] * 2 + ["community"] * len(COMMUNITIES)
         + ["unit"] * len(names.UNITS),
         "community_code": [None, None, *comm_codes, *list(np.array(comm_codes)[unit_comm])],
         "parent_id": [None, None] + [sd_branch[sd] for sd in comm_sd]
         + [sd_branch[comm_sd[c]] for c in unit_comm]},
        None, 2 + len(COMMUNITIES) + len(names.UNITS), "branches")
    out["units"] = frame(
        {"id": unit_ids, "name": [n for _, n in names.UNITS], "kind": units_kind,
         "community_code": np.array(comm_codes)[unit_comm]},
        np.asarray(shapely.points(unit_xy)), 0, "units")
    out["stations"] = frame(
        {"id": _seq_ids("ZD", len(st_block), 3), "name": st_name, "kind": st_kind,
         "community_code": np.array(comm_codes)[st_comm_all]},
        np.asarray(shapely.points(st_xy)), 0, "stations")
    result = {name: out.get(name, empty_layer(name)) for name in LAYERS}
    report("done", 1.0)
    return result


def _age_profile(ages: NDArray[np.int64], young: float = 0.0) -> NDArray[np.float64]:
    """Weights over ``ages`` for older party members: most in their 50s-60s, a tail to 90."""
    w = np.exp(-((ages - 62.0) / 11.0) ** 2) + young * (ages < 50)
    return np.asarray(w / w.sum(), dtype=np.float64)


def _footways(
    rng: np.random.Generator,
    compounds: NDArray[np.object_],
    streets: NDArray[np.object_],
    start_id: int,
) -> tuple[NDArray[np.object_], NDArray[np.str_]]:
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
        targets = _random_points(rng, poly.buffer(-0.2 * np.sqrt(poly.area) / 2), 2)
        for start, end in zip(on_street[rng.permutation(len(on_street))[:2]], targets,
                              strict=False):
            line = shapely.LineString([start, end])
            if poly.covers(line):
                geoms.append(line)
    ids = np.char.add("DL", np.char.zfill(np.arange(start_id + 1, start_id + len(geoms) + 1)
                                          .astype(str), 5))
    return np.array(geoms, dtype=object), ids


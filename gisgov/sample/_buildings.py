"""Buildings: blocks of flats in compounds, shop houses along streets, village houses.

Footprints are axis-aligned boxes on a jittered lattice inside each block (or compound), so
they never overlap and always sit inside their block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray

from gisgov.sample._compounds import Compounds, LandUse
from gisgov.sample._draw import seq_ids
from gisgov.sample._reference import NEW, OLD, STREET, VILLAGE, Array
from gisgov.sample._site import Site

__all__ = ["Buildings", "place_buildings"]


@dataclass
class Buildings:
    """All buildings of a district as parallel arrays (metres, UTM)."""

    cx: Array
    cy: Array
    length: Array
    depth: Array
    floors: NDArray[np.int64]
    block: NDArray[np.int64]
    compound: NDArray[np.int64]  # index into Compounds, -1 outside compounds
    group: NDArray[np.int64]  # OLD, NEW, STREET or VILLAGE
    address: NDArray[np.str_]
    ids: NDArray[np.str_] = field(default_factory=lambda: np.empty(0, dtype=str))

    def geoms(self) -> NDArray[np.object_]:
        return np.asarray(shapely.box(self.cx - self.length / 2, self.cy - self.depth / 2,
                                      self.cx + self.length / 2, self.cy + self.depth / 2))


@dataclass
class _Parts:
    """Buildings collected block by block before they are concatenated."""

    boxes: list[Array] = field(default_factory=list)
    floors: list[NDArray[np.int64]] = field(default_factory=list)
    block: list[NDArray[np.int64]] = field(default_factory=list)
    compound: list[NDArray[np.int64]] = field(default_factory=list)
    group: list[NDArray[np.int64]] = field(default_factory=list)
    address: list[NDArray[np.str_]] = field(default_factory=list)

    def add(self, boxes: Array, floors: NDArray[np.int64], block: int, compound: int,
            group: int, address: NDArray[np.str_]) -> None:
        self.boxes.append(boxes)
        self.floors.append(floors)
        self.block.append(np.full(len(boxes), block))
        self.compound.append(np.full(len(boxes), compound))
        self.group.append(np.full(len(boxes), group))
        self.address.append(address)

    def done(self, id_start: int) -> Buildings:
        def cat(parts: list[NDArray[np.generic]]) -> NDArray[np.generic]:
            return np.concatenate(parts) if parts else np.empty(0)

        box = np.concatenate(self.boxes) if self.boxes else np.empty((0, 4))
        out = Buildings(
            cx=box[:, 0].astype(float), cy=box[:, 1].astype(float),
            length=box[:, 2].astype(float), depth=box[:, 3].astype(float),
            floors=cat(self.floors).astype(np.int64),  # type: ignore[arg-type]
            block=cat(self.block).astype(np.int64),  # type: ignore[arg-type]
            compound=cat(self.compound).astype(np.int64),  # type: ignore[arg-type]
            group=cat(self.group).astype(np.int64),  # type: ignore[arg-type]
            address=cat(self.address).astype(str),  # type: ignore[arg-type]
        )
        out.ids = seq_ids("LD", len(out.cx), 6, id_start)
        return out


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


class _DoorNumbers:
    """House numbers grow along each street, so no two addresses coincide."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.next_no: dict[str, int] = {}

    def __call__(self, street: str, n: int) -> NDArray[np.int64]:
        steps = self.rng.integers(1, 4, n) * 2
        nums = self.next_no.get(street, int(self.rng.integers(1, 9))) + np.cumsum(steps) - steps[0]
        self.next_no[street] = int(nums[-1]) + 2
        return np.asarray(nums, dtype=np.int64)


def _compound_buildings(rng: np.random.Generator, site: Site, comps: Compounds,
                        land: LandUse, doors: _DoorNumbers, parts: _Parts, prefix: str) -> None:
    g = site.g
    for k in range(len(comps)):
        b = int(comps.block[k])
        if comps.old[k]:
            boxes = _boxes_in(rng, comps.geom[k], length=rng.uniform(40, 60) * g, depth=11 * g,
                              gap_x=8 * g, gap_y=18 * g, setback=8 * g, required=True)
            floors = rng.integers(4, 8, len(boxes))
            grp = OLD
        else:
            high = rng.random() < 0.7
            boxes = _boxes_in(rng, comps.geom[k], length=(30 if high else 40) * g,
                              depth=(17 if high else 13) * g, gap_x=14 * g,
                              gap_y=(34 if high else 22) * g, setback=10 * g, required=True)
            floors = rng.integers(18, 34, len(boxes)) if high else rng.integers(6, 12, len(boxes))
            grp = NEW
        street = str(land.block_street[b])
        num = int(doors(street, 1)[0])
        addr = np.char.add(f"{prefix}{street}{num}号",
                           np.char.add(np.arange(1, len(boxes) + 1).astype(str), "号楼"))
        parts.add(boxes, floors.astype(np.int64), b, k, grp, addr)


def _street_buildings(rng: np.random.Generator, site: Site, land: LandUse,
                      doors: _DoorNumbers, parts: _Parts, prefix: str) -> None:
    g = site.g
    for sb in land.street_blocks:
        b = int(sb)
        boxes = _boxes_in(rng, site.blocks[b], length=18 * g, depth=12 * g, gap_x=10 * g,
                          gap_y=14 * g, setback=4 * g, density=0.12)
        if len(boxes) == 0:
            continue
        street = str(land.block_street[b])
        nums = doors(street, len(boxes))
        addr = np.char.add(np.char.add(prefix + street, nums.astype(str)), "号")
        parts.add(boxes, rng.integers(2, 7, len(boxes)).astype(np.int64), b, -1, STREET, addr)


def _village_buildings(rng: np.random.Generator, site: Site, land: LandUse, parts: _Parts,
                       prefix: str) -> None:
    g, villages = site.g, site.lat.villages
    for n_v, b in enumerate(land.ring_village):
        vname = str(villages[n_v % len(villages)])
        if n_v >= len(villages):
            vname += "新村"
        core = bool(site.labels.core[b])
        radius = (0.45 if core else 0.3) * np.sqrt(site.area[b])
        cx, cy = site.rep_xy[b]
        disk = shapely.Point(cx, cy).buffer(min(radius, 100 * np.sqrt(site.scale)))
        boxes = _boxes_in(rng, site.blocks[b], length=12 * g, depth=10 * g, gap_x=5 * g,
                          gap_y=6 * g, setback=10 * g, density=0.85, clip=disk)
        if len(boxes) == 0:
            continue
        addr = np.char.add(np.char.add(prefix + vname, np.arange(1, len(boxes) + 1).astype(str)),
                           "号")
        parts.add(boxes, rng.integers(1, 4, len(boxes)).astype(np.int64), int(b), -1, VILLAGE,
                  addr)


def place_buildings(rng: np.random.Generator, site: Site, comps: Compounds, land: LandUse,
                    *, id_start: int = 0, address_prefix: str = "") -> Buildings:
    """Compound flats, then street buildings, then village houses (ids in that order)."""
    parts = _Parts()
    doors = _DoorNumbers(rng)
    _compound_buildings(rng, site, comps, land, doors, parts, address_prefix)
    _street_buildings(rng, site, land, doors, parts, address_prefix)
    _village_buildings(rng, site, land, parts, address_prefix)
    return parts.done(id_start)

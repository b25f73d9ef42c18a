"""Which community each block of a district belongs to, before the reform.

Blocks are the faces of the street network; communities and subdistricts are unions of
blocks, so they tile each other exactly. The labels reproduce the report's messy boundaries:
interlocking teeth between the old urban communities, one exclave, a few urban villages
(城中村) left with their suburban community, and the new town inside 东城社区.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from gisgov.sample._network import Lattice
from gisgov.sample._reference import COMMUNITIES, DIV, JMID, NEW_TOWN_COL, NX, NY

__all__ = ["BlockLabels", "classify_blocks"]


@dataclass
class BlockLabels:
    """Per block: community index (into ``COMMUNITIES``) and where it lies."""

    label: NDArray[np.int64]
    core: NDArray[np.bool_]  # inside the main-street lattice
    new_town: NDArray[np.bool_]
    urban_village: NDArray[np.bool_]
    si: NDArray[np.int64]  # lattice cell (column, row), -1 outside the lattice
    sj: NDArray[np.int64]


def _lattice_cells(blocks: NDArray[np.object_], lat: Lattice) -> NDArray[np.int64]:
    """Index ``i * (NY-1) + j`` of the lattice cell each block lies in, -1 for the suburbs."""
    X, Y = lat.X, lat.Y
    quads = []
    for i in range(NX - 1):
        for j in range(NY - 1):
            quads.append(
                shapely.Polygon(
                    [(X[i, j], Y[i, j]), (X[i + 1, j], Y[i + 1, j]),
                     (X[i + 1, j + 1], Y[i + 1, j + 1]), (X[i, j + 1], Y[i, j + 1])]
                )
            )
    tree = shapely.STRtree(quads)
    hit = tree.query(shapely.point_on_surface(blocks), predicate="within")
    sb = np.full(len(blocks), -1, dtype=np.int64)
    sb[hit[0]] = hit[1]
    return sb


def _old_town_labels(
    rng: np.random.Generator, label: NDArray[np.int64], si: NDArray[np.int64],
    sj: NDArray[np.int64], core: NDArray[np.bool_],
) -> None:
    """Split the lattice among the 4 old urban communities along wandering, toothed cuts."""
    # west old town: 北关 (north) / 西关 (south), cut along a wandering row with teeth
    cut_row = np.clip(3 + np.cumsum(rng.integers(-1, 2, DIV)), 2, 6)
    # east old town: 东关 (west part) / 东城 (east part + the new town)
    cut_col = np.clip(8 + np.cumsum(rng.integers(-1, 2, NY - 1)), 7, 9)
    flip = rng.random(len(label)) < 0.3
    for b in np.flatnonzero(core):
        i, j = int(si[b]), int(sj[b])
        if i < DIV:
            c = int(cut_row[i])
            north = j > c
            if j in (c, c + 1) and flip[b]:
                north = not north
            label[b] = 0 if north else 1
        elif i < NEW_TOWN_COL:
            c = int(cut_col[j])
            westish = i < c
            if i in (c - 1, c) and flip[b]:
                westish = not westish
            label[b] = 2 if westish else 3
        else:
            label[b] = 3


def _lattice_outline(lat: Lattice) -> shapely.LinearRing:
    X, Y = lat.X, lat.Y
    return shapely.Polygon(
        [(X[i, 0], Y[i, 0]) for i in range(NX)]
        + [(X[NX - 1, j], Y[NX - 1, j]) for j in range(1, NY)]
        + [(X[i, NY - 1], Y[i, NY - 1]) for i in range(NX - 2, -1, -1)]
        + [(X[0, j], Y[0, j]) for j in range(NY - 2, 0, -1)]
    ).exterior


def classify_blocks(
    rng: np.random.Generator, blocks: NDArray[np.object_], lat: Lattice
) -> BlockLabels:
    """Label every block with its community before the reform."""
    n = len(blocks)
    sb = _lattice_cells(blocks, lat)
    core = sb >= 0
    si = np.where(core, sb // (NY - 1), -1)
    sj = np.where(core, sb % (NY - 1), -1)
    rep = shapely.point_on_surface(blocks)
    px, py = shapely.get_x(rep), shapely.get_y(rep)
    div, mid = lat.divider, lat.midline
    west = np.where(core, si < DIV, px < np.interp(py, div[:, 1], div[:, 0]))
    southern = np.where(core, sj < JMID, py < np.interp(px, mid[:, 0], mid[:, 1]))
    mixed_label = 4 + np.where(west, 0, 2) + np.where(southern, 1, 0)
    label = mixed_label.copy()
    _old_town_labels(rng, label, si, sj, core)
    # an exclave: the old cotton-mill quarter in the south-west still belongs to 北关社区
    exclave = core & (si == 2) & (sj == 0)
    label[exclave] = 0
    new_town = core & (si >= NEW_TOWN_COL)
    # urban villages (城中村): a few lattice-edge blocks still belong to the suburban community
    edge = shapely.length(shapely.intersection(blocks, _lattice_outline(lat))) > 1.0
    village = core & edge & ~exclave & ~new_town & (rng.random(n) < 0.12)
    label[village] = mixed_label[village]
    _make_contiguous(blocks, label, keep_apart=exclave)
    return BlockLabels(label=label, core=core, new_town=new_town, urban_village=village,
                       si=si, sj=sj)


def _block_graph(blocks: NDArray[np.object_]) -> csr_array:
    """Adjacency of blocks sharing an edge (not just a corner)."""
    tree = shapely.STRtree(blocks)
    a, b = tree.query(blocks, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(blocks[a], blocks[b])) > 0.5
    edges = np.concatenate([np.stack([a[shared], b[shared]]), np.stack([b[shared], a[shared]])],
                           axis=1)
    return csr_array((np.ones(edges.shape[1], dtype=np.int8), (edges[0], edges[1])),
                     shape=(len(blocks), len(blocks)))


def _make_contiguous(
    blocks: NDArray[np.object_], label: NDArray[np.int64], *, keep_apart: NDArray[np.bool_]
) -> None:
    """Hand stray pieces of a community to the neighbour in the same subdistrict, in place.

    The random teeth along community edges can cut a block or two off; the report's messy
    boundaries are interlocking, not scattered. Blocks in ``keep_apart`` (the documented
    exclave) stay where they are.
    """
    graph = _block_graph(blocks)
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

"""Tests for gisgov.network: street graph, snapping, walking distances and the fallback."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from gisgov.errors import CRSError, ValidationError
from gisgov.network import graph_from_streets, pair_distances, snap_points

UTM = "EPSG:32650"


def _streets(lines: list[list[tuple[float, float]]], crs: str = UTM) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [str(i) for i in range(len(lines))], "class": ["minor"] * len(lines)},
        geometry=[shapely.LineString(c) for c in lines],
        crs=crs,
    )


def _lattice(n: int = 6, step: float = 100.0, jitter: float = 0.0) -> gpd.GeoDataFrame:
    """An n×n street lattice split at every intersection (as stored streets are)."""
    rng = np.random.default_rng(0)
    xy = {(i, j): (i * step + rng.uniform(-jitter, jitter), j * step + rng.uniform(-jitter, jitter))
          for i in range(n) for j in range(n)}
    lines = []
    for i in range(n):
        for j in range(n):
            if i + 1 < n:
                lines.append([xy[i, j], xy[i + 1, j]])
            if j + 1 < n:
                lines.append([xy[i, j], xy[i, j + 1]])
    return _streets(lines)


def test_endpoints_within_tolerance_become_one_node() -> None:
    g = graph_from_streets(_streets([[(0, 0), (100, 0)], [(100.4, 0.3), (100, 80)]]),
                           snap_tolerance=1.0)
    assert (g.n_nodes, g.n_edges, g.n_components) == (3, 2, 1)
    apart = graph_from_streets(_streets([[(0, 0), (100, 0)], [(100.4, 0.3), (100, 80)]]),
                               snap_tolerance=0.1)
    assert apart.n_components == 2


def test_parallel_edges_keep_the_shortest() -> None:
    g = graph_from_streets(_streets([
        [(0, 0), (100, 0)],
        [(0, 0), (50, 60), (100, 0)],  # a longer footpath between the same two corners
    ]))
    assert g.n_edges == 2
    assert g.matrix.max() == pytest.approx(100.0)


def test_walk_follows_streets_around_a_block() -> None:
    # Two points facing each other across a block: straight 100 m, walking round the block.
    g = graph_from_streets(_streets([
        [(0, 0), (0, 200)], [(0, 200), (100, 200)], [(100, 200), (100, 0)],
    ]))
    src = snap_points(g, [(10, 50)])
    dst = snap_points(g, [(90, 50)])
    d = pair_distances(g, src, dst)
    assert d.straight_m[0] == pytest.approx(80.0)
    # 10 off-street + 150 up + 100 across + 150 down + 10 off-street
    assert d.distance_m[0] == pytest.approx(420.0)
    assert d.network.all()


def test_same_edge_walks_directly_along_it() -> None:
    g = graph_from_streets(_streets([[(0, 0), (1000, 0)]]))
    d = pair_distances(g, snap_points(g, [(200, 5)]), snap_points(g, [(300, -5)]))
    assert d.distance_m[0] == pytest.approx(110.0)


def test_distances_match_networkx_and_never_undercut_the_straight_line() -> None:
    streets = _lattice(n=8, jitter=15.0)
    g = graph_from_streets(streets)
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 700, (15, 2))
    b = rng.uniform(0, 700, (40, 2))
    sa, sb = snap_points(g, a), snap_points(g, b)
    si, ti = np.repeat(np.arange(15), 40), np.tile(np.arange(40), 15)
    got = pair_distances(g, sa, sb, si, ti)
    assert (got.distance_m >= got.straight_m - 1e-9).all()
    # Reference: networkx on the same graph with the snapped points as extra nodes.
    graph = nx.Graph()
    for e in range(g.n_edges):
        u, v, w = int(g.edge_u[e]), int(g.edge_v[e]), float(g.edge_length[e])
        if not graph.has_edge(u, v) or graph[u][v]["weight"] > w:
            graph.add_edge(u, v, weight=w)

    def attach(name: str, snapped: object, k: int) -> None:
        e = int(snapped.edge[k])  # type: ignore[attr-defined]
        graph.add_edge(name, int(g.edge_u[e]), weight=snapped.leg[k] + snapped.to_u[k])  # type: ignore[attr-defined]
        graph.add_edge(name, int(g.edge_v[e]), weight=snapped.leg[k] + snapped.to_v[k])  # type: ignore[attr-defined]

    for k in range(15):
        attach(f"a{k}", sa, k)
    for k in range(40):
        attach(f"b{k}", sb, k)
    for p in rng.choice(len(si), 60, replace=False):
        i, j = int(si[p]), int(ti[p])
        ref = nx.shortest_path_length(graph, f"a{i}", f"b{j}", weight="weight")
        if sa.edge[i] == sb.edge[j]:
            ref = min(ref, sa.leg[i] + sb.leg[j] + abs(sa.along[i] - sb.along[j]))
        assert got.distance_m[p] == pytest.approx(max(ref, got.straight_m[p]), abs=1e-6)


def test_search_bound_never_changes_a_distance() -> None:
    g = graph_from_streets(_lattice(n=6))
    src = snap_points(g, [(20, 20), (480, 30)])
    dst = snap_points(g, [(450, 470), (10, 490)])
    tight = pair_distances(g, src, dst, [0, 0, 1, 1], [0, 1, 0, 1], detour=0.0, slack_m=0.0)
    loose = pair_distances(g, src, dst, [0, 0, 1, 1], [0, 1, 0, 1], detour=100.0)
    np.testing.assert_allclose(tight.distance_m, loose.distance_m)


def test_disconnected_pieces_fall_back_to_a_straight_line_and_say_so() -> None:
    g = graph_from_streets(_streets([[(0, 0), (100, 0)], [(500, 0), (600, 0)]]))
    d = pair_distances(g, snap_points(g, [(10, 5)]), snap_points(g, [(550, 5)]))
    assert d.n_fallback == 1
    assert not d.network[0]
    assert d.distance_m[0] == pytest.approx(540.0)


def test_no_streets_means_all_pairs_fall_back() -> None:
    g = graph_from_streets(_streets([]))
    d = pair_distances(g, snap_points(g, [(0, 0), (3, 4)]), snap_points(g, [(3, 4), (0, 0)]))
    assert d.n_fallback == 2
    np.testing.assert_allclose(d.distance_m, [5.0, 5.0])


def test_geographic_crs_is_rejected_with_advice() -> None:
    streets = _streets([[(114.0, 34.0), (114.001, 34.0)]], crs="EPSG:4326")
    with pytest.raises(CRSError, match="projected"):
        graph_from_streets(streets)
    g = graph_from_streets(streets, crs=UTM)
    assert g.edge_length[0] == pytest.approx(92.2, abs=1.0)


def test_snapping_points_with_a_crs_projects_them() -> None:
    g = graph_from_streets(_streets([[(114.0, 34.0), (114.01, 34.0)]], crs="EPSG:4326"), crs=UTM)
    pts = gpd.GeoSeries([shapely.Point(114.005, 34.0001)], crs="EPSG:4326")
    s = snap_points(g, pts)
    assert s.leg[0] == pytest.approx(11.1, abs=0.5)
    with pytest.raises(ValidationError):
        pair_distances(g, s, s, [0], None)

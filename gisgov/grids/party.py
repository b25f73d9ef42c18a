"""Party organisation per grid: "every grid has a party organisation, every member is in a grid".

Each grid gets a grid party branch (网格党支部) — or a party group (党小组) when fewer than
:data:`MIN_BRANCH_MEMBERS` members live in it, since a branch needs at least three full
members — under its community's branch. Every member belongs to exactly one grid: the grid
that contains their home (``members.grid_code``; on a shared edge, the lowest code).

Branches above the 50-member cap of the Party Branch Work Regulations get a proposed split
along grid lines: adjacent grids are grouped, in reading order, into new branches of at most
50 members each.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.layers import conform
from gisgov.locate import codes_at

__all__ = [
    "BRANCH_CAP",
    "MIN_BRANCH_MEMBERS",
    "GridParty",
    "grid_of_points",
    "grid_party",
    "propose_branch_splits",
]

#: Party Branch Work Regulations: a branch has at most 50 members.
BRANCH_CAP = 50
#: A branch needs at least 3 full members; fewer form a party group (党小组).
MIN_BRANCH_MEMBERS = 3


def grid_of_points(points: gpd.GeoSeries, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Code of the grid holding each point (``None`` outside every grid).

    The boundary rule of :mod:`gisgov.locate`: boundary included, the lowest code on a shared
    edge — the same answer as the responsibility lookup and the assignment.
    """
    return codes_at(points, grids)


@dataclass
class GridParty:
    """The result of :func:`grid_party`.

    Attributes
    ----------
    branches
        The whole new ``branches`` layer: non-grid branches unchanged, one grid branch or
        party group per grid.
    members
        The ``members`` layer with ``grid_code`` set.
    """

    branches: gpd.GeoDataFrame
    members: gpd.GeoDataFrame


def grid_party(
    grids: gpd.GeoDataFrame,
    members: gpd.GeoDataFrame,
    branches: gpd.GeoDataFrame,
    *,
    communities: list[str] | None = None,
) -> GridParty:
    """Create a party organisation for every grid and place every member in one grid.

    Parameters
    ----------
    grids
        The ``grids`` layer.
    members
        The ``members`` layer.
    branches
        The ``branches`` layer; grid-level branches of the re-gridded communities are
        replaced, everything else is kept.
    communities
        Communities that were re-gridded (default: those of ``grids``).

    Returns
    -------
    GridParty
    """
    todo = set(communities or grids["community_code"].astype(str).unique())
    members = members.copy()
    members["grid_code"] = grid_of_points(members.geometry, grids)
    keep = branches[
        ~((branches["level"] == "grid")
          & branches["community_code"].astype(str).isin(todo).to_numpy())
    ]
    community_branch = (
        branches[branches["level"] == "community"]
        .drop_duplicates("community_code")
        .set_index("community_code")["id"]
    )
    counts = members["grid_code"].value_counts()
    rows = []
    for grid in grids.itertuples(index=False):
        if str(grid.community_code) not in todo:
            continue
        n = int(counts.get(grid.code, 0))
        kind = "党支部" if n >= MIN_BRANCH_MEMBERS else "党小组"
        rows.append({
            "id": f"B{grid.code}",
            "name": f"{grid.name}{kind}",
            "level": "grid",
            "community_code": grid.community_code,
            "parent_id": community_branch.get(grid.community_code),
            "grid_code": grid.code,
        })
    new = pd.DataFrame(rows, columns=["id", "name", "level", "community_code", "parent_id",
                                      "grid_code"])
    base = pd.DataFrame(keep.drop(columns=["geometry"], errors="ignore"))
    out = conform("branches", pd.concat([base, new], ignore_index=True))
    return GridParty(branches=out, members=conform("members", members))


def propose_branch_splits(
    branches: pd.DataFrame,
    members: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    cap: int = BRANCH_CAP,
) -> pd.DataFrame:
    """Propose how to split every branch over ``cap`` members along grid lines.

    The members of an over-cap branch are counted per home grid; grids are visited in code
    order (which is reading order) and a proposed branch grows through adjacent grids until
    the next grid would take it over ``cap``. Members living in no grid are reported as such.

    Returns
    -------
    pandas.DataFrame
        One row per proposed branch: ``branch_id``, ``branch_members``, ``proposal``
        (1, 2, …), ``grid_codes`` (comma-separated), ``members``.
    """
    cols = ["branch_id", "branch_members", "proposal", "grid_codes", "members"]
    if "branch_id" not in members.columns or not len(members):
        return pd.DataFrame(columns=cols)
    sizes = members["branch_id"].value_counts()
    over = [b for b in branches["id"].astype(str) if int(sizes.get(b, 0)) > cap]
    if not over:
        return pd.DataFrame(columns=cols)
    grid_code = (members["grid_code"] if "grid_code" in members.columns
                 else pd.Series(grid_of_points(members.geometry, grids), index=members.index))
    adjacency = _grid_adjacency(grids)
    rows: list[dict[str, object]] = []
    for branch in over:
        mine = grid_code[members["branch_id"].astype(str) == branch]
        per_grid = mine.dropna().astype(str).value_counts().sort_index()
        left = set(per_grid.index)
        proposal = 0
        while left:
            proposal += 1
            start = min(left)
            group, total = [start], int(per_grid[start])
            left.discard(start)
            frontier = sorted(adjacency.get(start, set()) & left)
            while frontier:
                nxt = frontier.pop(0)
                if total + int(per_grid[nxt]) > cap:
                    continue
                group.append(nxt)
                total += int(per_grid[nxt])
                left.discard(nxt)
                frontier = sorted((set(frontier) | adjacency.get(nxt, set())) & left)
            rows.append({"branch_id": branch, "branch_members": int(sizes[branch]),
                         "proposal": proposal, "grid_codes": ",".join(sorted(group)),
                         "members": total})
        homeless = int(mine.isna().sum())
        if homeless:
            rows.append({"branch_id": branch, "branch_members": int(sizes[branch]),
                         "proposal": proposal + 1, "grid_codes": "",
                         "members": homeless})
    return pd.DataFrame(rows, columns=cols)


def _grid_adjacency(grids: gpd.GeoDataFrame) -> dict[str, set[str]]:
    geoms = np.asarray(grids.geometry.values)
    codes = grids["code"].astype(str).to_numpy()
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    adj: dict[str, set[str]] = {}
    for i, j in zip(a, b, strict=True):
        if i != j:
            adj.setdefault(codes[i], set()).add(codes[j])
    return adj

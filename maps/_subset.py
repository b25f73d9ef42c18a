"""A community's share of the layers: what a per-community map draws.

Rows that name their community (grids, stations, branches…) are selected by that code; rows
that are only a point (households, members, buildings) by where they lie, under the one
boundary rule of :mod:`gisgov.locate`: a household on the edge two communities share is drawn
and counted in the community with the lower code only, as the lookup and the grid report
place it.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np

from gisgov.locate import rows_at
from maps._errors import MapError

__all__ = ["subset"]


def subset(
    layers: Mapping[str, gpd.GeoDataFrame], community: str | None
) -> tuple[dict[str, gpd.GeoDataFrame], gpd.GeoDataFrame | None]:
    """Layers restricted to one community (by code or name); all layers when ``None``.

    Parameters
    ----------
    layers
        gisgov layers; ``communities`` is needed to filter.
    community
        The community's 12-digit code or its name.

    Returns
    -------
    (dict, GeoDataFrame or None)
        The restricted layers and the community's row (``None`` for the whole county).
    """
    out = {k: v for k, v in layers.items() if v is not None}
    if community is None:
        return out, None
    com = out.get("communities")
    if com is None or len(com) == 0:
        raise MapError("filtering by community needs the communities layer")
    match = np.flatnonzero(((com["code"] == community) | (com["name"] == community)).to_numpy())
    if len(match) == 0:
        raise MapError(
            f"no community {community!r}; use a 12-digit code or a name from: "
            + ", ".join(com["name"].astype(str))
        )
    row = com.iloc[[match[0]]]
    code = str(row["code"].iloc[0])
    for name in ("grids", "stations", "units", "compounds", "branches", "events"):
        gdf = out.get(name)
        if gdf is not None and "community_code" in gdf.columns:
            out[name] = gdf[gdf["community_code"] == code]
    for name in ("households", "members", "buildings"):
        gdf = out.get(name)
        if gdf is not None and len(gdf):
            # against every community, so a point on a shared edge goes to one of them
            out[name] = gdf[rows_at(gdf, com) == match[0]]
    return out, row

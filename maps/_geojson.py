"""GeoJSON for Leaflet: only the properties a map needs, JSON-ready.

A map embeds its features in the HTML, so each layer carries just the columns its popup,
label, search and style read (never a personal column the caller did not pick), with
missing values as ``null`` and numpy scalars as plain numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["features"]


def _json_value(value: Any) -> Any:
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def features(
    gdf: gpd.GeoDataFrame,
    *,
    key: str,
    properties: Mapping[str, Sequence[Any] | pd.Series] | None = None,
    columns: Iterable[str] = (),
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with only the properties the map needs.

    Parameters
    ----------
    gdf
        Layer already passed through :func:`to_draw`.
    key
        Column used as the feature ``id`` (folium needs a unique one to style features).
    properties
        Extra per-row values (same order as ``gdf``).
    columns
        Columns of ``gdf`` to copy into the properties.

    Returns
    -------
    dict
        The FeatureCollection; values are JSON-ready (missing values are ``null``).
    """
    extra = {k: list(v) for k, v in (properties or {}).items()}
    cols = [c for c in columns if c in gdf.columns]
    geoms = shapely.to_geojson(np.asarray(gdf.geometry.values))
    feats = []
    for i, (geom, fid) in enumerate(zip(geoms, gdf[key].astype(str), strict=True)):
        props = {c: _json_value(gdf[c].iloc[i]) for c in cols}
        props.update({k: _json_value(v[i]) for k, v in extra.items()})
        feats.append(
            {"type": "Feature", "id": fid, "properties": props, "geometry": json.loads(geom)}
        )
    return {"type": "FeatureCollection", "features": feats}

"""Responsibility lookup: which subdistrict, community and grid a point is in, and who covers it.

Field staff ask "whose is this place?" from a phone. :class:`LookupIndex` answers from memory:
shapely STRtrees over grids, communities, subdistricts and buildings, plus dictionaries of
staff by grid, households by building and red-grid members by household. It is built once from
a workspace (:meth:`LookupIndex.from_workspace`) and :class:`LiveIndex` keeps it current by
watching the workspace version.

One module per concept:

- :mod:`gisgov.lookup.result`: what an answer holds (areas, people, households, a batch);
- :mod:`gisgov.lookup.index`: the immutable index of one workspace version;
- :mod:`gisgov.lookup.reload`: the live index, re-built and swapped by a watcher thread.

The point → grid raster itself is :class:`gisgov.locate.Locator`, shared with every other
part of gisgov that asks which grid holds a point.

Boundaries: the rule of :mod:`gisgov.locate` (a point belongs to the grids covering it,
boundary included; on a shared edge the lowest grid code wins, and the result says
``on_boundary``), answered by its :class:`~gisgov.locate.Locator`. Input positions may be in any
system :func:`gisgov.crs.transform_points` knows (WGS-84, CGCS2000, GCJ-02 from WeChat/Gaode,
BD-09 from Baidu); they are converted at the edge, the index itself is in EPSG:4326.

Examples
--------
>>> import geopandas as gpd, shapely
>>> grids = gpd.GeoDataFrame(
...     {"code": ["410223001001001", "410223001001002"], "name": ["一网格", "二网格"],
...      "community_code": ["410223001001"] * 2},
...     geometry=[shapely.box(114.19, 34.41, 114.20, 34.42),
...               shapely.box(114.20, 34.41, 114.21, 34.42)], crs="EPSG:4326")
>>> index = LookupIndex.from_layers({"grids": grids})
>>> hit = index.lookup(114.20, 34.415)
>>> hit.grid.code, hit.on_boundary
('410223001001001', True)
>>> index.lookup_many([114.195, 114.205, 115.0], [34.415, 34.415, 34.0]).grid_codes.tolist()
['410223001001001', '410223001001002', None]
"""

from gisgov.lookup.index import INPUT_CRS, LookupIndex, lookup_layers
from gisgov.lookup.reload import LiveIndex
from gisgov.lookup.result import Area, BatchResult, HouseholdHit, LookupResult, Person

__all__ = [
    "INPUT_CRS",
    "Area",
    "BatchResult",
    "HouseholdHit",
    "LiveIndex",
    "LookupIndex",
    "LookupResult",
    "Person",
    "lookup_layers",
]

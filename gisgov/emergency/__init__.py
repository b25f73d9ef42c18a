"""Emergency sweep (应急): every household in an area, vulnerable ones first, with whom to call.

- :mod:`gisgov.emergency.area`: the area (a circle or polygons, any Chinese CRS at the edge)
  with its bbox and exact test;
- :mod:`gisgov.emergency.sweep`: the store query and the one policy (who sees which rows);
- :mod:`gisgov.emergency.pages`: the CSV (Chinese headers) and the printable page.

Used by ``gisgov area`` and ``POST /emergency/contacts``.
"""

from __future__ import annotations

from gisgov.emergency.area import SweepArea, circle_area, polygon_area, read_polygon_file
from gisgov.emergency.pages import sweep_csv, sweep_html, write_sweep
from gisgov.emergency.sweep import Sweep, require_sweep, sweep_area

__all__ = ["Sweep", "SweepArea", "circle_area", "polygon_area", "read_polygon_file",
           "require_sweep", "sweep_area", "sweep_csv", "sweep_html", "write_sweep"]

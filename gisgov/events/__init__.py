"""事: events found in the grid, handled in the grid, escalated by 吹哨报到 (issue 15).

- :mod:`gisgov.events.catalogue`: categories in Chinese with hours per level and the units
  a department-level event is dispatched to (an editable TOML file).
"""

from __future__ import annotations

from gisgov.events.catalogue import Catalogue, Category, load_catalogue, parse_catalogue

__all__ = ["Catalogue", "Category", "load_catalogue", "parse_catalogue"]

"""One Workspace protocol, two stores: a GeoPackage file and PostGIS.

A workspace is named by a path (``county.gpkg``) or a URL (``postgresql://…``) everywhere:
the CLI, the API settings and the Python API.

Examples
--------
>>> import tempfile, os
>>> from gisgov.store import open_workspace
>>> path = os.path.join(tempfile.mkdtemp(), "ws.gpkg")
>>> ws = open_workspace(path, create=True)
>>> ws.count("households")
0
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import geopandas as gpd
import pandas as pd
import pyproj

from gisgov.errors import ValidationError
from gisgov.store._base import BBox, WorkspaceBase, WriteMode
from gisgov.store.copy import copy_workspace
from gisgov.store.gpkg import GeoPackageWorkspace

__all__ = [
    "BBox",
    "GeoPackageWorkspace",
    "Workspace",
    "WorkspaceBase",
    "WriteMode",
    "copy_workspace",
    "is_postgis_url",
    "open_workspace",
]


@runtime_checkable
class Workspace(Protocol):
    """What every store offers; see :class:`gisgov.store._base.WorkspaceBase` for details."""

    url: str
    kind: str

    def layers(self) -> list[str]: ...
    def read(self, layer: str, *, bbox: BBox | None = None,
             where: Mapping[str, Any] | None = None, limit: int | None = None,
             offset: int = 0, columns: Sequence[str] | None = None) -> gpd.GeoDataFrame: ...
    def count(self, layer: str, *, bbox: BBox | None = None,
              where: Mapping[str, Any] | None = None) -> int: ...
    def write(self, layer: str, gdf: gpd.GeoDataFrame, *, mode: WriteMode = "replace",
              if_version: int | None = None) -> None: ...
    def update(self, layer: str, gdf: gpd.GeoDataFrame, *,
               if_version: int | None = None) -> None: ...
    def tables(self) -> list[str]: ...
    def has_table(self, name: str) -> bool: ...
    def read_table(self, name: str, *, where: Mapping[str, Any] | None = None
                   ) -> gpd.GeoDataFrame | pd.DataFrame: ...
    def write_table(self, name: str, frame: pd.DataFrame, *, mode: WriteMode = "replace",
                    bump_version: bool = True, if_version: int | None = None) -> None: ...
    def drop_table(self, name: str) -> None: ...
    def table_version(self, name: str) -> int: ...
    def get_meta(self, key: str, default: Any = None) -> Any: ...
    def set_meta(self, key: str, value: Any) -> None: ...
    def transaction(self, *, bump_version: bool = True
                    ) -> AbstractContextManager[WorkspaceBase]: ...
    def info(self) -> dict[str, Any]: ...
    def read_all(self) -> dict[str, gpd.GeoDataFrame]: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...

    @property
    def version(self) -> int: ...

    @property
    def working_crs(self) -> pyproj.CRS: ...


def is_postgis_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` names a PostGIS database rather than a file."""
    return str(target).startswith(("postgresql://", "postgresql+psycopg://", "postgres://"))


def open_workspace(target: str | os.PathLike[str], *, create: bool = False) -> WorkspaceBase:
    """Open the workspace named by a GeoPackage path or a PostgreSQL URL.

    Parameters
    ----------
    target
        ``path/to/county.gpkg`` or ``postgresql://user@host:port/db``.
    create
        Create the workspace (GeoPackage file, or PostGIS tables via migrations) if needed.

    Returns
    -------
    WorkspaceBase
        An object satisfying :class:`Workspace`.

    Raises
    ------
    NotFoundError
        The file does not exist and ``create`` is false.
    StoreError
        The database cannot be reached.
    """
    text = str(target)
    if is_postgis_url(text):
        from gisgov.store.postgis import PostGISWorkspace

        return PostGISWorkspace(text, create=create)
    if not text.lower().endswith(".gpkg"):
        raise ValidationError(
            f"{text!r} is neither a .gpkg file nor a postgresql:// URL; name the workspace "
            "like county.gpkg or postgresql://user@127.0.0.1:5432/county"
        )
    return GeoPackageWorkspace(text, create=create)


def iter_layers(ws: WorkspaceBase) -> Iterator[tuple[str, gpd.GeoDataFrame]]:
    """Yield ``(name, frame)`` for every schema layer present."""
    for name in ws.layers():
        yield name, ws.read(name)

"""Pydantic models of the OGC API Features responses, for the OpenAPI document.

The routes write their JSON themselves (the features' properties come out of the database
as JSON text, :mod:`gisgov.store._features`); these models say what that JSON is, so the
document at ``/api`` describes the real responses and clients and fuzzers can check them.
Extra members are allowed: a feature's properties are the collection's columns.
"""

# ruff: noqa: N815 - member names are the OGC/GeoJSON names (numberMatched, …)
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CollectionModel",
    "CollectionsModel",
    "FeatureCollectionModel",
    "FeatureModel",
    "LinkModel",
    "QueryablesModel",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class LinkModel(_Open):
    """A link (RFC 8288 in JSON)."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class ExtentModel(_Open):
    """Spatial extent in CRS84."""

    spatial: dict[str, Any]


class CollectionModel(_Open):
    """One collection: a layer or product table."""

    id: str
    title: str
    description: str | None = None
    itemType: str = "feature"
    links: list[LinkModel]
    crs: list[str]
    storageCrs: str | None = None
    extent: ExtentModel | None = None


class CollectionsModel(_Open):
    """The collections the caller may read."""

    links: list[LinkModel]
    collections: list[CollectionModel]
    crs: list[str] = []


class FeatureModel(_Open):
    """A GeoJSON feature; ``id`` is the collection's key."""

    type: Literal["Feature"]
    id: str | int | None = None
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None
    links: list[LinkModel] | None = None


class FeatureCollectionModel(_Open):
    """A page of features."""

    type: Literal["FeatureCollection"]
    features: list[FeatureModel]
    links: list[LinkModel]
    numberReturned: int
    numberMatched: int | None = Field(None, description="Given when cheap to know")
    timeStamp: str | None = None


class QueryablesModel(_Open):
    """JSON Schema of the queryable properties (OGC API Features Part 3)."""

    type: Literal["object"]
    title: str | None = None
    properties: dict[str, dict[str, Any]]
    additionalProperties: bool = False

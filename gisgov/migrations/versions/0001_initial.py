"""Initial schema: PostGIS, the meta table and one typed table per schema layer.

The layer definitions are frozen here on purpose (a migration must not change when
``gisgov.layers`` does later); later schema changes are new revisions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TYPES: dict[str, type[sa.types.TypeEngine[Any]]] = {
    "text": sa.Text,
    "bigint": sa.BigInteger,
    "float": sa.Double,
    "bool": sa.Boolean,
}

#: layer: (key, [(column, type)], geometry types) as in gisgov.layers at this revision.
_LAYERS: dict[str, tuple[str, list[tuple[str, str]], tuple[str, ...]]] = {
    "subdistricts": ("code", [("code", "text"), ("name", "text")],
                     ("Polygon", "MultiPolygon")),
    "streets": ("id", [("id", "text"), ("name", "text"), ("class", "text")],
                ("LineString", "MultiLineString")),
    "communities": ("code", [("code", "text"), ("name", "text"), ("kind", "text"),
                             ("subdistrict_code", "text"), ("boundary_text", "text")],
                    ("Polygon", "MultiPolygon")),
    "compounds": ("id", [("id", "text"), ("name", "text"), ("community_code", "text"),
                         ("old", "bool"), ("property_managed", "bool")],
                  ("Polygon", "MultiPolygon")),
    "buildings": ("id", [("id", "text"), ("compound_id", "text"), ("address", "text"),
                         ("floors", "bigint")],
                  ("Polygon", "MultiPolygon")),
    "households": ("id", [("id", "text"), ("building_id", "text"), ("address", "text"),
                          ("head_name", "text"), ("phone", "text"), ("id_number", "text"),
                          ("size", "bigint"), ("floating", "bigint"), ("elderly", "bool"),
                          ("low_income", "bool"), ("disabled", "bool"),
                          ("kin_member_id", "text")],
                   ("Point",)),
    "members": ("id", [("id", "text"), ("name", "text"), ("phone", "text"), ("class", "text"),
                       ("age", "bigint"), ("status", "text"), ("unit_id", "text"),
                       ("branch_id", "text")],
                ("Point",)),
    "branches": ("id", [("id", "text"), ("name", "text"), ("level", "text"),
                        ("community_code", "text"), ("parent_id", "text"),
                        ("grid_code", "text")],
                 ("Polygon", "MultiPolygon")),
    "grids": ("code", [("code", "text"), ("name", "text"), ("community_code", "text"),
                       ("target_households", "bigint"), ("households", "bigint")],
              ("Polygon", "MultiPolygon")),
    "staff": ("id", [("id", "text"), ("grid_code", "text"), ("role", "text"), ("name", "text"),
                     ("phone", "text"), ("member_id", "text"), ("duty", "text")],
              ()),
    "units": ("id", [("id", "text"), ("name", "text"), ("kind", "text"),
                     ("community_code", "text")],
              ("Point", "Polygon", "MultiPolygon")),
    "stations": ("id", [("id", "text"), ("name", "text"), ("kind", "text"),
                        ("community_code", "text")],
                 ("Point",)),
    "assignments": ("household_id", [("household_id", "text"), ("member_id", "text"),
                                     ("grid_code", "text"), ("walk_m", "float"),
                                     ("reason", "text")],
                    ("LineString",)),
}


def upgrade() -> None:
    """Create the extension, ``gisgov_meta`` and every layer table with its GiST index."""
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "gisgov_meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.execute("INSERT INTO gisgov_meta (key, value) VALUES ('version', '0')")
    for name, (key, columns, geometry_types) in _LAYERS.items():
        # Keys sort bytewise (COLLATE "C"), as in the GeoPackage store, so paging by key
        # gives the same pages in both stores and the primary key index serves ORDER BY.
        items: list[sa.schema.SchemaItem] = [
            sa.Column(col, sa.Text(collation="C") if col == key else _TYPES[kind](),
                      primary_key=col == key)
            for col, kind in columns
        ]
        if geometry_types:
            # One declared type when the layer allows one; otherwise the generic typmod plus
            # a CHECK, so Polygon and MultiPolygon rows keep their own type on the way back.
            declared = geometry_types[0].upper() if len(geometry_types) == 1 else "GEOMETRY"
            items.append(sa.Column(
                "geometry", Geometry(declared, srid=4326, spatial_index=False)
            ))
            if len(geometry_types) > 1:
                allowed = ", ".join(f"'{t.upper()}'" for t in geometry_types)
                items.append(sa.CheckConstraint(
                    f"geometry IS NULL OR GeometryType(geometry) IN ({allowed})",
                    name=f"ck_{name}_geometry_type",
                ))
        op.create_table(name, *items)
        if geometry_types:
            op.create_index(f"ix_{name}_geometry", name, ["geometry"], postgresql_using="gist")


def downgrade() -> None:
    """Drop the layer tables and the meta table (the extension stays)."""
    for name in reversed(list(_LAYERS)):
        op.drop_table(name)
    op.drop_table("gisgov_meta")

"""Alembic migrations of the PostGIS store (shipped as package data).

:class:`gisgov.store.postgis.PostGISWorkspace` runs ``upgrade head`` itself when it opens a
database; operators can also run Alembic by hand::

    alembic -c gisgov/migrations/alembic.ini -x url=postgresql://user@host/db upgrade head

Every change to ``gisgov.layers.LAYERS`` that touches a column or a geometry type needs a new
revision in ``versions/``; ``tests/gisgov/store/test_postgis_store.py`` fails until it exists.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE"]

#: The Alembic script location inside the installed package.
MIGRATIONS_DIR = Path(__file__).resolve().parent

#: Alembic's bookkeeping table; prefixed so gisgov can share a database with other apps.
VERSION_TABLE = "gisgov_alembic_version"

"""Optional parts of gisgov and the extra that installs each (``pip install 'gisgov[extra]'``).

The core (library and CLI on a GeoPackage file) needs none of them; a command that does
imports its packages lazily, and when one is missing the user gets one line naming the extra
to install instead of a traceback (:func:`missing_extra_message`, used by ``gisgov.cli.main``).

Examples
--------
>>> missing_extra_message(ModuleNotFoundError("No module named 'fastapi'", name="fastapi"))
"this needs the optional package 'fastapi': pip install 'gisgov[serve]'"
>>> missing_extra_message(ModuleNotFoundError("No module named 'numpy'", name="numpy")) is None
True
"""

from __future__ import annotations

__all__ = ["EXTRAS", "missing_extra_message"]

#: Top-level package → the extra of ``pyproject.toml`` that brings it.
EXTRAS: dict[str, str] = {
    "sqlalchemy": "postgis",
    "geoalchemy2": "postgis",
    "psycopg": "postgis",
    "alembic": "postgis",
    "folium": "maps",
    "branca": "maps",
    "fastapi": "serve",
    "starlette": "serve",
    "uvicorn": "serve",
    "pydantic_settings": "serve",
    "limits": "serve",
    "dask": "dask",
    "distributed": "dask",
}


def missing_extra_message(exc: BaseException) -> str | None:
    """The line telling the user which extra to install, if ``exc`` is a missing optional one.

    Parameters
    ----------
    exc
        Usually a :class:`ModuleNotFoundError` raised by a lazy import.

    Returns
    -------
    str or None
        ``None`` when the missing module is not part of an extra (a real bug).
    """
    name = getattr(exc, "name", None)
    if not isinstance(exc, ModuleNotFoundError) or not name:
        return None
    root = str(name).split(".")[0]
    extra = EXTRAS.get(root)
    if extra is None:
        return None
    return f"this needs the optional package {root!r}: pip install 'gisgov[{extra}]'"

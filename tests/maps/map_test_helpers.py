"""Helpers the map tests share: reading rendered HTML as a person would."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_URL = re.compile(r"https?://([^/\s\"'<>)]+)")
_JS_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)


def decoded(html: str) -> str:
    """``html`` with JSON's ``\\u`` + 4-hex-digit escapes decoded, so Chinese text can be searched."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda g: chr(int(g.group(1), 16)), html)


def external_hosts(html: str, allowed: tuple[str, ...] = ()) -> set[str]:
    """Hosts of every http(s) URL in ``html`` except localhost, ``allowed`` and JS comments."""
    hosts = set(_URL.findall(_JS_COMMENT.sub("", html)))
    return {h for h in hosts if not h.startswith(("localhost", "127.0.0.1"))
            and not any(h.endswith(a) for a in allowed)}


def write_workspace(path: Any, layers: Mapping[str, Any]) -> Any:
    """A new GeoPackage at ``path`` holding ``layers`` (one transaction); returns the path."""
    from gisgov.store import open_workspace

    ws = open_workspace(path, create=True)
    with ws.transaction() as tx:
        for name, gdf in layers.items():
            tx.write(name, gdf)
    ws.close()
    return path

"""Plain HTML views (Chinese first): landing page, collections, items, a feature, a lookup.

No template engine and no JavaScript: pages stay small and load on any phone; maps are the
maps package's business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from fastapi.responses import HTMLResponse

__all__ = ["page", "table"]

_STYLE = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:1.2em;
color:#222;max-width:72em}h1{font-size:1.4em}table{border-collapse:collapse;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}nav a{margin-right:1em}.muted{color:#777}
"""


def _cell(value: Any) -> str:
    if value is None:
        return '<span class="muted">—</span>'
    if isinstance(value, Mapping):
        return "<br>".join(f"{escape(str(k))}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "<br>".join(_cell(v) for v in value)
    text = escape(str(value))
    if text.startswith(("http://", "https://", "/")):
        return f'<a href="{text}">{text}</a>'
    return text


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """An HTML table of ``rows`` with ``(key, label)`` columns."""
    head = "".join(f"<th>{escape(label)}</th>" for _, label in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(k))}</td>" for k, _ in columns) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str, *, links: Iterable[Mapping[str, Any]] = (),
         status_code: int = 200) -> HTMLResponse:
    """A complete page: title, navigation from ``links`` (rel/href/title), body."""
    nav = " ".join(
        f'<a href="{escape(str(link["href"]))}">{escape(str(link.get("title") or link["rel"]))}</a>'
        for link in links
        if link.get("type", "text/html").startswith("text/html") or link["rel"] in ("next", "prev")
    )
    html = (
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<nav><a href=\"/?f=html\">首页</a><a href=\"/collections?f=html\">图层</a>{nav}</nav>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status_code)

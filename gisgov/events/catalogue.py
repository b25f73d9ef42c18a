"""The event category catalogue: names in Chinese, hours per level, units to dispatch to.

Shipped as ``gisgov/events/catalogue.toml`` (package data) and overridable per workspace:
``gisgov events catalogue WS --set FILE`` stores the edited TOML text in the workspace meta
(:data:`CATALOGUE_META`), so the catalogue travels with the data it was used for and a
second workspace keeps its own.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from gisgov.errors import ValidationError
from gisgov.layers import EVENT_LEVELS

__all__ = ["CATALOGUE_META", "Catalogue", "Category", "default_catalogue_text",
           "load_catalogue", "parse_catalogue", "set_catalogue"]

#: Workspace meta key holding a workspace's own catalogue (TOML text).
CATALOGUE_META = "events_catalogue"


@dataclass(frozen=True)
class Category:
    """One category: its name, code, hours allowed per level and units to dispatch to."""

    name: str
    code: str
    hours: dict[str, float]
    units: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    """The categories of a workspace, by Chinese name."""

    categories: dict[str, Category]

    def get(self, name: str) -> Category:
        """The category called ``name`` (its Chinese name or its code).

        Raises
        ------
        ValidationError
            Unknown category; the message lists the known ones.
        """
        text = str(name).strip()
        if text in self.categories:
            return self.categories[text]
        for cat in self.categories.values():
            if cat.code == text:
                return cat
        raise ValidationError(
            f"未知的事件类别 {text!r}; 可选: {'、'.join(self.categories)} "
            "(edit the catalogue with `gisgov events catalogue WS --set FILE`)"
        )

    def hours(self, category: str, level: str) -> float:
        """Hours allowed for ``category`` at ``level``."""
        return self.get(category).hours[level]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (CLI ``--json``, API)."""
        return {name: {"code": c.code, "hours": c.hours, "units": list(c.units)}
                for name, c in self.categories.items()}


def default_catalogue_text() -> str:
    """The shipped catalogue file's text."""
    return resources.files("gisgov.events").joinpath("catalogue.toml").read_text("utf-8")


def parse_catalogue(text: str) -> Catalogue:
    """Read and check a catalogue (TOML text).

    Raises
    ------
    ValidationError
        Not TOML, no categories, a duplicate name or code, a level without hours or hours
        that are not positive.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"事件类别目录不是有效的 TOML: {exc}") from None
    entries = data.get("category")
    if not isinstance(entries, list) or not entries:
        raise ValidationError("事件类别目录没有类别: add [[category]] tables with name, code, "
                              "hours and units")
    out: dict[str, Category] = {}
    codes: set[str] = set()
    for i, entry in enumerate(entries, 1):
        out_cat = _category(i, entry)
        if out_cat.name in out or out_cat.code in codes:
            raise ValidationError(f"类别 {out_cat.name} ({out_cat.code}) 重复")
        out[out_cat.name] = out_cat
        codes.add(out_cat.code)
    return Catalogue(out)


def _category(i: int, entry: Any) -> Category:
    if not isinstance(entry, dict):
        raise ValidationError(f"第 {i} 个类别不是表 (use [[category]])")
    name, code = str(entry.get("name", "")).strip(), str(entry.get("code", "")).strip()
    if not name or not code:
        raise ValidationError(f"第 {i} 个类别缺少 name 或 code")
    hours = entry.get("hours")
    if not isinstance(hours, dict):
        raise ValidationError(f"类别 {name} 缺少 hours (每个层级的办理时限)")
    out_hours: dict[str, float] = {}
    for level in EVENT_LEVELS:
        value = hours.get(level)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ValidationError(
                f"类别 {name}: hours.{level} 必须是正数 (小时), 现为 {value!r}"
            )
        out_hours[level] = float(value)
    units = entry.get("units", [])
    if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
        raise ValidationError(f"类别 {name}: units 必须是单位名称或类型的列表")
    return Category(name, code, out_hours, tuple(units))


def load_catalogue(ws: Any | None = None) -> Catalogue:
    """The workspace's catalogue, or the shipped one when it has none."""
    text = ws.get_meta(CATALOGUE_META) if ws is not None else None
    return parse_catalogue(text if text else default_catalogue_text())


def set_catalogue(ws: Any, text: str | None) -> Catalogue:
    """Store ``text`` as the workspace's catalogue (checked first); ``None`` restores the
    shipped one."""
    if text is None:
        ws.set_meta(CATALOGUE_META, None)
        return load_catalogue(None)
    cat = parse_catalogue(text)
    ws.set_meta(CATALOGUE_META, text)
    return cat

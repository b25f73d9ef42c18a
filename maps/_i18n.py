"""What people read on a map: the controls' texts and the schema's labels in Chinese or
English, and names and phones masked.

Every string a renderer shows comes from here or from the renderer's own small table of
map-specific words, so a map never mixes languages and never shows a full name.
"""

from __future__ import annotations

from typing import Any, Literal

from gisgov import privacy
from gisgov.layers import LAYERS

__all__ = ["Lang", "layer_label", "mask_name", "mask_phone", "text"]

Lang = Literal["zh", "en"]

_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "search": "搜索网格代码或社区名称",
        "not_found": "未找到",
        "cancel": "取消",
        "legend": "图例",
        "fullscreen": "全屏",
        "exit_fullscreen": "退出全屏",
        "g_county": "县/街道",
        "g_community": "社区",
        "g_grid": "网格",
        "g_household": "楼栋/户",
        "g_party": "党组织/党员",
        "g_service": "服务设施",
        "g_change": "调整",
        "leader": "网格长",
        "households": "户数",
        "none": "无",
        "unassigned": "未联户",
        "main_streets": "主要街道",
        "before": "调整前",
        "after": "调整后",
        "metric": "指标",
    },
    "en": {
        "search": "Search grid code or community",
        "not_found": "Not found",
        "cancel": "Cancel",
        "legend": "Legend",
        "fullscreen": "Full screen",
        "exit_fullscreen": "Exit full screen",
        "g_county": "County / subdistrict",
        "g_community": "Community",
        "g_grid": "Grid",
        "g_household": "Buildings / households",
        "g_party": "Party",
        "g_service": "Services",
        "g_change": "Changes",
        "leader": "Leader",
        "households": "Households",
        "none": "none",
        "unassigned": "Unassigned",
        "main_streets": "Main streets",
        "before": "Before",
        "after": "After",
        "metric": "Metric",
    },
}


def text(key: str, lang: Lang) -> str:
    """A user-facing string in ``lang``."""
    return _TEXT[lang][key]


def layer_label(layer: str, lang: Lang, column: str | None = None) -> str:
    """The schema's display label of a layer or one of its columns."""
    spec = LAYERS[layer]
    item: Any = spec if column is None else spec.column(column)
    return str(item.label_zh if lang == "zh" else item.label_en)


def mask_name(name: object) -> str:
    """:func:`gisgov.privacy.mask_name` for possibly-missing values: maps never show a full name."""
    return privacy.mask_name(name) if isinstance(name, str) and name else ""


def mask_phone(phone: object) -> str:
    """:func:`gisgov.privacy.mask_phone` for possibly-missing values (``138****5678``)."""
    return privacy.mask_phone(phone) if isinstance(phone, str) and phone else ""

"""Helpers shared by the onboarding tests: Excel workbooks and GCJ-02 picks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl

from gisgov.crs import wgs84_to_gcj02


def write_workbook(path: Path, title: str | None, header: list[str],
                   rows: list[list[object]]) -> Path:
    """An .xlsx with an optional title row above the header, as offices make them."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if title:
        sheet.append([title])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def gcj(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02, as a Gaode picker would record it."""
    x, y = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    return round(float(x[0]), 7), round(float(y[0]), 7)

"""Reading and writing layer files: file ↔ GeoDataFrame, nothing more.

:func:`read_layer_file` turns a GeoPackage, GeoJSON, shapefile (or zipped shapefile), CSV or
Excel file into a layer conformed to the schema (:mod:`gisgov.layers`) in EPSG:4326, and refuses
data that would land in the wrong place: swapped lon/lat columns, coordinates far from the
workspace, a missing CRS. :func:`write_layer_file` writes a layer out for QGIS/ArcGIS/Excel,
optionally in GCJ-02/BD-09 for Gaode/Baidu basemaps. Storing into a workspace is
:mod:`gisgov.store`'s job.

Errors are :class:`~gisgov.errors.ImportDataError` (and :class:`~gisgov.errors.CRSError` for
coordinate systems) with one-line messages that name the file, what is wrong and what to pass.
"""

from __future__ import annotations

import io
import tempfile
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from gisgov.crs import from_storage, normalise_crs_name, to_storage
from gisgov.errors import CRSError, ImportDataError, ValidationError
from gisgov.layers import LAYERS, Layer, Problem, conform, validate_layer

__all__ = [
    "LAT_NAMES",
    "LON_NAMES",
    "READ_EXTENSIONS",
    "WKT_NAMES",
    "WRITE_EXTENSIONS",
    "check_bounds",
    "detect_dbf_encoding",
    "expected_bounds_of",
    "read_layer_file",
    "write_layer_file",
]

#: File extensions :func:`read_layer_file` understands.
READ_EXTENSIONS = (".gpkg", ".geojson", ".json", ".shp", ".zip", ".csv", ".xlsx")
#: File extensions :func:`write_layer_file` writes.
WRITE_EXTENSIONS = (".gpkg", ".geojson", ".json", ".shp", ".csv")
#: Column names recognised as longitude / latitude in tables (compared case-insensitively).
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
#: Column names recognised as WKT geometry in tables (how CSV export writes non-points).
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")

# Geographic systems: only for these do lon/lat plausibility checks make sense.
_GEOGRAPHIC = ("wgs84", "cgcs2000", "gcj02", "bd09")
# How many problems the one-line error message spells out before "and N more".
_SHOWN_PROBLEMS = 3


def read_layer_file(
    path: str | Path,
    *,
    layer: str,
    crs: str | None = None,
    encoding: str | None = None,
    mapping: Mapping[str, str] | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    sheet: str | int | None = None,
    expected_bounds: Sequence[float] | None = None,
) -> gpd.GeoDataFrame:
    """Read a file as layer ``layer``, conformed to the schema, in EPSG:4326.

    Parameters
    ----------
    path
        ``.gpkg`` (the layer named ``layer`` if present, else the first), ``.geojson``/``.json``,
        ``.shp`` or a ``.zip`` holding one, ``.csv`` or ``.xlsx`` with lon/lat columns (or a
        WKT column).
    layer
        Target layer name (``gisgov.layers.LAYERS``).
    crs
        What the coordinates really are (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``,
        ``EPSG:nnnn``). Overrides the file's own CRS; required for a shapefile without ``.prj``
        and for GCJ-02/BD-09 data. Tables without it are taken as WGS-84 lon/lat, and
        ``attrs["crs_assumed"]`` is set so the caller can say so.
    encoding
        Text encoding of a shapefile's DBF or a CSV. By default a ``.cpg`` file is obeyed;
        without one the bytes are tried as strict UTF-8, then GB18030 (a superset of GBK and
        GB2312, what Chinese ArcGIS/Excel users produce).
    mapping
        ``{their_column: our_column}`` renames, e.g. ``{"户数": "size"}``.
    lon_col, lat_col
        Coordinate columns of a table; detected among :data:`LON_NAMES`/:data:`LAT_NAMES`
        when not given.
    sheet
        Excel sheet name or index (default the first sheet).
    expected_bounds
        ``(min_lon, min_lat, max_lon, max_lat)`` the data must lie in, typically the
        workspace's extent buffered by ~50 km; rows outside it are rejected.

    Returns
    -------
    geopandas.GeoDataFrame
        Conformed layer in EPSG:4326 with a fresh ``RangeIndex`` in file order.
        ``attrs`` holds ``source_file``, ``source_crs``, ``crs_assumed``, ``encoding`` (when
        detected or given) and ``problems`` (validation warnings as dicts, if any).

    Raises
    ------
    ImportDataError
        Unreadable file, unknown columns in ``mapping``, swapped or implausible coordinates,
        rows outside ``expected_bounds``, or schema violations (``problems`` holds every
        :class:`~gisgov.layers.Problem`).
    CRSError
        The coordinate system is missing or unknown.
    """
    p = Path(path)
    layer_def = _layer_def(layer)
    if not p.exists():
        raise ImportDataError(f"{p}: file not found")
    ext = p.suffix.lower()
    if ext not in READ_EXTENSIONS:
        raise ImportDataError(
            f"{p.name}: unsupported file type {ext or '(none)'}; use one of "
            f"{', '.join(READ_EXTENSIONS)}"
        )
    attrs: dict[str, object] = {"source_file": str(p), "crs_assumed": False}
    if ext in (".csv", ".xlsx"):
        df, used_encoding = _read_table(p, encoding=encoding, sheet=sheet)
        attrs["encoding"] = used_encoding
        _check_mapping(df, mapping, p.name)
        gdf, assumed = _table_to_gdf(
            df, layer_def, name=p.name, crs=crs, lon_col=lon_col, lat_col=lat_col
        )
        attrs["crs_assumed"] = assumed
    else:
        gdf, used_encoding = _read_vector(p, layer=layer, encoding=encoding)
        if used_encoding:
            attrs["encoding"] = used_encoding
        if ext in (".shp", ".zip"):
            gdf = _restore_truncated_names(gdf, layer_def, mapping)
        _check_mapping(gdf, mapping, p.name)
        gdf = _demote_single_part_multis(gdf)
    if mapping:
        gdf = gdf.rename(columns=dict(mapping))

    if layer_def.has_geometry and gdf.geometry.notna().any():
        if crs is None and gdf.crs is None:
            raise CRSError(
                f"{p.name}: the file has no coordinate system (a shapefile without .prj?); "
                "pass --crs (wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn)"
            )
        gdf = to_storage(gdf, source_crs=crs)
        attrs["source_crs"] = gdf.attrs["source_crs"]
        if expected_bounds is not None:
            _check_bounds(gdf, expected_bounds, layer_def, p.name)
    else:
        gdf = gdf.set_crs(4326, allow_override=True)
        attrs["source_crs"] = normalise_crs_name(crs) if crs else "wgs84"

    try:
        out = conform(layer, gdf)
    except ImportDataError:
        raise
    except ValidationError as exc:
        raise ImportDataError(f"{p.name}: {exc}", exc.problems) from None
    problems = validate_layer(layer, out)
    errors = [q for q in problems if q.severity == "error"]
    if errors:
        raise ImportDataError(_summarise(p.name, errors), list(errors))
    attrs["problems"] = [q.to_dict() for q in problems]
    out.attrs = attrs
    return out


def detect_dbf_encoding(dbf_path: str | Path) -> str | None:
    """Guess the text encoding of a shapefile's DBF that came without a ``.cpg``.

    Strict UTF-8 is tried first: GBK/GB18030 text almost never decodes as valid UTF-8, while
    plain ASCII does (and is right either way). Otherwise GB18030, the superset of GBK/GB2312.

    Parameters
    ----------
    dbf_path
        The ``.dbf`` file.

    Returns
    -------
    str or None
        ``"UTF-8"``, ``"GB18030"``, or None when neither decodes (leave it to GDAL, which
        then reads the DBF's language driver byte).
    """
    raw = Path(dbf_path).read_bytes()
    if len(raw) < 32:
        return None
    header_len = int.from_bytes(raw[8:10], "little")
    # Field descriptors carry binary lengths/flags; only their 11-byte names are text.
    names = b"".join(
        raw[i : i + 11].rstrip(b"\x00") for i in range(32, max(32, header_len - 1), 32)
        if raw[i : i + 1] != b"\r"
    )
    text = names + raw[header_len:]
    for candidate in ("UTF-8", "GB18030"):
        try:
            text.decode(candidate, errors="strict")
        except UnicodeDecodeError:
            continue
        return candidate
    return None


def write_layer_file(
    gdf: gpd.GeoDataFrame,
    path: str | Path,
    *,
    crs: str = "wgs84",
    layer_name: str | None = None,
) -> Path:
    """Write a layer to ``.gpkg``, ``.geojson``/``.json``, ``.shp`` or ``.csv``.

    Parameters
    ----------
    gdf
        A layer in EPSG:4326 (as stored).
    path
        Output file; an existing file (or GeoPackage layer) of that name is replaced.
    crs
        Coordinate system of the output: ``wgs84`` (default), ``cgcs2000``, ``gcj02``/``bd09``
        (to draw over Gaode/Baidu basemaps; still labelled EPSG:4326, as those tools expect),
        or ``EPSG:nnnn``.
    layer_name
        Layer name inside a GeoPackage (default: the file's stem).

    Returns
    -------
    pathlib.Path
        The written file.

    Notes
    -----
    Shapefiles are written in UTF-8 with a ``.cpg``; names longer than 10 characters are cut by
    the format (reading them back with :func:`read_layer_file` restores schema names). CSV is
    UTF-8 with a byte-order mark so Excel shows Chinese correctly; points become ``lon``/``lat``
    (``x``/``y`` for projected output) columns, other geometries a ``wkt`` column.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in WRITE_EXTENSIONS:
        raise ImportDataError(
            f"{p.name}: cannot write {ext or '(no extension)'}; use one of "
            f"{', '.join(WRITE_EXTENSIONS)}"
        )
    out = from_storage(gdf, target_crs=crs)
    p.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".csv":
        _write_csv(out, p)
    elif ext == ".gpkg":
        pyogrio.write_dataframe(out, p, layer=layer_name or p.stem, driver="GPKG")
    elif ext in (".geojson", ".json"):
        p.unlink(missing_ok=True)
        pyogrio.write_dataframe(out, p, driver="GeoJSON")
    else:
        for sibling in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            p.with_suffix(sibling).unlink(missing_ok=True)
        with warnings.catch_warnings():
            # GDAL warns once per field cut to 10 characters; that is the format's limit,
            # documented above, and reading back restores the names.
            warnings.filterwarnings("ignore", message="Normalized/laundered field name")
            pyogrio.write_dataframe(out, p, driver="ESRI Shapefile", encoding="UTF-8")
    return p


# --- reading helpers -------------------------------------------------------------------------


def _layer_def(layer: str) -> Layer:
    try:
        return LAYERS[layer]
    except KeyError:
        raise ImportDataError(
            f"unknown layer {layer!r}; choose one of: {', '.join(LAYERS)}"
        ) from None


def _read_table(
    p: Path, *, encoding: str | None, sheet: str | int | None
) -> tuple[pd.DataFrame, str | None]:
    """Read a CSV/XLSX with every cell as text, so codes keep their leading zeros."""
    if p.suffix.lower() == ".csv":
        raw = p.read_bytes()
        enc = encoding or _detect_text_encoding(raw)
        try:
            text = raw.decode(enc)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ImportDataError(
                f"{p.name}: cannot decode the file as {enc} ({exc}); pass --encoding"
            ) from None
        try:
            return pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True), enc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ImportDataError(f"{p.name}: not a readable CSV table ({exc})") from None
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles/extensions it ignores; they do not affect the values.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\..*")
            df = pd.read_excel(p, sheet_name=sheet if sheet is not None else 0, dtype=str)
    except ValueError as exc:
        sheets = _sheet_names(p)
        raise ImportDataError(
            f"{p.name}: {exc}; sheets in the workbook: {', '.join(sheets)}"
        ) from None
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ImportDataError(f"{p.name}: not a readable .xlsx workbook ({exc})") from None
    return df, None


def _sheet_names(p: Path) -> list[str]:
    try:
        with pd.ExcelFile(p) as book:
            return [str(s) for s in book.sheet_names]
    except (OSError, ValueError, zipfile.BadZipFile):
        return []


def _detect_text_encoding(raw: bytes) -> str:
    # utf-8-sig also strips the byte-order mark Excel writes at the start of "CSV UTF-8".
    try:
        raw.decode("utf-8-sig", errors="strict")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def _check_mapping(
    df: pd.DataFrame, mapping: Mapping[str, str] | None, name: str
) -> None:
    if not mapping:
        return
    columns = [str(c) for c in df.columns if c != "geometry"]
    unknown = [k for k in mapping if k not in df.columns]
    if unknown:
        raise ImportDataError(
            f"{name}: --map names column(s) {', '.join(map(repr, unknown))} that the file does "
            f"not have; available columns: {', '.join(columns)}"
        )
    renamed = set(mapping)
    clashes = [v for v in mapping.values() if v in df.columns and v not in renamed]
    dup_targets = sorted({v for v in mapping.values() if list(mapping.values()).count(v) > 1})
    if clashes or dup_targets:
        raise ImportDataError(
            f"{name}: --map would create duplicate column(s) "
            f"{', '.join(map(repr, clashes + dup_targets))}; map only one source to each name"
        )


def _find_column(df: pd.DataFrame, given: str | None, candidates: Sequence[str]) -> str | None:
    if given is not None:
        return given
    by_lower = {str(c).strip().lower(): str(c) for c in df.columns}
    for cand in candidates:
        if cand in by_lower:
            return by_lower[cand]
    return None


def _table_to_gdf(
    df: pd.DataFrame,
    layer_def: Layer,
    *,
    name: str,
    crs: str | None,
    lon_col: str | None,
    lat_col: str | None,
) -> tuple[gpd.GeoDataFrame, bool]:
    """Build geometry from lon/lat (or WKT) columns; also say whether the CRS was assumed."""
    columns = [str(c) for c in df.columns]
    if (lon_col is None) != (lat_col is None):
        raise ImportDataError(f"{name}: give both --lon and --lat, or neither")
    for given in (lon_col, lat_col):
        if given is not None and given not in df.columns:
            raise ImportDataError(
                f"{name}: no column {given!r}; available columns: {', '.join(columns)}"
            )
    lon_name = _find_column(df, lon_col, LON_NAMES)
    lat_name = _find_column(df, lat_col, LAT_NAMES)
    source = normalise_crs_name(crs) if crs else "wgs84"
    assumed = crs is None
    if lon_name is not None and lat_name is not None:
        lon = _numeric(df[lon_name], lon_name, name)
        lat = _numeric(df[lat_name], lat_name, name)
        _check_lon_lat(lon, lat, lon_name, lat_name, source=source, assumed=assumed, name=name)
        present = ~(np.isnan(lon) | np.isnan(lat))
        geoms = np.full(len(df), None, dtype=object)
        geoms[present] = shapely.points(lon[present], lat[present])
        rest = df.drop(columns=[lon_name, lat_name])
    else:
        wkt_name = _find_column(df, None, WKT_NAMES)
        if wkt_name is not None:
            geoms = _parse_wkt(df[wkt_name], wkt_name, name)
            rest = df.drop(columns=[wkt_name])
        elif layer_def.has_geometry and layer_def.geometry_required:
            raise ImportDataError(
                f"{name}: no coordinate columns found (looked for {'/'.join(LON_NAMES)} and "
                f"{'/'.join(LAT_NAMES)}, or a wkt column); columns are: {', '.join(columns)}; "
                "pass --lon/--lat"
            )
        else:
            geoms = np.full(len(df), None, dtype=object)
            rest = df
            assumed = False
    # An assumed WGS-84 is a label, so to_storage() has something to start from.
    gdf = gpd.GeoDataFrame(
        rest, geometry=gpd.GeoSeries(geoms, index=df.index), crs=4326 if assumed else None
    )
    return gdf, assumed


def _numeric(series: pd.Series, column: str, name: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(values) & series.notna().to_numpy() & (
        series.astype(str).str.strip() != ""
    ).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ImportDataError(
            f"{name}: column {column!r} has {int(bad.sum())} non-numeric value(s), e.g. row "
            f"{i + 1}: {series.iloc[i]!r}; use decimal degrees such as 116.3975"
        )
    return values


def _check_lon_lat(
    lon: np.ndarray,
    lat: np.ndarray,
    lon_name: str,
    lat_name: str,
    *,
    source: str,
    assumed: bool,
    name: str,
) -> None:
    """Reject swapped or projected coordinates instead of silently fixing them."""
    ok = ~(np.isnan(lon) | np.isnan(lat))
    if not ok.any():
        return
    lo, la = lon[ok], lat[ok]
    if source not in _GEOGRAPHIC and pyproj.CRS.from_user_input(source).is_projected:
        return
    if (np.abs(lo) > 180).any() or ((np.abs(la) > 90).any() and (np.abs(lo) > 90).any()):
        i = int(np.flatnonzero((np.abs(lo) > 180) | (np.abs(la) > 90))[0])
        hint = "pass the projected CRS, e.g. --crs EPSG:4547" if assumed else "check --crs"
        raise CRSError(
            f"{name}: {lon_name}/{lat_name} are not degrees (e.g. {lo[i]:g}, {la[i]:g}): "
            f"projected coordinates? {hint}"
        )
    # Lat beyond ±90 with plausible lons, or (China) lons 18-54 with lats 73-135: swapped.
    out_of_range = (np.abs(la) > 90).any()
    china_swapped = ((lo >= 18) & (lo <= 54) & (la >= 73) & (la <= 135)).mean() > 0.5
    if out_of_range or china_swapped:
        raise ImportDataError(
            f"{name}: columns look swapped: {lon_name!r} holds latitudes (e.g. {lo[0]:g}) and "
            f"{lat_name!r} longitudes (e.g. {la[0]:g}); use --lon/--lat or swap the columns"
        )


def _parse_wkt(series: pd.Series, column: str, name: str) -> np.ndarray:
    text = series.where(series.notna() & (series.astype(str).str.strip() != ""), None)
    values = text.to_numpy(dtype=object)
    try:
        return np.asarray(shapely.from_wkt(values, on_invalid="raise"), dtype=object)
    except shapely.errors.GEOSException as exc:
        raise ImportDataError(f"{name}: column {column!r} holds invalid WKT ({exc})") from None


def _read_vector(
    p: Path, *, layer: str, encoding: str | None
) -> tuple[gpd.GeoDataFrame, str | None]:
    ext = p.suffix.lower()
    if ext == ".zip":
        return _read_zip(p, layer=layer, encoding=encoding)
    kwargs: dict[str, object] = {}
    used = encoding
    if ext == ".gpkg":
        kwargs["layer"] = _pick_gpkg_layer(p, layer)
    elif ext == ".shp" and encoding is None and not _sibling(p, ".cpg"):
        dbf = _sibling(p, ".dbf")
        used = detect_dbf_encoding(dbf) if dbf else None
    if used:
        kwargs["encoding"] = used
    try:
        gdf = pyogrio.read_dataframe(p, **kwargs)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ImportDataError(f"{p.name}: cannot read the file ({exc})") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise ImportDataError(
            f"{p.name}: cannot decode the text as {used} ({exc}); pass --encoding"
        ) from None
    return gdf, used


def _demote_single_part_multis(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Store a one-part MultiPolygon/MultiLineString/MultiPoint as its single part.

    Shapefiles cannot tell the two apart, writers (pyogrio, QGIS) promote whole layers to Multi
    types, and layers such as ``compounds`` take only Polygon; the single part is the same shape.
    """
    geoms = np.asarray(gdf.geometry.values)
    one_part = shapely.get_num_geometries(geoms) == 1
    multi = np.isin(shapely.get_type_id(geoms), (4, 5, 6)) & one_part
    if not multi.any():
        return gdf
    fixed = geoms.copy()
    fixed[multi] = shapely.get_geometry(geoms[multi], 0)
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(fixed, index=gdf.index, crs=gdf.crs)
    return out


def _sibling(p: Path, suffix: str) -> Path | None:
    for candidate in (p.with_suffix(suffix), p.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


def _read_zip(
    p: Path, *, layer: str, encoding: str | None
) -> tuple[gpd.GeoDataFrame, str | None]:
    # Extracting keeps the shapefile encoding detection identical to the unzipped case.
    with tempfile.TemporaryDirectory(prefix="gisgov-import-") as tmp, zipfile.ZipFile(p) as zf:
        members = [m for m in zf.namelist() if not m.endswith("/") and ".." not in m]
        inner = [m for m in members if Path(m).suffix.lower() in (".shp", ".gpkg", ".geojson")]
        if len(inner) != 1:
            raise ImportDataError(
                f"{p.name}: the zip must hold exactly one .shp/.gpkg/.geojson, found "
                f"{len(inner)} ({', '.join(inner) or 'none'})"
            )
        zf.extractall(tmp, members=members)
        return _read_vector(Path(tmp) / inner[0], layer=layer, encoding=encoding)


def _pick_gpkg_layer(p: Path, layer: str) -> str:
    names = [str(row[0]) for row in pyogrio.list_layers(p)]
    if not names:
        raise ImportDataError(f"{p.name}: the GeoPackage has no layers")
    return layer if layer in names else names[0]


def _restore_truncated_names(
    gdf: gpd.GeoDataFrame, layer_def: Layer, mapping: Mapping[str, str] | None
) -> gpd.GeoDataFrame:
    """Undo the shapefile's 10-character cut for schema columns (``target_hou`` → full name)."""
    present = set(gdf.columns)
    renames: dict[str, str] = {}
    for col in gdf.columns:
        if len(col) != 10 or col in layer_def.column_names or (mapping and col in mapping):
            continue
        full = [c for c in layer_def.column_names if len(c) > 10 and c.startswith(col)]
        if len(full) == 1 and full[0] not in present:
            renames[col] = full[0]
    return gdf.rename(columns=renames) if renames else gdf


#: How far (degrees, ~50 km) imported data may lie outside the workspace's current extent.
EXPECTED_MARGIN_DEG = 0.5


def expected_bounds_of(workspace: Any) -> tuple[float, float, float, float] | None:
    """The area new data should fall in: the workspace's extent plus ~50 km.

    ``None`` for a workspace without geometry yet (anything on Earth is then accepted).
    """
    boxes = []
    for name in ("subdistricts", "communities", "streets", "buildings"):
        b = workspace.bounds(name) if workspace.count(name) else None
        if b:
            boxes.append(b)
    if not boxes:
        return None
    m = EXPECTED_MARGIN_DEG
    return (min(b[0] for b in boxes) - m, min(b[1] for b in boxes) - m,
            max(b[2] for b in boxes) + m, max(b[3] for b in boxes) + m)


def check_bounds(gdf: gpd.GeoDataFrame, bounds: Sequence[float], *, layer: str,
                 name: str) -> None:
    """Refuse rows of ``gdf`` (EPSG:4326) lying outside ``bounds``, naming the first one.

    Raises
    ------
    ImportDataError
        How many rows lie outside, and an example with its key and position.
    """
    _check_bounds(gdf, bounds, LAYERS[layer], name)


def _check_bounds(
    gdf: gpd.GeoDataFrame, bounds: Sequence[float], layer_def: Layer, name: str
) -> None:
    if len(bounds) != 4:
        raise ImportDataError("expected_bounds must be (min_lon, min_lat, max_lon, max_lat)")
    x0, y0, x1, y1 = (float(b) for b in bounds)
    b = shapely.bounds(np.asarray(gdf.geometry.values))
    with np.errstate(invalid="ignore"):
        outside = (b[:, 0] < x0) | (b[:, 1] < y0) | (b[:, 2] > x1) | (b[:, 3] > y1)
    if not outside.any():
        return
    i = int(np.flatnonzero(outside)[0])
    key = layer_def.key
    label = f" ({key} {gdf[key].iloc[i]})" if key in gdf.columns else ""
    raise ImportDataError(
        f"{name}: {int(outside.sum())} of {len(gdf)} rows lie outside the expected area "
        f"(lon {x0:g}–{x1:g}, lat {y0:g}–{y1:g}), e.g. row {i + 1}{label} at "
        f"({b[i, 0]:.6f}, {b[i, 1]:.6f}); check --crs or the coordinates"
    )


def _summarise(name: str, problems: Sequence[Problem]) -> str:
    shown = "; ".join(
        f"{q.layer} {q.key if q.key is not None else '(layer)'} [{q.rule}]: {q.message}"
        for q in problems[:_SHOWN_PROBLEMS]
    )
    more = len(problems) - _SHOWN_PROBLEMS
    tail = f"; and {more} more" if more > 0 else ""
    return f"{name}: {len(problems)} problem(s): {shown}{tail}"


# --- writing helpers -------------------------------------------------------------------------


def _write_csv(gdf: gpd.GeoDataFrame, p: Path) -> None:
    geoms = np.asarray(gdf.geometry.values)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    if present.any():
        types = set(shapely.get_type_id(geoms[present]).tolist())
        if types == {0}:  # all points
            projected = gdf.crs is not None and gdf.crs.is_projected
            x_name, y_name = ("x", "y") if projected else ("lon", "lat")
            clash = [c for c in (x_name, y_name) if c in df.columns]
            if clash:
                raise ImportDataError(
                    f"{p.name}: the layer already has column(s) {', '.join(clash)}; rename "
                    "them before exporting points to CSV"
                )
            x = np.full(len(df), np.nan)
            y = np.full(len(df), np.nan)
            x[present] = shapely.get_x(geoms[present])
            y[present] = shapely.get_y(geoms[present])
            df[x_name] = x
            df[y_name] = y
        else:
            if "wkt" in df.columns:
                raise ImportDataError(
                    f"{p.name}: the layer already has a 'wkt' column; rename it before export"
                )
            df["wkt"] = shapely.to_wkt(geoms, rounding_precision=-1)
    # utf-8-sig: Excel (the usual consumer in a community office) needs the BOM for Chinese.
    df.to_csv(p, index=False, encoding="utf-8-sig")

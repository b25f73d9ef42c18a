"""Tests for gisgov.crs: GCJ-02/BD-09 conversions, CRS names, storage and metric CRSs."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from gisgov import crs as gcrs
from gisgov.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_storage,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalise_crs_name,
    to_metric,
    to_storage,
    transform_points,
    wgs84_to_bd09,
    wgs84_to_gcj02,
    working_crs_for,
)
from gisgov.errors import CRSError

# Published reference pairs. (116.404, 39.915) near Tiananmen is the example in the
# wandergis/coordtransform README and test suite (also used by hutool and coordtransform-rs);
# (123, 45) is from hujiulong/gcoord's unit tests.
FORWARD_PAIRS = [
    # (function, input lon/lat, expected lon/lat, tolerance in degrees)
    (wgs84_to_gcj02, (116.404, 39.915), (116.41024449916938, 39.91640428150164), 1e-9),
    (gcj02_to_bd09, (116.404, 39.915), (116.41036949371029, 39.92133699351021), 1e-9),
    (gcj02_to_bd09, (123.0, 45.0), (123.00636499, 45.00636899), 1e-8),
    # coordtransform's bd09->gcj02 is the closed-form approximation; ours is refined by
    # iteration, so it may differ by a few 1e-7 degrees (a few centimetres).
    (bd09_to_gcj02, (116.404, 39.915), (116.39762729119315, 39.90865673957631), 1e-6),
    # coordtransform/gcoord invert GCJ-02 in one step (metre-level error); ours iterates.
    (gcj02_to_wgs84, (116.404, 39.915), (116.39775550083061, 39.91359571849836), 2e-5),
    (gcj02_to_wgs84, (123.0, 45.0), (122.99395597, 44.99804071), 2e-5),
]


def _metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    geod = pyproj.Geod(ellps="WGS84")
    _, _, dist = geod.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist)


@pytest.mark.parametrize(("func", "given", "expected", "tol"), FORWARD_PAIRS)
def test_reference_pairs(func, given, expected, tol) -> None:
    lon, lat = func(np.array([given[0]]), np.array([given[1]]))
    assert lon[0] == pytest.approx(expected[0], abs=tol)
    assert lat[0] == pytest.approx(expected[1], abs=tol)


def test_gcj02_inverse_is_exact_where_one_step_is_not() -> None:
    lon, lat = gcj02_to_wgs84(np.array([116.404]), np.array([39.915]))
    back_lon, back_lat = wgs84_to_gcj02(lon, lat)
    assert _metres(back_lon, back_lat, np.array([116.404]), np.array([39.915]))[0] < 1e-3


def test_round_trip_over_china_below_half_a_metre() -> None:
    lon, lat = np.meshgrid(np.linspace(73.0, 135.0, 125), np.linspace(18.0, 53.5, 72))
    lon, lat = lon.ravel(), lat.ravel()
    for fwd, inv in [(wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)]:
        back_lon, back_lat = inv(*fwd(lon, lat))
        err = _metres(lon, lat, back_lon, back_lat)
        assert err.max() < 0.5, f"{fwd.__name__}: max round-trip error {err.max():.3g} m"
    # The offset itself is real: hundreds of metres, not zero.
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert np.median(_metres(lon, lat, g_lon, g_lat)) > 100


def test_outside_china_passes_through() -> None:
    lon = np.array([-0.1276, 151.2093, 2.35, 137.9, 100.0])
    lat = np.array([51.5072, -33.8688, 48.85, 35.0, 0.5])
    for func in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_vectorised_shapes_and_scalars() -> None:
    lon = np.full((3, 4), 116.4)
    lat = np.full((3, 4), 39.9)
    for func in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02,
                 wgs84_to_bd09, bd09_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        assert out_lon.shape == (3, 4)
        assert out_lat.shape == (3, 4)
    s_lon, s_lat = wgs84_to_gcj02(116.404, 39.915)
    assert float(s_lon) == pytest.approx(116.41024449916938)
    assert float(s_lat) == pytest.approx(39.91640428150164)
    n_lon, _ = gcj02_to_wgs84(np.array([116.4, np.nan]), np.array([39.9, np.nan]))
    assert np.isnan(n_lon[1])
    assert np.isfinite(n_lon[0])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wgs84", "wgs84"), ("WGS-84", "wgs84"), ("EPSG:4326", "wgs84"), ("4326", "wgs84"),
        (4326, "wgs84"), ("OGC:CRS84", "wgs84"), ("CGCS2000", "cgcs2000"),
        ("epsg:4490", "cgcs2000"), ("4490", "cgcs2000"), ("GCJ-02", "gcj02"), ("gcj02", "gcj02"),
        ("BD09", "bd09"), ("bd-09", "bd09"), ("EPSG:3857", "EPSG:3857"), ("4547", "EPSG:4547"),
        (pyproj.CRS.from_epsg(32650), "EPSG:32650"),
    ],
)
def test_normalise_crs_name(name, expected) -> None:
    assert normalise_crs_name(name) == expected


def test_normalise_unknown_lists_choices() -> None:
    with pytest.raises(CRSError, match=r"wgs84, cgcs2000, gcj02, bd09"):
        normalise_crs_name("mars-grid")


def test_transform_points_dispatch() -> None:
    lon, lat = np.array([116.404]), np.array([39.915])
    g = transform_points(lon, lat, source="wgs84", target="gcj02")
    np.testing.assert_allclose(g, wgs84_to_gcj02(lon, lat))
    b = transform_points(*g, source="GCJ-02", target="bd09")
    np.testing.assert_allclose(b, gcj02_to_bd09(*g))
    w = transform_points(*b, source="bd09", target="EPSG:4326")
    assert _metres(w[0], w[1], lon, lat)[0] < 0.01
    xy = transform_points(*b, source="bd09", target="EPSG:32650")
    assert xy[0][0] > 100_000  # metres, not degrees
    w2 = transform_points(*xy, source="EPSG:32650", target="cgcs2000")
    assert _metres(w2[0], w2[1], lon, lat)[0] < 0.01


def _mixed_gdf(crs: object = 4326) -> gpd.GeoDataFrame:
    geoms = [
        shapely.Point(116.40, 39.91),
        shapely.LineString([(116.40, 39.91), (116.41, 39.92)]),
        shapely.Polygon([(116.40, 39.90), (116.41, 39.90), (116.41, 39.91), (116.40, 39.90)]),
        shapely.MultiPoint([(116.40, 39.91), (116.42, 39.93)]),
        None,
    ]
    return gpd.GeoDataFrame({"id": list("abcde")}, geometry=geoms, crs=crs, index=[5, 6, 7, 8, 9])


def test_to_storage_from_gcj02_all_geometry_types() -> None:
    wgs = _mixed_gdf()
    gcj = from_storage(wgs, target_crs="gcj02")
    assert gcj.attrs["target_crs"] == "gcj02"
    assert gcj.crs.to_epsg() == 4326
    shift = _metres(np.array([116.40]), np.array([39.91]),
                    np.array([gcj.geometry.iloc[0].x]), np.array([gcj.geometry.iloc[0].y]))
    assert shift[0] > 100
    back = to_storage(gcj.set_crs(None, allow_override=True), source_crs="gcj02")
    assert back.attrs["source_crs"] == "gcj02"
    assert back.crs.to_epsg() == 4326
    assert list(back.index) == [5, 6, 7, 8, 9]
    assert back.geometry.iloc[4] is None
    for a, b in zip(wgs.geometry.iloc[:4], back.geometry.iloc[:4], strict=True):
        assert a.geom_type == b.geom_type
        assert shapely.equals_exact(a, b, tolerance=1e-8)


def test_to_storage_relabels_cgcs2000_and_reprojects_epsg() -> None:
    cg = _mixed_gdf(crs=4490)
    out = to_storage(cg)
    assert out.crs.to_epsg() == 4326
    assert out.attrs["source_crs"] == "cgcs2000"
    assert out.geometry.iloc[0].equals(cg.geometry.iloc[0])  # relabelled, not moved
    projected = _mixed_gdf().to_crs(32650)
    out2 = to_storage(projected)
    assert out2.attrs["source_crs"] == "EPSG:32650"
    assert shapely.equals_exact(out2.geometry.iloc[2], _mixed_gdf().geometry.iloc[2], 1e-9)


def test_to_storage_missing_crs_asks_for_crs() -> None:
    with pytest.raises(CRSError, match="--crs"):
        to_storage(_mixed_gdf(crs=None))


def test_to_storage_rejects_contradicting_labels() -> None:
    with pytest.raises(CRSError, match="labelled EPSG:32650"):
        to_storage(_mixed_gdf().to_crs(32650), source_crs="gcj02")


def test_from_storage_targets() -> None:
    wgs = _mixed_gdf()
    assert from_storage(wgs, target_crs="wgs84").geometry.iloc[0].equals(wgs.geometry.iloc[0])
    assert from_storage(wgs, target_crs="cgcs2000").crs.to_epsg() == 4490
    bd = from_storage(wgs, target_crs="bd09")
    p = bd.geometry.iloc[0]
    lon, lat = wgs84_to_bd09(116.40, 39.91)
    assert (p.x, p.y) == pytest.approx((float(lon), float(lat)))
    assert from_storage(wgs, target_crs="EPSG:3857").crs.to_epsg() == 3857
    with pytest.raises(CRSError, match="to_storage"):
        from_storage(wgs.to_crs(3857), target_crs="gcj02")


def test_working_crs_is_utm_zone_of_centre() -> None:
    assert working_crs_for((116.3, 39.8, 116.5, 40.0)).to_epsg() == 32650  # Beijing
    assert working_crs_for((121.4, 31.1, 121.6, 31.3)).to_epsg() == 32651  # Shanghai
    assert working_crs_for((113.2, 23.0, 113.4, 23.2)).to_epsg() == 32649  # Guangzhou
    assert working_crs_for(_mixed_gdf()).to_epsg() == 32650
    assert working_crs_for(_mixed_gdf().to_crs(3857)).to_epsg() == 32650
    with pytest.raises(CRSError):
        working_crs_for((1e6, 1e6, 2e6, 2e6))


def test_to_metric_gives_metres() -> None:
    gdf = _mixed_gdf()
    metric = to_metric(gdf, working_crs_for(gdf))
    line = metric.geometry.iloc[1]
    assert 1300 < line.length < 1500  # 0.01 deg lon and lat at 40 N
    with pytest.raises(CRSError, match="projected"):
        to_metric(gdf, 4326)


def test_module_surface() -> None:
    assert set(gcrs.__all__) >= {"wgs84_to_gcj02", "to_storage", "working_crs_for"}


@pytest.mark.parametrize(("lon", "lat"), [(0.0, -90.0), (120.0, -89.999), (180.0, -90.0)])
@pytest.mark.parametrize("target", ["wgs84", "gcj02", "cgcs2000", "EPSG:3857"])
def test_bd09_within_the_offset_of_the_south_pole_is_a_crs_error(
    lon: float, lat: float, target: str
) -> None:
    # BD-09 adds 0.006 degrees of latitude: these have no position on the globe, and used
    # to travel on as latitude -90.006 (a NaN distance, a 500 from /lookup)
    with pytest.raises(CRSError, match="pole"):
        transform_points([lon], [lat], source="bd09", target=target)


def test_valid_positions_still_convert_next_to_the_rejected_ones() -> None:
    x, y = transform_points([116.410369, 0.0], [39.921337, 89.0], source="bd09",
                            target="wgs84")
    assert np.all(np.abs(y) <= 90)
    assert round(float(x[0]), 3) == 116.398
    # NaN in, NaN out (missing coordinates are not an error of the transform)
    xn, yn = transform_points([np.nan], [np.nan], source="bd09", target="wgs84")
    assert np.isnan(xn[0])
    assert np.isnan(yn[0])

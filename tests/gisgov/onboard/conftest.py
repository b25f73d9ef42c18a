"""Onboarding fixtures: a tiny OSM XML town in China, a small OSM extract, Excel registers.

The XML town is built here so that GCJ-02 matters (the offset is zero outside China) and its
names are Chinese; the ``.osm.pbf`` extract is vendored in ``tests/data/`` (source and licence
in ``tests/data/README.md``), never downloaded at test time.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

#: South-west corner of the XML town (a county town in Henan) and its spacing in degrees.
LON0, LAT0 = 113.600, 34.700
STEP = 0.002  # ~180 m east-west, ~220 m north-south


def _town_xml() -> str:
    """A 4×4 street lattice, one footway, a bridge, 8 buildings, a compound and a place."""
    nodes: list[str] = []
    ways: list[str] = []
    nid = 0

    def node(lon: float, lat: float, tags: dict[str, str] | None = None) -> int:
        nonlocal nid
        nid += 1
        body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in (tags or {}).items())
        nodes.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{body}</node>')
        return nid

    def way(wid: int, refs: list[int], tags: dict[str, str]) -> None:
        nd = "".join(f'<nd ref="{r}"/>' for r in refs)
        tg = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        ways.append(f'<way id="{wid}" version="1">{nd}{tg}</way>')

    grid = {(i, j): node(LON0 + i * STEP, LAT0 + j * STEP) for i in range(4) for j in range(4)}
    ew = [("人民路", "primary"), ("幸福路", "residential"), ("建设街", "tertiary"),
          ("文化路", "secondary")]
    for j, (name, hw) in enumerate(ew):
        tags = {"highway": hw, "name": name}
        if j == 1:
            tags = {"highway": hw, "name": "Xingfu Road", "name:zh": name}
        way(100 + j, [grid[(i, j)] for i in range(4)], tags)
    for i, name in enumerate(["东风街", "和平路", "新华路", "解放路"]):
        way(200 + i, [grid[(i, j)] for j in range(4)],
            {"highway": "residential" if i in (1, 2) else "primary", "name": name})
    # A footway across the middle block, joined at both ends to the lattice's nodes.
    way(300, [grid[(1, 1)], grid[(2, 2)]], {"highway": "footway"})
    # A bridge crossing 幸福路 between lattice nodes without sharing a node: not a junction.
    a = node(LON0 + 2.5 * STEP, LAT0 + 0.5 * STEP)
    b = node(LON0 + 2.5 * STEP, LAT0 + 1.5 * STEP)
    way(301, [a, b], {"highway": "cycleway", "bridge": "yes"})
    way(302, [grid[(0, 0)], grid[(0, 0)]], {"highway": "construction"})
    # Buildings in the two western blocks between 人民路 and 幸福路, addressed on 幸福路.
    wid = 400
    for k in range(8):
        x = LON0 + (k // 4) * STEP + (0.1 + 0.2 * (k % 4)) * STEP
        y = LAT0 + 0.35 * STEP
        d = 0.0003
        ring = [node(x, y), node(x + d, y), node(x + d, y + d * 0.8), node(x, y + d * 0.8)]
        tags = {"building": "residential" if k % 2 == 0 else "yes",
                "addr:street": "幸福路", "addr:housenumber": str(k + 1)}
        if k % 3 == 0:
            tags["building:levels"] = "6"
        way(wid + k, [*ring, ring[0]], tags)
    c = [node(LON0 + 0.05 * STEP, LAT0 + 0.05 * STEP), node(LON0 + 0.95 * STEP, LAT0 + 0.05 * STEP),
         node(LON0 + 0.95 * STEP, LAT0 + 0.95 * STEP), node(LON0 + 0.05 * STEP, LAT0 + 0.95 * STEP)]
    way(500, [*c, c[0]], {"landuse": "residential", "name": "幸福小区"})
    node(LON0 + 1.5 * STEP, LAT0 + 2.5 * STEP, {"place": "neighbourhood", "name": "文化片区"})
    return ("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"test\">\n"
            + "\n".join(nodes) + "\n" + "\n".join(ways) + "\n</osm>\n")


@pytest.fixture(scope="session")
def town_osm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The XML town as a ``.osm`` file."""
    path = tmp_path_factory.mktemp("osm") / "town.osm"
    path.write_text(_town_xml(), encoding="utf-8")
    return path


#: The vendored extract (685 kB, © OpenStreetMap contributors, ODbL; tests/data/README.md).
PBF = Path(__file__).resolve().parents[2] / "data" / "Helsinki.osm.pbf"


@pytest.fixture(scope="session")
def package_pbf() -> Path:
    """``Helsinki.osm.pbf``, a small real OSM extract in the binary format."""
    assert PBF.exists(), PBF
    return PBF

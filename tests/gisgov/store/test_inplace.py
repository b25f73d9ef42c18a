"""The GeoPackage store writes in place: same inode, no temporary files, crash-safe, WAL readers.

The crash tests run the writer in a subprocess and ``kill -9`` it while its transaction is
open (a hook in the subprocess says when it is half-way through copying a layer), or at
random points over several iterations; afterwards the layer must be entirely old or
entirely new and SQLite's ``integrity_check`` and the R-tree's ``rtreecheck`` must pass.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import pytest

from gisgov.audit import AUDIT_TABLE, read_audit, record_access
from gisgov.errors import StoreError
from gisgov.store import gpkg as gpkg_store
from gisgov.store import open_workspace

ROOT = Path(__file__).resolve().parents[3]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _temporaries(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.glob(f".{path.name}.*"))


def _check_file(path: Path) -> None:
    """SQLite's and the R-tree's own consistency checks, from a fresh connection."""
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                   "AND name LIKE 'rtree_%' AND sql LIKE 'CREATE VIRTUAL%'"):
            assert con.execute("SELECT rtreecheck(?)", (name,)).fetchone() == ("ok",), name


def test_import_without_fcntl(tmp_path: Path) -> None:
    """Windows has no fcntl: the store must import and write without it."""
    script = textwrap.dedent(f"""
        import sys
        sys.modules["fcntl"] = None  # any `import fcntl` now raises ImportError
        import pandas as pd
        import gisgov.store
        from gisgov.store import open_workspace
        ws = open_workspace({str(tmp_path / "win.gpkg")!r}, create=True)
        with ws.transaction() as tx:
            tx.write_table("notes", pd.DataFrame({{"n": [1, 2]}}))
        print(ws.count("notes"), "fcntl" in sys.modules and sys.modules["fcntl"] is None)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=_env(), check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "True"]


def test_one_row_write_keeps_the_inode_and_leaves_no_temporary(county_gpkg: Path) -> None:
    ws = open_workspace(county_gpkg)
    inode = county_gpkg.stat().st_ino
    version = ws.version
    for i in range(3):
        record_access(ws, actor="test", action="read_personal", target=f"households {i}")
    assert county_gpkg.stat().st_ino == inode
    assert _temporaries(county_gpkg) == []
    assert read_audit(ws)["target"].tolist() == ["households 0", "households 1", "households 2"]
    assert ws.version == version  # bookkeeping rows leave the caches alone
    assert ws.table_version(AUDIT_TABLE) == 3
    with closing(sqlite3.connect(county_gpkg)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # an attribute table appended by plain INSERTs keeps GDAL's feature count right
        assert con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?",
                           (AUDIT_TABLE,)).fetchone() == (3,)
    # GDAL (QGIS) reads what the store wrote
    audit = pyogrio.read_dataframe(county_gpkg, layer=AUDIT_TABLE)
    assert audit["target"].tolist()[-1] == "households 2"
    _check_file(county_gpkg)


def test_replace_in_place_is_a_valid_geopackage(county_gpkg: Path) -> None:
    """A replaced layer keeps what QGIS needs: contents, geometry column, R-tree, triggers."""
    ws = open_workspace(county_gpkg)
    inode = county_gpkg.stat().st_ino
    old = ws.read("households")
    new = old.iloc[::2].copy()
    ws.write("households", new)
    assert county_gpkg.stat().st_ino == inode
    assert _temporaries(county_gpkg) == []
    _check_file(county_gpkg)
    gdal = pyogrio.read_dataframe(county_gpkg, layer="households")
    assert sorted(gdal["id"]) == sorted(new["id"])
    info = pyogrio.read_info(county_gpkg, layer="households")
    assert info["features"] == len(new)
    assert info["geometry_type"] == "Point"
    # the R-tree answers a box query exactly like a plain geometric test
    b = new.total_bounds
    box = (b[0], b[1], (b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    by_gdal = pyogrio.read_dataframe(county_gpkg, layer="households", bbox=box)
    assert sorted(ws.read("households", bbox=box)["id"]) == sorted(by_gdal["id"])
    assert len(by_gdal) == len(new.cx[box[0]:box[2], box[1]:box[3]]) > 0
    with closing(sqlite3.connect(county_gpkg)) as con:
        triggers = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'households'")}
    assert {"rtree_households_geom_insert", "rtree_households_geom_delete",
            "trigger_insert_feature_count_households"} <= triggers
    # appending a feature goes through those triggers (ST_MinX … registered by the store)
    ws.write("households", old[~old["id"].isin(new["id"])].iloc[:5], mode="append")
    assert pyogrio.read_info(county_gpkg, layer="households")["features"] == len(new) + 5
    _check_file(county_gpkg)


def test_reader_sees_the_old_data_during_a_write(county_gpkg: Path) -> None:
    ws = open_workspace(county_gpkg)
    before = ws.count("households")
    reader = (f"import pyogrio; print(pyogrio.read_info({str(county_gpkg)!r}, "
              "layer='households')['features'])")
    with ws.transaction() as tx:
        tx.write("households", ws.read("households").iloc[:10])
        assert tx.count("households") == 10
        # another connection of this process, and GDAL in another process, see the old data
        assert open_workspace(county_gpkg).count("households") == before
        out = subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True,
                             env=_env(), check=True)
        assert int(out.stdout) == before
    assert ws.count("households") == 10
    out = subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True,
                         env=_env(), check=True)
    assert int(out.stdout) == 10


def test_second_writer_waits_and_then_gives_up(county_gpkg: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """BEGIN IMMEDIATE is the writer lock: no lock file, a one-line error when busy."""
    monkeypatch.setattr(gpkg_store, "BUSY_TIMEOUT_S", 0.2)
    ws = open_workspace(county_gpkg)
    with ws.transaction() as tx:
        tx.set_meta("holder", "first")
        with pytest.raises(StoreError, match="busy with another write"):
            ws.set_meta("holder", "second")
    assert ws.get_meta("holder") == "first"
    assert not county_gpkg.with_name(f".{county_gpkg.name}.lock").exists()


def test_failed_write_in_a_transaction_changes_nothing(county_gpkg: Path) -> None:
    ws = open_workspace(county_gpkg)
    households, version = ws.read("households"), ws.version

    def fail() -> None:
        with ws.transaction() as tx:
            tx.write("households", households.iloc[:3])
            tx.write_table("audit_log", pd.DataFrame({"at": ["x"]}), mode="append")
            raise StoreError("disk full (simulated)")

    with pytest.raises(StoreError, match="simulated"):
        fail()
    assert ws.count("households") == len(households)
    assert not ws.has_table("audit_log")
    assert ws.version == version
    assert _temporaries(county_gpkg) == []


_KILL_SCRIPT = """
import os, sys, time
from gisgov.store import gpkg, open_workspace

path, mode = sys.argv[1], sys.argv[2]
ws = open_workspace(path)
new = ws.read("households").iloc[::3].copy()
new["id"] = "new-" + new["id"].astype(str)
if mode == "hook":
    copy_rtree = gpkg._copy_rtree

    def paused(con, src, rtree, *rest):
        copy_rtree(con, src, rtree, *rest)
        print("MID", flush=True)  # rows and R-tree copied, transaction still open
        time.sleep(600)

    gpkg._copy_rtree = paused
print("START", flush=True)
ws.write("households", new)
print("DONE", flush=True)
"""


def _start_writer(path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(path), mode],
                            stdout=subprocess.PIPE, text=True, env=_env())


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _old_or_new(path: Path, old_ids: set[str]) -> str:
    _check_file(path)
    ids = set(open_workspace(path).read("households")["id"].astype(str))
    if ids == old_ids:
        return "old"
    assert ids
    assert all(i.startswith("new-") for i in ids), "a mix of old and new rows"
    assert {i[4:] for i in ids} <= old_ids
    return "new"


def test_kill_9_in_the_middle_of_a_replace_leaves_the_old_layer(county_gpkg: Path) -> None:
    old_ids = set(open_workspace(county_gpkg).read("households")["id"].astype(str))
    proc = _start_writer(county_gpkg, "hook")
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip() for _ in range(2)]
    assert lines == ["START", "MID"]
    _kill(proc)
    assert _old_or_new(county_gpkg, old_ids) == "old"
    # the side file of the killed writer is an orphan: cleaned once it is a minute old
    leftovers = list(county_gpkg.parent.glob(f".{county_gpkg.name}.*.tmp.gpkg"))
    for side in leftovers:
        os.utime(side, (time.time() - 3600, time.time() - 3600))
    open_workspace(county_gpkg).close()
    assert list(county_gpkg.parent.glob(f".{county_gpkg.name}.*.tmp.gpkg")) == []
    # and the workspace takes the same write afterwards
    proc = _start_writer(county_gpkg, "plain")
    out, _ = proc.communicate(timeout=300)
    assert out.split() == ["START", "DONE"]
    assert _old_or_new(county_gpkg, old_ids) == "new"


def test_kill_9_at_random_points_leaves_old_or_new(county_gpkg: Path, tmp_path: Path) -> None:
    """Eight writers killed at random points of the write: never a half-written layer."""
    old_ids = set(open_workspace(county_gpkg).read("households")["id"].astype(str))
    pristine = tmp_path / "pristine.gpkg"
    shutil.copy2(county_gpkg, pristine)
    # how long one write takes from START to DONE here, to spread the kills over it
    proc = _start_writer(county_gpkg, "plain")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "START"
    t0 = time.perf_counter()
    assert proc.stdout.readline().strip() == "DONE"
    span = time.perf_counter() - t0
    proc.wait()
    proc.stdout.close()
    rng = random.Random(13)
    seen = []
    for i in range(8):
        _restore(pristine, county_gpkg)
        proc = _start_writer(county_gpkg, "plain")
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "START"
        time.sleep(span * (i + rng.random()) / 8)  # where the kill lands, not a time limit
        _kill(proc)
        seen.append(_old_or_new(county_gpkg, old_ids))
    assert "old" in seen, seen


def _restore(pristine: Path, path: Path) -> None:
    """Put the untouched county back (no connection is open: the writer is dead)."""
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    shutil.copy2(pristine, path)


def test_orphan_temporaries_are_cleaned_on_open(county_gpkg: Path) -> None:
    old = county_gpkg.with_name(f".{county_gpkg.name}.abc123.tmp.gpkg")
    fresh = county_gpkg.with_name(f".{county_gpkg.name}.def456.tmp.gpkg")
    for p in (old, fresh):
        p.write_bytes(b"half a copy")
    stale = time.time() - 3600
    os.utime(old, (stale, stale))
    open_workspace(county_gpkg).close()
    assert not old.exists()
    assert fresh.exists()  # may be another writer's side file that is being written


def test_filter_values_are_bound_not_formatted(county_gpkg: Path) -> None:
    ws = open_workspace(county_gpkg)
    n = ws.count("households")
    evil = "x') OR 1=1 --"
    assert ws.count("households", where={"id": evil}) == 0
    assert ws.count("households", where={"id": [evil, "y' OR '1'='1"]}) == 0
    assert ws.read_table("households", where={"building_id": evil}).empty
    ids = ws.read("households", limit=3)["id"].tolist()
    # a long list travels as one parameter (no limit on the number of SQL variables)
    many = [*ids, *(f"nope{i}" for i in range(40_000))]
    assert ws.read("households", where={"id": many})["id"].tolist() == ids
    assert ws.count("households") == n


def test_a_file_that_is_not_a_geopackage_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.gpkg"
    path.write_text("这不是数据库 " * 200, encoding="utf-8")
    with pytest.raises(StoreError, match=r"notes\.gpkg is not a GeoPackage"):
        open_workspace(path)
    assert path.read_text(encoding="utf-8").startswith("这不是数据库")


def test_a_write_that_fails_half_way_is_undone_even_if_the_caller_goes_on(
        county_gpkg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each write is a savepoint: catching its error inside a transaction commits no half."""
    ws = open_workspace(county_gpkg)
    households = ws.read("households")

    def broken(con: sqlite3.Connection, src: sqlite3.Connection, rtree: str,
               alias: str | None = None) -> None:
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(gpkg_store, "_copy_rtree", broken)
    with ws.transaction() as tx:
        with pytest.raises(StoreError, match="cannot write households"):
            tx.write("households", households.iloc[:5])  # table dropped, rows copied, then…
        tx.set_meta("after", "the failed write")
    assert ws.get_meta("after") == "the failed write"
    assert sorted(ws.read("households")["id"]) == sorted(households["id"])
    _check_file(county_gpkg)


def test_pages_are_read_while_another_writer_holds_the_lock(county_gpkg: Path) -> None:
    """A page never waits for a writer: it reads the last committed state (WAL)."""
    from gisgov.store._features import FeatureQuery

    ws = open_workspace(county_gpkg)
    info = ws.describe("buildings")
    query = FeatureQuery(table="buildings", key="id", columns=(), geometry=info.geometry,
                         limit=5)
    before = [r.key for r in ws.features(query, info).rows]
    assert before
    with closing(sqlite3.connect(county_gpkg, isolation_level=None, timeout=0)) as writer:
        writer.execute("BEGIN IMMEDIATE")  # the file's write lock, held
        writer.execute("DELETE FROM buildings WHERE id = ?", (before[0],))
        # a blocked reader would fail with "database is locked" after the busy timeout
        assert [r.key for r in ws.features(query, info).rows] == before
        writer.execute("ROLLBACK")
    ws.close()


def test_audit_appends_keep_the_protocol_and_fall_back(county_gpkg: Path) -> None:
    """Bookkeeping appends take the kept connection once the table exists; a new column
    still goes through the general path; both count as writes of the table."""
    ws = open_workspace(county_gpkg)
    row = {"at": "2026-01-01T00:00:00+00:00", "actor": "key:k1/planner",
           "action": "read_personal", "target": "households", "detail": "1 row(s)"}
    ws.write_table(AUDIT_TABLE, pd.DataFrame([row]), mode="append", bump_version=False)
    ws.write_table(AUDIT_TABLE, pd.DataFrame([row, {**row, "detail": None}]), mode="append",
                   bump_version=False)
    assert ws._appender is not None  # the second append took the kept connection
    ws.write_table(AUDIT_TABLE, pd.DataFrame([{**row, "note": "widened"}]), mode="append",
                   bump_version=False)
    audit = read_audit(ws)
    assert len(audit) == 4
    assert audit["detail"].isna().sum() == 1
    assert audit["note"].dropna().tolist() == ["widened"]
    assert ws.table_version(AUDIT_TABLE) == 3  # three writes
    ws.close()
    _check_file(county_gpkg)


def test_many_writes_in_one_transaction_copy_inside_sqlite_then_stream(
        county_gpkg: Path) -> None:
    """The first writes of a transaction attach their side file and copy inside SQLite; past
    the attach limit the rest stream their rows: every table is written either way."""
    ws = open_workspace(county_gpkg)
    households = ws.read("households")
    n = gpkg_store._MAX_ATTACHED + 3
    with ws.transaction() as tx:
        for i in range(n):
            tx.write_table(f"t{i}", pd.DataFrame({"i": [i] * (i + 1)}))
        tx.write("households", households.iloc[:7])
    assert [len(ws.read_table(f"t{i}")) for i in range(n)] == list(range(1, n + 1))
    again = ws.read("households", bbox=tuple(households.iloc[:7].total_bounds))
    assert sorted(again["id"]) == sorted(households["id"].iloc[:7])  # R-tree copied too
    _check_file(county_gpkg)


def test_reads_pause_the_collector_and_give_it_back_as_it_was(county_gpkg: Path) -> None:
    """A read pauses Python's cyclic collector while it builds its rows (gisgov.gcpause) and
    leaves it as it found it: on, or off when the caller had switched it off."""
    import gc

    from gisgov.gcpause import gc_paused

    ws = open_workspace(county_gpkg)
    seen: list[bool] = []
    frame = gpkg_store._frame

    def spy(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return frame(*args)

    assert gc.isenabled()
    gpkg_store._frame = spy
    try:
        n = len(ws.read("households", columns=["building_id"]))
        assert gc.isenabled()
        with gc_paused():
            with gc_paused():
                ws.read("members")
            assert not gc.isenabled()  # the inner block does not switch it back on
        assert gc.isenabled()
        gc.disable()
        try:
            ws.read("grids")
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gpkg_store._frame = frame
    assert n > 0
    assert seen == [False, False, False]

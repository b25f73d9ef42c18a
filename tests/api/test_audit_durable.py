"""Every unmasked read is audited durably: committed before the response, never buffered."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from api.state import AuditBuffer
from gisgov.audit import read_audit
from gisgov.errors import StoreError
from gisgov.keys import create_key
from gisgov.privacy import Principal
from gisgov.store import open_workspace
from tests.api.api_test_helpers import FIELD_BUILDING_POINT, auth
from tests.api.conftest import grid_code, make_client

ROOT = Path(__file__).resolve().parents[2]
COORDINATOR = Principal(role="coordinator", key_id="k1")


def test_record_is_committed_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "ws.gpkg"
    ws = open_workspace(path, create=True)
    # a long flush interval used to mean up to that many seconds of records in memory
    audit = AuditBuffer(ws, interval=3600)
    audit.record(COORDINATOR, action="read_personal", target="households", detail="3 row(s)")
    other = open_workspace(path)  # another handle: sees only committed data
    assert read_audit(other)["target"].tolist() == ["households"]
    assert audit.flush() == 0  # nothing was pending
    audit.close()
    assert len(read_audit(other)) == 1


def test_record_survives_kill_9_right_after_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "ws.gpkg"
    open_workspace(path, create=True).close()
    script = textwrap.dedent(f"""
        import os, signal
        from api.state import AuditBuffer
        from gisgov.privacy import Principal
        from gisgov.store import open_workspace
        audit = AuditBuffer(open_workspace({str(path)!r}), interval=2.0)
        audit.record(Principal(role="planner", key_id="k9"), action="lookup", target="grid 1")
        os.kill(os.getpid(), signal.SIGKILL)  # the response would be sent now
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", script], env=env, check=False)
    assert out.returncode == -signal.SIGKILL
    audit = read_audit(open_workspace(path))
    assert audit["target"].tolist() == ["grid 1"]
    assert audit["actor"].iloc[0].startswith("key:k9")


class _BrokenStore:
    """A workspace whose writes fail (disk full, store down)."""

    def write_table(self, *args: Any, **kwargs: Any) -> None:
        raise StoreError("disk I/O error (simulated)")


def test_failed_record_withholds_the_data() -> None:
    audit = AuditBuffer(_BrokenStore(), interval=0)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="not sent"):
        audit.record(COORDINATOR, action="lookup", target="grid 1")


def test_no_personal_data_is_served_when_the_audit_cannot_be_written(
        world_gpkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "world.gpkg"
    shutil.copyfile(world_gpkg, path)
    ws = open_workspace(path)
    token = create_key(ws, role="coordinator", communities=[grid_code(0, 0)[:12]])[0]
    ws.close()
    lon, lat = FIELD_BUILDING_POINT
    with make_client(str(path)) as client:
        ok = client.get("/lookup", params={"lon": lon, "lat": lat}, headers=auth(token))
        assert ok.status_code == 200
        assert ok.json()["household"]["head_name"]
        state = client.app.state.gisgov  # type: ignore[attr-defined]

        def broken(*args: Any, **kwargs: Any) -> None:
            raise StoreError("disk I/O error (simulated)")

        monkeypatch.setattr(state.ws, "write_table", broken)
        r = client.get("/lookup", params={"lon": lon, "lat": lat}, headers=auth(token))
        assert r.status_code == 503
        assert ok.json()["household"]["head_name"] not in r.text
    assert len(read_audit(open_workspace(path))) == 1
    assert pd.Timestamp(read_audit(open_workspace(path))["at"].iloc[0]).tzinfo is not None


def _audited_pages(path: Path) -> int:
    """Audit records of households pages, read as another process would (its own
    connection): only what is committed."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(path)) as con:
        return int(con.execute("SELECT count(*) FROM audit_log WHERE action = 'read_personal' "
                               "AND target = 'households'").fetchone()[0])


def test_audited_geopackage_page_is_committed_before_the_response(
        world_gpkg: Path, tmp_path: Path) -> None:
    path = tmp_path / "world.gpkg"
    shutil.copyfile(world_gpkg, path)
    ws = open_workspace(path)
    token = create_key(ws, role="planner")[0]
    ws.close()
    with make_client(str(path)) as client:
        for i in range(3):  # the first record may create the table; the others append
            r = client.get("/collections/households/items", params={"limit": 5},
                           headers=auth(token))
            assert r.status_code == 200
            assert r.json()["features"]
            assert _audited_pages(path) == i + 1  # before any flush or shutdown


def test_geopackage_page_is_withheld_when_its_record_fails(world_gpkg: Path,
                                                           tmp_path: Path) -> None:
    """The kept audit connection's failure (here a trigger refusing the INSERT, as a full
    disk would) is a 503 without the data, and the next record is written again."""
    import sqlite3
    from contextlib import closing

    path = tmp_path / "world.gpkg"
    shutil.copyfile(world_gpkg, path)
    ws = open_workspace(path)
    token = create_key(ws, role="planner")[0]
    ws.close()
    params = {"limit": 5}
    with make_client(str(path)) as client:
        ok = client.get("/collections/households/items", params=params, headers=auth(token))
        assert ok.status_code == 200
        name = next(f["properties"]["head_name"] for f in ok.json()["features"]
                    if f["properties"].get("head_name"))
        with closing(sqlite3.connect(path)) as con:
            con.execute("CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
                        "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END")
            con.commit()
        r = client.get("/collections/households/items", params=params, headers=auth(token))
        assert r.status_code == 503
        assert name not in r.text
        with closing(sqlite3.connect(path)) as con:
            con.execute("DROP TRIGGER refuse")
            con.commit()
        again = client.get("/collections/households/items", params=params, headers=auth(token))
        assert again.status_code == 200
    assert _audited_pages(path) == 2

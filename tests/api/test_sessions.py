"""Browser sign-in: one-time codes, session cookies that act as the key, sign-out, expiry.

The cookie must give a browser exactly what the key gives a script (same bodies), for reads
only (a page on another site must not start a job with it), and end when the user signs out,
the session expires or the key is revoked. Codes and sessions are stored hashed, on both
stores, and signing in must not bump the workspace version (no map cache is dropped).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.deps import SESSION_COOKIE
from gisgov.keys import InvalidKeyError, create_key, revoke_key
from gisgov.sessions import (
    CODES_TABLE,
    SESSIONS_TABLE,
    SessionRing,
    end_session,
    issue_signin_code,
    redeem_signin_code,
    start_session,
)
from gisgov.store import open_workspace
from tests.api.api_test_helpers import FIELD_BUILDING_POINT, FIELD_GRID, assert_problem, auth
from tests.api.conftest import STORES, make_client

COMMUNITY = FIELD_GRID[:12]


@pytest.fixture(params=STORES)
def ws_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "gpkg":
        url = str(tmp_path / "world.gpkg")
        shutil.copyfile(request.getfixturevalue("world_gpkg"), url)
        return url
    return str(request.getfixturevalue("world_postgis")())


def test_codes_are_one_time_hashed_and_expire(ws_url: str) -> None:
    ws = open_workspace(ws_url)
    _, key = create_key(ws, role="field", grids=[FIELD_GRID])
    version = ws.version
    t0 = 1_800_000_000.0
    code, expires = issue_signin_code(ws, key.key_id, hours=2, now=t0)
    assert expires == t0 + 7200
    stored = ws.read_table(CODES_TABLE)
    assert code not in stored.to_string()
    assert len(stored) == 1
    with pytest.raises(InvalidKeyError, match="已过期或已使用"):
        redeem_signin_code(ws, code, now=t0 + 7201)
    with pytest.raises(InvalidKeyError):
        redeem_signin_code(ws, code + "x", now=t0)
    assert redeem_signin_code(ws, code, now=t0 + 60) == key.key_id
    with pytest.raises(InvalidKeyError):  # once
        redeem_signin_code(ws, code, now=t0 + 61)
    assert len(ws.read_table(CODES_TABLE)) == 0  # used and expired codes are dropped
    secret, session = start_session(ws, key.key_id, hours=1, now=t0)
    ring = SessionRing(ws, check_interval=0)
    assert ring.session_for(secret, now=t0 + 10) == session
    assert ring.session_for(secret, now=t0 + 3600) is None  # expired
    assert secret not in ws.read_table(SESSIONS_TABLE).to_string()
    assert end_session(ws, secret, now=t0 + 10)
    assert ring.session_for(secret, now=t0 + 10) is None
    assert not end_session(ws, secret, now=t0 + 10)
    assert ws.version == version  # bookkeeping: no cache keyed on the version is dropped
    with pytest.raises(ValueError, match="valid for some time"):
        issue_signin_code(ws, key.key_id, hours=0)
    ws.close()


@pytest.fixture
def served(world_gpkg: Path, tmp_path: Path) -> Iterator[tuple[Any, dict[str, str], str]]:
    url = str(tmp_path / "world.gpkg")
    shutil.copyfile(world_gpkg, url)
    ws = open_workspace(url)
    keys = {"field": create_key(ws, role="field", grids=[FIELD_GRID])[0],
            "coordinator": create_key(ws, role="coordinator", communities=[COMMUNITY])[0]}
    ws.close()
    with make_client(url) as client:
        yield client, keys, url


def _sign_in(client: Any, url: str, token: str) -> dict[str, Any]:
    ws = open_workspace(url)
    code, _ = issue_signin_code(ws, token.split("_")[1])
    ws.close()
    r = client.post("/auth/session", json={"code": code})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here: a Secure cookie would never come back
    body: dict[str, Any] = r.json()
    return body


def _body(content: bytes) -> Any:
    """A response body without its time stamp (OGC pages carry one)."""
    try:
        doc = json.loads(content)
    except ValueError:
        return content
    if isinstance(doc, dict):
        doc.pop("timeStamp", None)
    return doc


def test_the_cookie_reads_what_the_key_reads(served: tuple[Any, dict[str, str], str]) -> None:
    client, keys, url = served
    reads = ["/collections/households/items?limit=1000", "/collections/staff/items?limit=1000",
             f"/lookup?lon={FIELD_BUILDING_POINT[0]}&lat={FIELD_BUILDING_POINT[1]}",
             "/maps/data/households.geojson", "/maps/"]
    for role in ("field", "coordinator"):
        client.cookies.clear()
        public = {u: client.get(u).content for u in reads}
        who = _sign_in(client, url, keys[role])
        assert who["role"] == role
        assert who["by"] == "session"
        assert who["home"] == ("/field" if role == "field" else "/maps/")
        with_cookie = {u: client.get(u) for u in reads}
        jar = dict(client.cookies)
        client.cookies.clear()
        for u in reads:
            by_key = client.get(u, headers=auth(keys[role]))
            assert with_cookie[u].status_code == by_key.status_code == 200, u
            assert _body(with_cookie[u].content) == _body(by_key.content), u
            assert _body(with_cookie[u].content) != _body(public[u]), u  # not the public view
        client.cookies.update(jar)
        # Unsafe methods ignore the cookie: another site's form cannot start a job with it.
        r = client.post("/jobs/assign", json={"min_load": 1, "max_load": 10})
        assert_problem(r, 403)
        assert "role public" in r.json()["detail"]
    # Signing out ends the session on the server: the old cookie reads as public again.
    old = client.cookies.get(SESSION_COOKIE)
    assert_problem(client.post("/auth/signout", headers={"Origin": "https://evil.example"}), 403)
    r = client.post("/auth/signout", headers={"Origin": "http://testserver"})
    assert r.status_code == 200
    assert r.json()["signed_out"] is True
    assert 'gisgov_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, old)
    assert client.get("/auth/session").json()["role"] == "public"
    assert_problem(client.get("/maps/data/households.geojson"), 403)


def test_revoked_key_ends_its_sessions_and_bad_codes_fail(
        served: tuple[Any, dict[str, str], str]) -> None:
    client, keys, url = served
    _sign_in(client, url, keys["field"])
    assert client.get("/auth/session").json()["role"] == "field"
    ws = open_workspace(url)
    revoke_key(ws, keys["field"].split("_")[1])
    ws.close()
    client.app.state.gisgov.keys.invalidate()
    assert client.get("/auth/session").json()["role"] == "public"
    assert_problem(client.post("/auth/session", json={"code": "nope"}), 401)
    # Another site's page cannot sign this browser in to a key of its choosing.
    forged = client.post("/auth/session", json={"key": keys["coordinator"]},
                         headers={"Origin": "https://evil.example"})
    assert_problem(forged, 403)
    assert "set-cookie" not in forged.headers
    assert_problem(client.post("/auth/session", json={}), 400)
    # An API key can be traded too (older /field#key= links), and is audited like a code.
    r = client.post("/auth/session", json={"key": keys["coordinator"]})
    assert r.status_code == 200
    assert r.json()["role"] == "coordinator"
    state = client.app.state.gisgov
    state.audit.flush()
    from gisgov.audit import read_audit

    assert (read_audit(state.ws)["action"] == "signin").sum() == 2


def test_secure_cookie_behind_a_trusted_tls_proxy(world_gpkg: Path, tmp_path: Path) -> None:
    url = str(tmp_path / "world.gpkg")
    shutil.copyfile(world_gpkg, url)
    ws = open_workspace(url)
    token = create_key(ws, role="field", grids=[FIELD_GRID])[0]
    ws.close()
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(workspace=url, audit_flush_seconds=0,
                              trusted_proxies=["127.0.0.1"]))
    with TestClient(app, client=("127.0.0.1", 40000)) as client:  # the proxy's address
        r = client.post("/auth/session", json={"key": token},
                        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.2.3"})
        assert r.status_code == 200, r.text
        assert "Secure" in r.headers["set-cookie"]
    with make_client(url) as client:  # not a trusted proxy: its header is not believed
        r = client.post("/auth/session", json={"key": token},
                        headers={"X-Forwarded-Proto": "https"})
        assert "Secure" not in r.headers["set-cookie"]


def test_keys_add_prints_a_link_and_a_qr_code(world_gpkg: Path, tmp_path: Path) -> None:
    from gisgov.cli import app

    url = str(tmp_path / "world.gpkg")
    shutil.copyfile(world_gpkg, url)
    png = tmp_path / "qr.png"
    result = CliRunner().invoke(app, ["keys", "add", url, "--role", "field", "--grids",
                                      FIELD_GRID, "--link", "https://gg.example:8443",
                                      "--qr", "--qr-png", str(png)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    link = next(line for line in lines if line.startswith("https://gg.example:8443/signin#code="))
    assert lines[-1].startswith("gg_")  # the key stays the last line, for scripts
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("█" in line or "▀" in line or "▄" in line for line in lines)  # terminal QR
    # The link's code signs a browser in as that key.
    with make_client(url) as client:
        r = client.post("/auth/session", json={"code": link.split("#code=")[1]})
        assert r.status_code == 200
        assert r.json()["grids"] == [FIELD_GRID]
    bad = CliRunner().invoke(app, ["keys", "add", url, "--role", "field", "--grids", FIELD_GRID,
                                   "--qr-png", str(tmp_path / "qr.jpg")])
    assert bad.exit_code != 0
    assert ".png" in str(bad.exception)  # (gisgov.cli.main prints it as one line)
    # `keys link` makes a new link for an existing key.
    key_id = lines[-1].split("_")[1]
    again = CliRunner().invoke(app, ["keys", "link", url, key_id])
    assert again.exit_code == 0
    assert "http://127.0.0.1:8000/signin#code=" in again.output


def test_sessions_stay_out_of_every_collection(served: tuple[Any, dict[str, str], str],
                                               ) -> None:
    client, keys, url = served
    _sign_in(client, url, keys["field"])
    planner_ws = open_workspace(url)
    planner = create_key(planner_ws, role="planner")[0]
    planner_ws.close()
    client.app.state.gisgov.keys.invalidate()
    ids = {c["id"] for c in client.get("/collections", headers=auth(planner))
           .json()["collections"]}
    assert not ids & {CODES_TABLE, SESSIONS_TABLE}
    assert_problem(client.get(f"/collections/{SESSIONS_TABLE}/items", headers=auth(planner)),
                   404)

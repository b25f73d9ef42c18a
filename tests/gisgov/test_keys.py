"""API keys: stored hashed, resolved to principals, revocable."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gisgov.errors import NotFoundError, ValidationError
from gisgov.keys import (
    KEYS_TABLE,
    InvalidKeyError,
    KeyRing,
    create_key,
    hash_token,
    list_keys,
    revoke_key,
)
from gisgov.store import open_workspace

GRID = "410223001001001"


@pytest.fixture
def ws(tmp_path: Path) -> object:
    ws = open_workspace(tmp_path / "k.gpkg", create=True)
    box = shapely.box(114.19, 34.41, 114.2, 34.42)
    ws.write("subdistricts", gpd.GeoDataFrame({"code": ["410223001"], "name": ["街道"]},
                                               geometry=[box], crs=4326))
    ws.write("communities", gpd.GeoDataFrame(
        {"code": ["410223001001"], "name": ["社区"], "kind": ["urban"],
         "subdistrict_code": ["410223001"]}, geometry=[box], crs=4326))
    ws.write("grids", gpd.GeoDataFrame(
        {"code": [GRID], "name": ["网格"], "community_code": ["410223001001"]},
        geometry=[box], crs=4326))
    return ws


def test_key_is_stored_only_as_hash(ws: object) -> None:
    token, key = create_key(ws, role="coordinator", label="张主任",
                            communities=["410223001001"])
    table = ws.read_table(KEYS_TABLE)  # type: ignore[attr-defined]
    assert token not in table.astype(str).to_numpy().ravel().tolist()
    assert table["key_hash"].tolist() == [hash_token(token)]
    assert token.startswith(f"gg_{key.key_id}_")
    assert len(token) > 40
    assert [k.key_id for k in list_keys(ws)] == [key.key_id]


def test_keyring_resolves_roles_and_grids(ws: object) -> None:
    token, key = create_key(ws, role="field", grids=[GRID])
    ring = KeyRing(ws, check_interval=0.0)
    p = ring.principal_for(token)
    assert p.role == "field"
    assert p.grids == frozenset({GRID})
    assert p.key_id == key.key_id
    assert ring.principal_for(None).role == "public"
    with pytest.raises(InvalidKeyError, match="unknown API key"):
        ring.principal_for(token + "x")
    revoke_key(ws, key.key_id)
    with pytest.raises(InvalidKeyError, match="revoked"):
        ring.principal_for(token)


def test_bad_key_requests_are_explained(ws: object) -> None:
    with pytest.raises(ValidationError, match="needs --grids"):
        create_key(ws, role="field")
    with pytest.raises(ValidationError, match="unknown grid"):
        create_key(ws, role="field", grids=["410223001001999"])
    with pytest.raises(ValidationError, match="field keys only"):
        create_key(ws, role="planner", grids=[GRID])
    with pytest.raises(ValidationError, match="unknown role"):
        create_key(ws, role="root")
    with pytest.raises(NotFoundError):
        revoke_key(ws, "nope")
    with pytest.raises(ValidationError, match="coordinator key needs a scope"):
        create_key(ws, role="coordinator")
    with pytest.raises(ValidationError, match="unknown community"):
        create_key(ws, role="coordinator", communities=["410223001009"])
    with pytest.raises(ValidationError, match="unknown subdistrict"):
        create_key(ws, role="coordinator", subdistricts=["410223009"])
    with pytest.raises(ValidationError, match="coordinator keys only"):
        create_key(ws, role="field", grids=[GRID], communities=["410223001001"])
    assert list_keys(ws) == []  # nothing stored by a refused request


def test_coordinator_scope_round_trips(ws: object) -> None:
    token, key = create_key(ws, role="coordinator", communities=["410223001001"],
                            subdistricts=["410223001"])
    p = KeyRing(ws, check_interval=0).principal_for(token)
    assert p.role == "coordinator"
    assert p.communities == frozenset({"410223001001"})
    assert p.subdistricts == frozenset({"410223001"})
    assert p.grids is None
    assert list_keys(ws)[0].to_dict()["communities"] == ["410223001001"]
    assert key.scope_text == "communities 410223001001; subdistricts 410223001"


def test_revoked_key_error_does_not_name_the_key(ws: object) -> None:
    token, key = create_key(ws, role="planner")
    revoke_key(ws, key.key_id)
    with pytest.raises(InvalidKeyError) as info:
        KeyRing(ws, check_interval=0).principal_for(token)
    assert key.key_id not in str(info.value)


def test_cli_keys_add_prints_key_last(ws: object) -> None:
    from typer.testing import CliRunner

    from gisgov.cli import build_app

    result = CliRunner().invoke(build_app(), ["keys", "add", ws.url,  # type: ignore[attr-defined]
                                              "--role", "field", "--grids", GRID])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert KeyRing(ws, check_interval=0).principal_for(token).grids == frozenset({GRID})
    listed = CliRunner().invoke(build_app(), ["keys", "list", ws.url, "--json"])  # type: ignore[attr-defined]
    assert token not in listed.output
    assert '"role": "field"' in listed.output
    refused = CliRunner().invoke(build_app(), ["keys", "add", ws.url,  # type: ignore[attr-defined]
                                               "--role", "coordinator"])
    assert refused.exit_code != 0
    assert "needs a scope" in refused.output + str(refused.exception)
    made = CliRunner().invoke(build_app(), ["keys", "add", ws.url,  # type: ignore[attr-defined]
                                            "--role", "coordinator", "--subdistricts",
                                            "410223001"])
    assert made.exit_code == 0, made.output
    coord = KeyRing(ws, check_interval=0).principal_for(made.output.strip().splitlines()[-1])
    assert coord.subdistricts == frozenset({"410223001"})


def test_cli_staff_board_setting(ws: object) -> None:
    from typer.testing import CliRunner

    from gisgov.cli import build_app
    from gisgov.policy import PUBLISH_STAFF_META

    url = ws.url  # type: ignore[attr-defined]
    shown = CliRunner().invoke(build_app(), ["keys", "staff-board", url])
    assert shown.exit_code == 0, shown.output
    assert "public" in shown.output
    off = CliRunner().invoke(build_app(), ["keys", "staff-board", url, "off"])
    assert off.exit_code == 0, off.output
    assert ws.get_meta(PUBLISH_STAFF_META) is False  # type: ignore[attr-defined]
    bad = CliRunner().invoke(build_app(), ["keys", "staff-board", url, "maybe"])
    assert bad.exit_code != 0
    assert ws.get_meta(PUBLISH_STAFF_META) is False  # type: ignore[attr-defined]

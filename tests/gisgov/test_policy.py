"""The one role × table × column policy (gisgov.policy), on the API tests' small world."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from gisgov.lookup import LookupIndex
from gisgov.policy import (
    GridAreas,
    apply_policy,
    policy_for,
    row_grids,
    scope_grids,
    table_access,
)
from gisgov.privacy import Principal
from tests.api.conftest import grid_code, world

FIELD_GRID = grid_code(0, 0)
COMMUNITY = FIELD_GRID[:12]
PUBLIC = Principal(role="public")
FIELD = Principal(role="field", key_id="f", grids=frozenset({FIELD_GRID}))
COORD = Principal(role="coordinator", key_id="c", communities=frozenset({COMMUNITY}))
COORD_SUB = Principal(role="coordinator", key_id="s", subdistricts=frozenset({"410223002"}))
PLANNER = Principal(role="planner", key_id="p")


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return world()


@pytest.fixture(scope="module")
def index(layers: dict[str, gpd.GeoDataFrame]) -> LookupIndex:
    return LookupIndex.from_layers(layers)


@pytest.fixture(scope="module")
def areas(layers: dict[str, gpd.GeoDataFrame]) -> GridAreas:
    return GridAreas.from_frames(layers["grids"], layers["communities"])


def _view(table: str, frame: pd.DataFrame, who: Principal, index: LookupIndex,
          areas: GridAreas, *, publish: bool = True) -> pd.DataFrame:
    grids = row_grids(table, frame, household_grid=index.household_grids(),
                      locate=lambda x, y: index.lookup_many(x, y, distances=False)
                      .grid_codes.tolist())
    return apply_policy(table, frame, who, grids=grids, scope=scope_grids(who, areas),
                        publish_staff=publish).frame


def test_table_access_by_kind_and_role() -> None:
    assert [table_access("households", p) for p in (PUBLIC, FIELD, COORD, PLANNER)] == \
        ["none", "scope", "scope", "all"]
    assert {table_access("grids", p) for p in (PUBLIC, FIELD, COORD, PLANNER)} == {"all"}
    assert table_access("scenario_reform_areas", PUBLIC) == "all"  # a plan's boundaries
    assert table_access("assignment_unassigned", PUBLIC) == "none"
    assert table_access("assignment_grids", FIELD) == "scope"
    # Unknown tables are closed to all but planners; bookkeeping to everyone.
    assert policy_for("survey_2026").kind == "closed"
    assert [table_access("survey_2026", p) for p in (PUBLIC, FIELD, COORD, PLANNER)] == \
        ["none", "none", "none", "all"]
    assert table_access("api_keys", PLANNER) == table_access("audit_log", PLANNER) == "none"
    assert table_access("staff", PUBLIC) == "published"
    assert table_access("staff", PUBLIC, publish_staff=False) == "none"
    assert table_access("staff", FIELD, publish_staff=False) == "scope"


def test_scopes_expand_to_grids(areas: GridAreas) -> None:
    assert scope_grids(PLANNER, areas) is None
    assert scope_grids(PUBLIC, areas) == frozenset()
    assert scope_grids(FIELD, areas) == {FIELD_GRID}
    assert scope_grids(COORD, areas) == {grid_code(c, r) for c in (0, 1) for r in (0, 1)}
    east = scope_grids(COORD_SUB, areas)
    assert east is not None
    assert len(east) == 8
    assert all(g.startswith("410223002") for g in east)
    assert scope_grids(Principal(role="coordinator"), areas) == frozenset()  # no scope: none


def test_households_rows_and_columns_by_role(layers: dict[str, gpd.GeoDataFrame],
                                             index: LookupIndex, areas: GridAreas) -> None:
    hh = layers["households"]
    assert _view("households", hh, PUBLIC, index, areas).empty
    field = _view("households", hh, FIELD, index, areas)
    assert sorted(field["id"]) == ["h0000", "h0001", "h0002", "h0010", "h0011", "h0012"]
    # Their own grid's households as registered (they visit them), care flags never.
    assert not field["head_name"].str.contains("*", regex=False).any()
    assert set(field["head_name"]) == set(hh[hh["id"].isin(field["id"])]["head_name"])
    assert "elderly" not in field
    coord = _view("households", hh, COORD, index, areas)
    assert len(coord) == 24
    assert set(coord["id"].str[1:3]) == {"00", "01", "04", "05"}
    assert not coord["head_name"].str.contains("*", regex=False).any()
    planner = _view("households", hh, PLANNER, index, areas)
    assert len(planner) == 96
    assert "elderly" in planner


def test_people_links_follow_the_household(layers: dict[str, gpd.GeoDataFrame],
                                           index: LookupIndex, areas: GridAreas) -> None:
    links = layers["assignments"].copy()
    # A stale grid_code must not move a household's link into another scope.
    links.loc[links["household_id"] == "h0100", "grid_code"] = FIELD_GRID
    seen = _view("assignments", links, FIELD, index, areas)
    assert sorted(seen["household_id"]) == ["h0000", "h0001", "h0002", "h0010", "h0011",
                                            "h0012"]
    # Members: by grid_code when given, else by their point.
    members = layers["members"].copy()
    members["grid_code"] = None
    members.loc[members["id"] == "m05", "grid_code"] = FIELD_GRID
    assert sorted(_view("members", members, FIELD, index, areas)["id"]) == ["m00", "m05"]
    assert _view("members", members, PUBLIC, index, areas).empty


def test_staff_notice_board(layers: dict[str, gpd.GeoDataFrame], index: LookupIndex,
                            areas: GridAreas) -> None:
    staff = layers["staff"].copy()
    staff["member_id"] = [f"m{i // 2:02d}" for i in range(len(staff))]
    extra = staff.iloc[[0]].assign(id="s00v", role="volunteer", name="张志愿", phone="13600000000")
    staff = pd.concat([staff, extra], ignore_index=True)
    public = _view("staff", staff, PUBLIC, index, areas)
    assert len(public) == 32  # leaders and full-time workers of 16 grids, no volunteer
    assert "member_id" not in public
    assert set(public["name"]) == set(layers["staff"]["name"])  # as posted, unmasked
    field = _view("staff", staff, FIELD, index, areas)
    assert len(field) == 33  # the board, and their own grid's volunteer (unmasked: a colleague)
    own = field[field["grid_code"] == FIELD_GRID].set_index("id")
    assert own.loc["s00v", "name"] == "张志愿"
    assert own.loc["s00v", "phone"] == "13600000000"
    assert own.loc["s00a", "name"] == "张网格长"
    assert own["member_id"].notna().all()
    others = field[field["grid_code"] != FIELD_GRID]
    assert others["member_id"].isna().all()  # another grid's worker → member link hidden
    closed = _view("staff", staff, PUBLIC, index, areas, publish=False)
    assert closed.empty
    field_closed = _view("staff", staff, FIELD, index, areas, publish=False)
    assert set(field_closed["grid_code"]) == {FIELD_GRID}
    # The board closed, a field worker still sees their own grid's colleagues by name.
    assert not field_closed["name"].str.contains("*", regex=False).any()
    assert "张网格长" in set(field_closed["name"])


def test_what_must_be_audited(layers: dict[str, gpd.GeoDataFrame], index: LookupIndex,
                              areas: GridAreas) -> None:
    hh = layers["households"]
    grids = row_grids("households", hh, household_grid=index.household_grids())
    field = apply_policy("households", hh, FIELD, grids=grids, scope=scope_grids(FIELD, areas))
    assert field.audit
    assert field.plain_shown  # their own grid's names, as registered: an unmasked read
    assert field.personal_rows == 6
    board = apply_policy("staff", layers["staff"], PUBLIC,
                         grids=[None] * len(layers["staff"]), scope=frozenset())
    assert len(board.frame) == 32
    assert not board.audit  # public by the workspace's decision
    places = apply_policy("grids", layers["grids"], PUBLIC)
    assert len(places.frame) == 16
    assert not places.audit
    unknown = apply_policy("survey_2026", layers["households"][["id", "address"]], PLANNER)
    assert unknown.audit  # an unclassified table may hold anyone
    planner = apply_policy("members", layers["members"], PLANNER)
    assert planner.plain_shown
    assert planner.personal_rows == 16


def test_rows_without_a_grid_are_planners_only(layers: dict[str, gpd.GeoDataFrame],
                                               index: LookupIndex, areas: GridAreas) -> None:
    far = layers["households"].iloc[:1].copy()
    far["id"] = "h9999"
    far.geometry = gpd.points_from_xy([100.0], [30.0], crs="EPSG:4326")
    grids = row_grids("households", far, household_grid=index.household_grids())
    assert grids == [None]
    for who in (FIELD, COORD, COORD_SUB):
        assert apply_policy("households", far, who, grids=grids,
                            scope=scope_grids(who, areas)).frame.empty
    assert len(apply_policy("households", far, PLANNER, grids=grids).frame) == 1
    assert index.household_grids()["h0000"] == FIELD_GRID

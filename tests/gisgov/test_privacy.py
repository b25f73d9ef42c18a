"""Roles, masks and the column view of each role."""

from __future__ import annotations

import pandas as pd
import pytest

from gisgov.errors import PermissionDeniedError, ValidationError
from gisgov.privacy import (
    Principal,
    mask_id_number,
    mask_name,
    mask_phone,
    parse_role,
    redact_frame,
    redact_person,
    require_write,
)


@pytest.mark.parametrize(
    ("func", "value", "masked"),
    [
        (mask_name, "张三", "张*"),
        (mask_name, "欧阳娜娜", "欧***"),
        (mask_name, "王", "*"),
        (mask_phone, "13812345678", "138****5678"),
        (mask_phone, "0371-1234567", "037*****4567"),
        (mask_phone, "12345", "*****"),
        (mask_id_number, "410223199001011234", "410223********1234"),
        (mask_id_number, "41022319900101123X", "410223********123X"),
    ],
)
def test_masks(func: object, value: str, masked: str) -> None:
    assert func(value) == masked  # type: ignore[operator]


def households() -> pd.DataFrame:
    return pd.DataFrame({
        "id": ["h1", "h2"], "head_name": ["张三", None], "phone": ["13812345678", None],
        "id_number": ["410223199001011234", None], "size": [3, 2],
        "elderly": [True, False], "low_income": [False, False], "disabled": [False, True],
    })


def test_planner_sees_everything_and_it_counts_as_unmasked() -> None:
    out, plain = redact_frame("households", households(), Principal(role="planner"))
    assert plain
    assert out["head_name"].tolist()[0] == "张三"
    assert "elderly" in out


def test_coordinator_sees_names_but_not_care_flags() -> None:
    out, plain = redact_frame("households", households(), Principal(role="coordinator"))
    assert plain
    assert out["phone"].tolist()[0] == "13812345678"
    assert not {"elderly", "low_income", "disabled"} & set(out.columns)


def test_field_sees_masks_and_nothing_sensitive() -> None:
    out, plain = redact_frame("households", households(), Principal(role="field"))
    assert not plain
    assert out["head_name"].tolist()[0] == "张*"
    assert out["phone"].tolist()[0] == "138****5678"
    assert out["id_number"].tolist()[0] == "410223********1234"
    assert out["head_name"].isna().tolist()[1]
    assert "elderly" not in out


def test_public_sees_no_personal_columns_at_all() -> None:
    out, plain = redact_frame("households", households(), Principal(role="public"))
    assert not plain
    assert list(out.columns) == ["id", "size"]


def test_layers_without_personal_data_pass_unchanged() -> None:
    frame = pd.DataFrame({"code": ["1"], "name": ["网格"]})
    out, plain = redact_frame("grids", frame, Principal(role="public"))
    assert out is frame
    assert not plain


def test_field_sees_own_grid_plainly_and_others_masked() -> None:
    field = Principal(role="field", grids=frozenset({"410223001001001"}))
    assert field.access_for(True) == "plain"
    assert field.access_for(False) == "masked"
    assert Principal(role="public").access_for(True) == "none"
    out, plain = redact_frame("households", households(), field, access=field.access_for(True))
    assert plain
    assert out["head_name"].tolist()[0] == "张三"
    assert "elderly" not in out  # care flags stay the planners' alone
    assert redact_person("张三", "13812345678", field, in_scope=True) == {
        "name": "张三", "phone": "13812345678"}


def test_people_and_roles() -> None:
    assert redact_person("张三", "13812345678", Principal(role="field")) == {
        "name": "张*", "phone": "138****5678"}
    assert redact_person("张三", None, Principal(role="public")) is None
    assert parse_role(" Planner ") == "planner"
    with pytest.raises(ValidationError, match="choose one of"):
        parse_role("admin")
    require_write(Principal(role="coordinator"), "a job")
    with pytest.raises(PermissionDeniedError, match="planner or coordinator"):
        require_write(Principal(role="field"), "a job")


def test_field_grid_scope_and_actor() -> None:
    p = Principal(role="field", key_id="ab12cd34", grids=frozenset({"g1"}))
    assert p.may_see_grid("g1")
    assert not p.may_see_grid("g2")
    assert not p.may_see_grid(None)
    # A coordinator sees its communities and subdistricts; without a scope, nothing.
    assert not Principal(role="coordinator").may_see_grid("g2")
    coord = Principal(role="coordinator", communities=frozenset({"c1"}),
                      subdistricts=frozenset({"s2"}))
    assert coord.may_see_grid("g9", "c1", "s1")
    assert coord.may_see_grid("g9", "c7", "s2")
    assert not coord.may_see_grid("g9", "c7", "s1")
    assert Principal(role="planner").may_see_grid(None)
    assert not Principal(role="public").may_see_grid("g1", "c1", "s1")
    assert p.actor == "key:ab12cd34/field"
    assert Principal(actor_name="cli:alice", role="planner").actor == "cli:alice/planner"

"""The committed register templates are what the code writes, and they import cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from gisgov.layers import conform, validate_layer
from gisgov.onboard.registers import TEMPLATES, read_register, write_templates

COMMITTED = Path(__file__).resolve().parents[3] / "geodata" / "templates"


@pytest.mark.parametrize("layer", sorted(TEMPLATES))
def test_template_in_sync_and_importable(tmp_path: Path, layer: str) -> None:
    fresh = {p.name: p.read_bytes() for p in write_templates(tmp_path)}
    assert (COMMITTED / f"{layer}.csv").read_bytes() == fresh[f"{layer}.csv"], (
        "regenerate: python -c 'from gisgov.onboard.registers import write_templates; "
        "write_templates(\"geodata/templates\")'")
    reg = read_register(COMMITTED / f"{layer}.csv", layer=layer)
    assert len(reg.frame) == 1
    assert not reg.unmatched
    frame = reg.frame
    if layer == "members":
        frame = frame.assign(branch_id=None)  # a branch name until the chain makes branches
    assert not [p for p in validate_layer(layer, conform(layer, frame)) if p.severity == "error"]

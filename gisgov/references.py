"""What replacing a layer would break: references between layers, and an import that checks them.

Layers refer to each other by key: an assignment names a household and a member, a staff row a
member, a member a grid, a grid a community (the ``references`` of the columns in
:mod:`gisgov.layers`, the one place they are declared). Replacing a layer deletes every row the
new data does not carry again; rows of *other* layers that named a deleted row then point at
nothing — "19,029 assignments pointing at nothing" after a three-row CSV replaced the
households. :func:`import_rows` counts that before writing and refuses unless forced, and
reports how many rows were added, replaced and deleted.

Only the schema layers' declared references are checked (product tables such as
``assignment_unassigned`` or scenario tables are derived and rebuilt by their commands).
References of a layer to itself (``branches.parent_id``) are not counted: after a replace
every row of the layer is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from gisgov.errors import ValidationError
from gisgov.layers import LAYERS, conform

if TYPE_CHECKING:
    from gisgov.store import Workspace, WriteMode

__all__ = [
    "ImportReport",
    "Orphans",
    "describe_orphans",
    "import_rows",
    "orphans_of_replace",
    "references_to",
]

#: Example keys named per broken reference in messages.
EXAMPLES = 3


@dataclass(frozen=True)
class Orphans:
    """Rows of ``layer`` whose ``column`` names a ``target`` row that a replace deletes.

    Attributes
    ----------
    layer, column
        The referring layer and column (``assignments``, ``household_id``).
    target
        ``"layer.column"`` referred to (``households.id``).
    rows
        How many rows would point at nothing.
    examples
        A few of those rows' keys (the referring layer's key).
    """

    layer: str
    column: str
    target: str
    rows: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, refused, would have done).

    ``added`` rows have keys the layer did not have; ``replaced`` rows overwrite a row of the
    same key; ``deleted`` rows were in the layer and are not in the new data (only a replace
    deletes). ``orphans`` are the references the write broke (non-empty only when forced).
    """

    layer: str
    mode: WriteMode
    rows: int
    added: int
    replaced: int
    deleted: int
    orphans: tuple[Orphans, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (the ``--json`` document's counts)."""
        return {
            "layer": self.layer, "mode": self.mode, "rows": self.rows, "added": self.added,
            "replaced": self.replaced, "deleted": self.deleted,
            "orphaned": [
                {"layer": o.layer, "column": o.column, "target": o.target, "rows": o.rows,
                 "examples": list(o.examples)}
                for o in self.orphans
            ],
        }


def references_to(layer: str) -> list[tuple[str, str, str]]:
    """``(referring layer, column, referred column)`` for every declared reference into
    ``layer`` from another layer, in the schema's order."""
    out: list[tuple[str, str, str]] = []
    for other in LAYERS.values():
        if other.name == layer:
            continue
        for c in other.columns:
            if c.references:
                target_layer, target_col = c.references.split(".")
                if target_layer == layer:
                    out.append((other.name, c.name, target_col))
    return out


def _values(series: pd.Series) -> set[str]:
    return set(series.dropna().astype(str))


def orphans_of_replace(ws: Workspace, layer: str, new: gpd.GeoDataFrame,
                       old: gpd.GeoDataFrame | None = None) -> list[Orphans]:
    """References from other layers that replacing ``layer`` by ``new`` would break.

    Parameters
    ----------
    ws
        The workspace (or the open transaction) holding the current layers.
    layer
        The layer to be replaced.
    new
        The replacement rows, conformed to the schema.
    old
        The layer's current rows, when already read.

    Returns
    -------
    list of Orphans
        One entry per referring column with at least one row that named a row present now
        and absent from ``new`` (rows already dangling before are not counted).
    """
    old = ws.read(layer) if old is None else old
    found: list[Orphans] = []
    for ref_layer, column, target_col in references_to(layer):
        if target_col not in old.columns or target_col not in new.columns:
            continue
        gone = _values(old[target_col]) - _values(new[target_col])
        if not gone:
            continue
        referring = ws.read(ref_layer)
        if not len(referring) or column not in referring.columns:
            continue
        hit = referring[column].astype("string").isin(gone).fillna(False).to_numpy(dtype=bool)
        n = int(hit.sum())
        if n:
            key = LAYERS[ref_layer].key
            examples = tuple(str(k) for k in referring.loc[hit, key].head(EXAMPLES))
            found.append(Orphans(ref_layer, column, f"{layer}.{target_col}", n, examples))
    return found


def describe_orphans(layer: str, orphans: list[Orphans] | tuple[Orphans, ...], *,
                     remedy: str = ("keep those rows in the file, use --mode append, or pass "
                                    "--force to replace anyway")) -> str:
    """One line naming what a replace of ``layer`` would break, with counts and examples."""
    parts = []
    for o in orphans:
        more = " …" if o.rows > len(o.examples) else ""
        parts.append(f"{o.rows:,} {o.layer} ({o.column}: {', '.join(o.examples)}{more})")
    targets = ", ".join(dict.fromkeys(o.target for o in orphans))
    return (f"replacing {layer} would leave " + "; ".join(parts)
            + f" pointing at deleted {targets}; {remedy}")


def _counts(old: pd.DataFrame, new: pd.DataFrame, layer: str,
            mode: WriteMode) -> tuple[int, int, int]:
    key = LAYERS[layer].key
    old_keys = _values(old[key]) if key in old.columns else set()
    new_keys = list(new[key].dropna().astype(str)) if key in new.columns else []
    if mode == "append":
        return len(new), 0, 0
    kept = {k for k in new_keys if k in old_keys}
    added = sum(1 for k in new_keys if k not in old_keys)
    return added, len(kept), len(old_keys - kept)


def import_rows(ws: Workspace, layer: str, data: gpd.GeoDataFrame, *, mode: WriteMode | None,
                force: bool = False, source_crs: str | None = None) -> ImportReport:
    """Write imported rows into ``layer``, refusing silent loss; all or nothing.

    Parameters
    ----------
    ws
        The workspace.
    layer
        Target layer.
    data
        Rows read from the file (EPSG:4326).
    mode
        ``append`` or ``replace``; ``None`` is accepted only when the layer is empty or absent
        (both modes are then the same). A layer with rows needs an explicit choice: a default
        ``replace`` deleted a county's households for a three-row file.
    force
        Replace even when rows of other layers would then refer to deleted rows.
    source_crs
        The file's CRS, recorded with the rows in the workspace's ``source_crs`` metadata.

    Returns
    -------
    ImportReport

    Raises
    ------
    ValidationError
        When ``mode`` is missing for a layer with rows, when a replace would orphan
        references and ``force`` is false (the message says what would break), or when the
        data breaks the schema. Nothing is written then.
    """
    with ws.transaction() as tx:
        old = tx.read(layer)
        if mode is None:
            if len(old):
                raise ValidationError(
                    f"{layer} already has {len(old):,} rows: say what to do with them, "
                    f"--mode append (add these {len(data):,}) or --mode replace (delete the "
                    f"rows not in the file)"
                )
            mode = "replace"
        new = conform(layer, data)
        added, replaced, deleted = _counts(old, new, layer, mode)
        orphans: list[Orphans] = []
        if mode == "replace" and len(old):
            orphans = orphans_of_replace(tx, layer, new, old=old)
            if orphans and not force:
                raise ValidationError(describe_orphans(layer, orphans))
        tx.write(layer, data, mode=mode)
        if source_crs:
            recorded = dict(tx.get_meta("source_crs", {}) or {})
            recorded[layer] = source_crs
            tx.set_meta("source_crs", recorded)
    return ImportReport(layer, mode, len(new), added, replaced, deleted, tuple(orphans))

"""``gisgov keys``: API keys for the map API (stored hashed; shown once)."""

from __future__ import annotations

from typing import Annotated

import typer

from gisgov.cli._common import console, open_ws, print_json

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``keys`` command group to ``app``."""
    keys = typer.Typer(help="API keys 接口密钥: add, list, revoke; the staff notice board.",
                       no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @keys.command("add")
    def add_cmd(
        ws: Annotated[str, typer.Argument(help="Workspace: .gpkg file or postgresql:// URL")],
        role: Annotated[str, typer.Option(help="planner | coordinator | field | public")],
        grids: Annotated[str | None, typer.Option(
            help="Field staff: comma-separated grid codes they work in")] = None,
        label: Annotated[str, typer.Option(help="Whose key this is")] = "",
        communities: Annotated[str | None, typer.Option(
            help="Coordinator: comma-separated community codes they manage")] = None,
        subdistricts: Annotated[str | None, typer.Option(
            help="Coordinator: comma-separated subdistrict codes they manage")] = None,
    ) -> None:
        """Create a key; the key itself is printed once, as the last line.

        Field keys need --grids, coordinator keys --communities or --subdistricts: the key
        sees households and members of that area only (planners see all, public none).
        """
        from gisgov.keys import create_key

        def split(text: str | None) -> list[str]:
            return [g.strip() for g in (text or "").split(",") if g.strip()]

        workspace = open_ws(ws)
        token, key = create_key(workspace, role=role, grids=split(grids), label=label,
                                communities=split(communities),
                                subdistricts=split(subdistricts))
        console.print(f"key {key.key_id} role {key.role}"
                      + (f" {key.scope_text}" if key.scope_text else "")
                      + " — store it now, it cannot be shown again:", highlight=False)
        # Plain print, no rich markup: scripts take the last line as the key.
        print(token)

    @keys.command("list")
    def list_cmd(
        ws: Annotated[str, typer.Argument(help="Workspace")],
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    ) -> None:
        """Keys with role, grids and state (never the keys themselves)."""
        from rich.table import Table

        from gisgov.keys import list_keys

        found = list_keys(open_ws(ws))
        if json_out:
            print_json([k.to_dict() for k in found])
            return
        table = Table(title="API keys")
        for col in ("id", "role", "scope", "label", "created", "revoked"):
            table.add_column(col)
        for k in found:
            table.add_row(k.key_id, k.role, k.scope_text, k.label, k.created_at[:19],
                          "yes" if k.revoked else "")
        console.print(table)

    @keys.command("revoke")
    def revoke_cmd(
        ws: Annotated[str, typer.Argument(help="Workspace")],
        key_id: Annotated[str, typer.Argument(help="Key id (see `gisgov keys list`)")],
    ) -> None:
        """Revoke a key (the service notices within a second)."""
        from gisgov.keys import revoke_key

        key = revoke_key(open_ws(ws), key_id)
        console.print(f"revoked key {key.key_id} ({key.role})")

    @keys.command("staff-board")
    def board_cmd(
        ws: Annotated[str, typer.Argument(help="Workspace")],
        state: Annotated[str | None, typer.Argument(
            help="on | off (omit to show the current setting)")] = None,
    ) -> None:
        """The grid notice board (网格公示牌): are leaders' and workers' names and work phones
        public? On by default; off closes them to callers without a key."""
        from gisgov.errors import ValidationError
        from gisgov.policy import PUBLISH_STAFF_META

        workspace = open_ws(ws)
        if state is not None:
            if state not in ("on", "off"):
                raise ValidationError(f"staff-board takes on or off, not {state!r}")
            workspace.set_meta(PUBLISH_STAFF_META, state == "on")
        shown = bool(workspace.get_meta(PUBLISH_STAFF_META, True))
        console.print(f"grid staff contacts are {'public' if shown else 'closed to the public'}"
                      f" ({PUBLISH_STAFF_META} = {str(shown).lower()})", highlight=False)

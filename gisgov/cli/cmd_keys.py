"""``gisgov keys``: API keys for the map API (stored hashed; shown once)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from gisgov.cli._common import console, open_ws, print_json
from gisgov.errors import ValidationError

__all__ = [
    "add_cmd",
    "board_cmd",
    "link_cmd",
    "list_cmd",
    "register",
    "revoke_cmd",
    "signin_url",
]


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
    link: Annotated[str | None, typer.Option(
        help="The service's address as phones reach it, for the sign-in link "
             "(default: GISGOV_BASE_URL, else http://127.0.0.1:8000)")] = None,
    link_hours: Annotated[float, typer.Option(
        help="Hours the one-time sign-in link stays valid")] = 24.0,
    qr: Annotated[bool, typer.Option("--qr", help="Also print the sign-in link as a QR "
                                     "code in the terminal")] = False,
    qr_png: Annotated[Path | None, typer.Option(
        help="Also write the sign-in link's QR code to this PNG file")] = None,
) -> None:
    """Create a key; a one-time sign-in link for a browser; the key itself, last line.

    Field keys need --grids, coordinator keys --communities or --subdistricts: the key
    sees households and members of that area only (planners see all, public none). The
    sign-in link (``/signin#code=…``, once, within --link-hours) signs a phone or browser
    in as this key without anyone typing it; ``gisgov keys link`` makes a new one.
    """
    from gisgov.keys import create_key

    workspace = open_ws(ws)
    if qr_png is not None:
        _check_png(qr_png)
    token, key = create_key(workspace, role=role, grids=_codes(grids), label=label,
                            communities=_codes(communities),
                            subdistricts=_codes(subdistricts))
    if key.role != "public":
        _print_link(workspace, key.key_id, link, link_hours, qr, qr_png)
    console.print(f"key {key.key_id} role {key.role}"
                  + (f" {key.scope_text}" if key.scope_text else "")
                  + " — store it now, it cannot be shown again:", highlight=False)
    # Plain print, no rich markup: scripts take the last line as the key.
    print(token)


def link_cmd(
    ws: Annotated[str, typer.Argument(help="Workspace")],
    key_id: Annotated[str, typer.Argument(help="Key id (see `gisgov keys list`)")],
    link: Annotated[str | None, typer.Option(
        help="The service's address as phones reach it (default: GISGOV_BASE_URL, "
             "else http://127.0.0.1:8000)")] = None,
    link_hours: Annotated[float, typer.Option(
        help="Hours the one-time sign-in link stays valid")] = 24.0,
    qr: Annotated[bool, typer.Option("--qr", help="Print it as a QR code too")] = False,
    qr_png: Annotated[Path | None, typer.Option(
        help="Write its QR code to this PNG file")] = None,
) -> None:
    """A new one-time sign-in link for an existing key (a new phone, a lost link)."""
    from gisgov.errors import NotFoundError
    from gisgov.keys import list_keys

    workspace = open_ws(ws)
    if qr_png is not None:
        _check_png(qr_png)
    found = [k for k in list_keys(workspace) if k.key_id == key_id]
    if not found:
        raise NotFoundError(f"no API key with id {key_id!r}; see `gisgov keys list WS`")
    if found[0].revoked:
        raise ValidationError(f"key {key_id} was revoked; create a new one with "
                              "`gisgov keys add`")
    _print_link(workspace, key_id, link, link_hours, qr, qr_png)


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


def revoke_cmd(
    ws: Annotated[str, typer.Argument(help="Workspace")],
    key_id: Annotated[str, typer.Argument(help="Key id (see `gisgov keys list`)")],
) -> None:
    """Revoke a key (the service notices within a second)."""
    from gisgov.keys import revoke_key

    key = revoke_key(open_ws(ws), key_id)
    console.print(f"revoked key {key.key_id} ({key.role})")


def board_cmd(
    ws: Annotated[str, typer.Argument(help="Workspace")],
    state: Annotated[str | None, typer.Argument(
        help="on | off (omit to show the current setting)")] = None,
) -> None:
    """The grid notice board (网格公示牌): are leaders' and workers' names and work phones
    public? On by default; off closes them to callers without a key."""
    from gisgov.policy import PUBLISH_STAFF_META

    workspace = open_ws(ws)
    if state is not None:
        if state not in ("on", "off"):
            raise ValidationError(f"staff-board takes on or off, not {state!r}")
        workspace.set_meta(PUBLISH_STAFF_META, state == "on")
    shown = bool(workspace.get_meta(PUBLISH_STAFF_META, True))
    console.print(f"grid staff contacts are {'public' if shown else 'closed to the public'}"
                  f" ({PUBLISH_STAFF_META} = {str(shown).lower()})", highlight=False)


# Each command is a module-level function whose docstring is its ``--help`` text;
# :func:`register` only wires them into the ``keys`` group.
def register(app: typer.Typer) -> None:
    """Add the ``keys`` command group to ``app``."""
    keys = typer.Typer(help="API keys 接口密钥: add, list, revoke; the staff notice board.",
                       no_args_is_help=True)
    app.add_typer(keys, name="keys")
    keys.command("add")(add_cmd)
    keys.command("link")(link_cmd)
    keys.command("list")(list_cmd)
    keys.command("revoke")(revoke_cmd)
    keys.command("staff-board")(board_cmd)


def signin_url(base: str | None, code: str) -> str:
    """The sign-in link of ``code`` on the service at ``base`` (the code in the fragment,
    which browsers never send to a server, so it is in no access log)."""
    root = (base or os.environ.get("GISGOV_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
    if not root.startswith(("http://", "https://")):
        raise ValidationError(f"--link must be an http:// or https:// address, not {root!r}")
    return f"{root}/signin#code={code}"


def _codes(text: str | None) -> list[str]:
    """``"a, b,"`` → ``["a", "b"]``: the comma-separated codes of ``--grids`` and friends."""
    return [g.strip() for g in (text or "").split(",") if g.strip()]


def _check_png(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise ValidationError(f"--qr-png writes a .png file, not {path.name!r}")
    if not path.parent.exists():
        raise ValidationError(f"--qr-png: folder {path.parent} does not exist")


def _print_link(workspace: Any, key_id: str, base: str | None, hours: float, qr: bool,
                png: Path | None) -> None:
    """Issue a one-time sign-in code for ``key_id`` and print its link (and QR code)."""
    import time

    import segno

    from gisgov.sessions import issue_signin_code

    if not hours > 0:
        raise ValidationError(f"--link-hours must be positive, not {hours}")
    url = signin_url(base, "x")  # checks --link before a code is stored
    code, expires = issue_signin_code(workspace, key_id, hours=hours)
    url = signin_url(base, code)
    until = time.strftime("%Y-%m-%d %H:%M", time.localtime(expires))
    console.print(f"sign-in link 登录链接 (once, until {until}; open it on the phone):",
                  highlight=False)
    print(url)
    if qr or png is not None:
        code_img = segno.make(url, error="m")
        if qr:
            code_img.terminal(compact=True)
        if png is not None:
            code_img.save(str(png), scale=8, border=4)
            console.print(f"QR code written to {png}", highlight=False)

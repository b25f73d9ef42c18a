"""``gisgov serve``: the map API (FastAPI under uvicorn) over one workspace."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["check_tls", "register", "serve_cmd", "shared_limit_storage"]


def serve_cmd(
    ws: Annotated[str, typer.Argument(help="Workspace: .gpkg file or postgresql:// URL")],
    host: Annotated[str, typer.Option(
        help="Interface to listen on: 127.0.0.1 (this computer only) or 0.0.0.0 (phones "
             "on the network; use TLS then, browsers locate only over https)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    tls_cert: Annotated[Path | None, typer.Option(
        help="TLS certificate (PEM, with its chain) to serve https directly")] = None,
    tls_key: Annotated[Path | None, typer.Option(
        help="Private key (PEM) of --tls-cert")] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="Worker processes (one per core). They share the rate limits: in "
                    "GISGOV_RATE_LIMIT_STORAGE if set (redis://host:port), else in a "
                    "SQLite file in the temporary directory")] = 1,
) -> None:
    """Serve layers (OGC API Features), lookup and jobs over HTTP (地图服务).

    Phones need https for 我在哪里 (browsers give positions to secure pages only): pass
    --tls-cert and --tls-key, or run behind a reverse proxy that ends TLS and set
    GISGOV_TRUSTED_PROXIES to its address (README: "在手机上使用"). Other settings come
    from GISGOV_* environment variables (see api/settings.py): GISGOV_CORS_ORIGINS,
    GISGOV_MAX_LIMIT, GISGOV_RATE_LIMIT, GISGOV_TIANDITU_KEY, GISGOV_SESSION_HOURS, …
    """
    # The web stack is imported here, not at module level: the core never loads it.
    import uvicorn

    from api.app import create_app
    from api.settings import Settings
    from gisgov.cli._common import open_ws

    tls = check_tls(tls_cert, tls_key)
    open_ws(ws).close()  # a one-line error for a wrong path or URL, before uvicorn starts
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from any local
    # client; the service trusts it only from GISGOV_TRUSTED_PROXIES (api.guards).
    options: dict[str, Any] = {"host": host, "port": port, "log_level": log_level,
                                   "proxy_headers": False,
                                   "ssl_certfile": tls.get("ssl_certfile"),
                                   "ssl_keyfile": tls.get("ssl_keyfile")}
    if workers == 1:
        uvicorn.run(create_app(Settings(workspace=ws)), **options)
        return
    # Each worker process builds its own app from the environment (uvicorn imports the
    # factory by name), so the settings travel as GISGOV_* variables.
    os.environ["GISGOV_WORKSPACE"] = ws
    os.environ.setdefault("GISGOV_RATE_LIMIT_STORAGE", shared_limit_storage(ws, port))
    Settings()  # a bad GISGOV_* value stops here, once, not in every worker
    uvicorn.run("api.app:create_app", factory=True, workers=workers, **options)


# The command is a module-level function whose docstring is its ``--help`` text;
# :func:`register` only wires it.
def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve_cmd)


def shared_limit_storage(ws: str, port: int) -> str:
    """The default rate-limit storage of several workers: a SQLite file in the temporary
    directory, one per workspace and port (so two services on one machine count apart)."""
    name = hashlib.sha256(f"{os.path.abspath(ws) if '://' not in ws else ws}|{port}".encode())
    path = Path(tempfile.gettempdir()) / f"gisgov-limits-{name.hexdigest()[:16]}.sqlite"
    return f"sqlite:///{path}"


def check_tls(cert: Path | None, key: Path | None) -> dict[str, str]:
    """uvicorn's TLS options for ``--tls-cert``/``--tls-key``, checked before it starts.

    Both or neither; each a readable PEM file whose key matches the certificate (loaded
    into an SSL context here, so a wrong pair is a one-line error, not a traceback from
    inside uvicorn).

    Raises
    ------
    ValidationError
        One given without the other, a missing file, or a pair that does not load.
    """
    import ssl

    from gisgov.errors import ValidationError

    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise ValidationError("--tls-cert and --tls-key go together (the certificate and its "
                              "private key)")
    for name, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise ValidationError(f"{name}: no file {path}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, ValueError) as exc:
        raise ValidationError(f"--tls-cert/--tls-key do not load as a PEM certificate and its "
                              f"key: {exc}") from None
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}

"""``gisgov serve``: the map API (FastAPI under uvicorn) over one workspace."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command("serve")
    def serve_cmd(
        ws: Annotated[str, typer.Argument(help="Workspace: .gpkg file or postgresql:// URL")],
        host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    ) -> None:
        """Serve layers (OGC API Features), lookup and jobs over HTTP (地图服务).

        Other settings come from GISGOV_* environment variables (see api/settings.py):
        GISGOV_CORS_ORIGINS, GISGOV_MAX_LIMIT, GISGOV_RATE_LIMIT, GISGOV_TIANDITU_KEY, …
        """
        # The web stack is imported here, not at module level: the core never loads it.
        import uvicorn

        from api.app import create_app
        from api.settings import Settings
        from gisgov.cli._common import open_ws

        open_ws(ws).close()  # a one-line error for a wrong path or URL, before uvicorn starts
        application = create_app(Settings(workspace=ws))
        # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from any local
        # client; the service trusts it only from GISGOV_TRUSTED_PROXIES (api.guards).
        uvicorn.run(application, host=host, port=port, log_level=log_level,
                    proxy_headers=False)

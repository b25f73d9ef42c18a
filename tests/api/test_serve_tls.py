"""``gisgov serve --tls-cert --tls-key``: https for phones, checked before uvicorn starts."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from gisgov.cli.cmd_serve import check_tls
from gisgov.errors import ValidationError
from tests.conftest import HANG_GUARD_S

OPENSSL = shutil.which("openssl")


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run([str(OPENSSL), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command to make a certificate")
def test_tls_options_are_checked(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "a")
    other_cert, _ = _self_signed(tmp_path, "b")
    assert check_tls(None, None) == {}
    assert check_tls(cert, key) == {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    with pytest.raises(ValidationError, match="go together"):
        check_tls(cert, None)
    with pytest.raises(ValidationError, match="no file"):
        check_tls(tmp_path / "missing.pem", key)
    with pytest.raises(ValidationError, match="do not load"):
        check_tls(other_cert, key)  # a key that is not this certificate's


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command to make a certificate")
def test_served_over_https(tmp_path: Path, world_gpkg: Path) -> None:
    """The options reach uvicorn: the field page answers over TLS with the certificate."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    cert, key = _self_signed(tmp_path, "srv")
    url = tmp_path / "world.gpkg"
    shutil.copyfile(world_gpkg, url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(Settings(workspace=str(url), audit_flush_seconds=0))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        proxy_headers=False, **check_tls(cert, key)))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the TLS server did not start")
        time.sleep(0.05)
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/field", context=ctx) as r:
            assert r.status == 200
            assert "我在哪里" in r.read().decode("utf-8")
        with pytest.raises(Exception, match=r"(?i)ssl|wrong version|reset|closed|status line|remote end"):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/field").read()
    finally:
        srv.should_exit = True
        thread.join(10)

"""``/api.html`` (Swagger UI) and ``/redoc`` (ReDoc) render in Chromium with no outside request.

Every request to a host other than the test server is aborted and recorded (as a browser
without internet would fail it): the pages must still draw the operations of the API, from
the service's own copies of the Swagger UI and ReDoc files.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HANG_GUARD_S
from tests.maps.test_browser import WAIT_MS, _free_port, browser, visit

__all__ = ["browser"]  # the Chromium fixture shared with tests/maps

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, world_gpkg: Path) -> Iterator[str]:
    """The service under uvicorn on a free port."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    gpkg = tmp_path_factory.mktemp("docs") / "world.gpkg"
    shutil.copyfile(world_gpkg, gpkg)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(Settings(workspace=str(gpkg))),
                                        host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_swagger_ui_renders_offline(browser: Any, base: str) -> None:
    v = visit(browser, f"{base}/api.html")
    v.page.wait_for_selector(".opblock-summary-path", timeout=WAIT_MS)
    paths = v.page.eval_on_selector_all(".opblock-summary-path",
                                        "els => els.map(e => e.textContent.trim())")
    assert "/lookup" in paths
    assert any(p.startswith("/collections") for p in paths)
    assert v.page.locator(".info .title").inner_text().startswith("gisgov")
    assert v.external == [], v.external
    v.context.close()


def test_redoc_renders_offline(browser: Any, base: str) -> None:
    v = visit(browser, f"{base}/redoc")
    v.page.wait_for_selector("h1", timeout=WAIT_MS)
    v.page.wait_for_function("document.body.innerText.includes('/lookup')", timeout=WAIT_MS)
    assert "gisgov" in v.page.locator("h1").first.inner_text()
    assert v.external == [], v.external
    v.context.close()


def test_openapi_json_is_the_api_document(base: str) -> None:
    import httpx

    with httpx.Client(base_url=base) as client:
        plain = client.get("/openapi.json")
        ogc = client.get("/api")
    assert plain.status_code == ogc.status_code == 200
    assert plain.json() == ogc.json()
    assert plain.json()["openapi"].startswith("3.0")

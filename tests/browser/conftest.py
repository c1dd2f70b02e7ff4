"""The console in a real browser: Playwright (sync API) driving Debian's Chromium, headless, against a live
lanjie (API + worker + mounted sandbox carriers, tests/e2e/live.py) on a 127.0.0.1 port.

One browser per test module; a fresh live server, database and browser context per test. Screenshots go to
``$LANJIE_SCREENSHOTS`` when it is set, else to the test's tmp_path. Without /usr/bin/chromium the tests are
skipped, unless ``CI`` is set: CI must run them (``.ci/run`` installs Debian's chromium package).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lanjie.service import console_users
from tests.e2e.live import Live, start_live, stop_live

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

#: Debian's Chromium (``LANJIE_CHROMIUM`` names another binary).
CHROMIUM = Path(os.environ.get("LANJIE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "correct horse battery"
ROLES = ("owner", "agent", "warehouse")
#: Every wait is bounded (milliseconds, as Playwright counts).
WAIT_MS = 5_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the module (module-scoped: sync Playwright marks its loop as running in the main
    thread between calls, so it must not outlive the module's tests)."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package to run the console's browser tests"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                     timeout=30_000)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Console:
    """A live lanjie with console users (owner, agent, warehouse) in its shop, and a browser page on it."""

    live: Live
    page: Page
    logins: dict[str, str]
    shots: Path

    @property
    def base(self) -> str:
        return self.live.base

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path, wait_until="domcontentloaded")

    def sign_in(self, role: str = "agent", *, lands_on: str = "") -> None:
        """Sign in through the form as the shop's ``role`` user and wait for the role's home page."""
        self.goto("/console/sign-in")
        self.page.fill("#login", self.logins[role])
        self.page.fill("#password", PASSWORD)
        self.page.click("form[action='/console/sign-in'] button[type=submit]")
        home = lands_on or ("/console/receiving" if role == "warehouse" else "/console/cases")
        self.page.wait_for_url(re.compile(re.escape(self.base + home) + r"(\?.*)?$"), timeout=WAIT_MS)

    def shot(self, name: str) -> Path:
        """A full-page screenshot ``<name>.png`` in the screenshot directory."""
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def screenshot_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("LANJIE_SCREENSHOTS", "")
    path = Path(chosen) if chosen else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sandbox(**options): SandboxConfig options for the test's live lanjie")


@pytest.fixture
def live(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Live]:
    """lanjie with its worker and the sandbox carriers (options from the test's ``sandbox`` mark)."""
    marker = request.node.get_closest_marker("sandbox")
    server = start_live(database_url, tmp_path / "data", sandbox=dict(marker.kwargs) if marker else None)
    try:
        yield server
    finally:
        stop_live(server)


@pytest.fixture
def console(live: Live, browser: Browser, tmp_path: Path) -> Iterator[Console]:
    logins = {}
    for role in ROLES:
        logins[role] = f"{role}@shop.test"
        console_users.create_user(live.container.engine, live.shop_id, logins[role], PASSWORD, role,
                                  f"{role.title()} Test")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield Console(live, page, logins, screenshot_dir(tmp_path))
    finally:
        context.close()  # before the server stops: the page's event stream holds a connection open
    assert errors == [], f"script errors on the page: {errors}"

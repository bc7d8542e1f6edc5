"""A real node for browser tests: ``tessera serve`` on 127.0.0.1, driven by Chromium.

Shared by every web test (reuse these, do not start more servers: each costs seconds):

* ``node`` (session): the demo deployment (three agencies of three countries,
  series Amber (NL-NPU), Birch (DE-BKA), Cedar (AU-ACCCE) of generated pictures,
  ingested from files on this machine, so thumbnails can be made) plus accounts:
  ``node.users["nl"]`` (curator, NL-NPU), ``["de"]`` (analyst, DE-BKA),
  ``["au"]`` (curator, AU-ACCCE), ``["viewer"]`` (viewer, NL-NPU), ``["admin"]``
  (admin, NL-NPU); served by a
  real ``tessera serve`` subprocess at ``node.base``; ``node.investigation``: two
  rooms sharing a poster, a sign, camera/GPS metadata (``tests/web/investigation.py``).
  ``node.seizure`` is a
  generated seizure folder on the server (copies and edits of known pictures,
  new ones, damaged files); the server lets users triage it in place
  (``TESSERA_TRIAGE_ROOTS``).
* ``browser`` (session): headless Debian Chromium (``/usr/bin/chromium``, never a
  downloaded browser); the whole folder skips, saying why, where it is absent.
* ``page`` (function): a fresh browser context (no cookies) at 1366x768;
  ``signed_in(user)``: a page already signed in as ``node.users[user]``.
* ``shoot(page, name)``: screenshots at 1366x768 and 1920x1080 under
  ``test-output/screenshots/`` (gitignored), for people to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tessera.app import App, Caller
from tessera.app import demo as demo_uc
from tessera.app.accounts import create_user
from tests.web.investigation import Investigation
from tests.web.investigation import add as add_investigation

CHROMIUM = Path(os.environ.get("TESSERA_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "correct horse battery staple"
VIEWPORTS = ((1366, 768), (1920, 1080))

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None  # type: ignore[assignment]


@dataclass(frozen=True)
class User:
    email: str
    agency: str
    country: str
    role: str
    password: str = PASSWORD


@dataclass
class Node:
    base: str
    home: Path
    seizure: Path
    users: dict[str, User]
    env: dict[str, str] = field(default_factory=dict)
    investigation: Investigation | None = None
    """Scenes with a shared poster, a sign, camera/GPS metadata (tests/web/investigation.py)."""

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


USERS = {
    "nl": User("curator@nl.example.org", "NL-NPU", "NL", "curator"),
    "de": User("analyst@de.example.org", "DE-BKA", "DE", "analyst"),
    "au": User("curator@au.example.org", "AU-ACCCE", "AU", "curator"),
    "viewer": User("viewer@nl.example.org", "NL-NPU", "NL", "viewer"),
    "admin": User("admin@nl.example.org", "NL-NPU", "NL", "admin"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if sync_playwright is None:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package (.ci/run does)")
    home = tmp_path_factory.mktemp("web") / "node"
    settings = demo_uc.prepare(home)
    op = Caller.local_operator()
    with App(settings) as app:
        built = demo_uc.build(app, op, workers=1)
        investigation = add_investigation(app, home / "investigation")
        for u in USERS.values():
            create_user(app, op, u.email, agency=u.agency, role=u.role, password=PASSWORD)
    env = {**os.environ, "TESSERA_HOME": str(home), "TESSERA_TRIAGE_ROOTS": str(built.seizure)}
    env.pop("TESSERA_DATABASE_URL", None)
    port = _free_port()
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tessera.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"tessera serve exited {proc.returncode}: {(home / 'serve.log').read_text()}"
                )
            try:
                if httpx.get(f"{base}/status", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("tessera serve did not answer within 60 s")
            time.sleep(0.2)
        yield Node(
            base=base,
            home=home,
            seizure=built.seizure,
            users=dict(USERS),
            env=env,
            investigation=investigation,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser(node: Node) -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser, node: Node) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=node.base)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def sign_in(page: Page, user: User) -> None:
    """Fill the sign-in form as a person would and land on Home."""
    page.goto("/login")
    page.fill("#email", user.email)
    page.fill("#password", user.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=user]")


@pytest.fixture
def signed_in(browser: Browser, node: Node) -> Iterator[Callable[[str], Page]]:
    """``signed_in("nl")`` -> a page (own browser context) signed in as that user."""
    contexts: list[Any] = []

    def make(who: str) -> Page:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=node.base)
        context.set_default_timeout(15_000)
        contexts.append(context)
        pg = context.new_page()
        sign_in(pg, node.users[who])
        return pg

    try:
        yield make
    finally:
        for c in contexts:
            c.close()


@pytest.fixture(scope="session")
def shoot() -> Callable[[Page, str], list[Path]]:
    """Screenshot the page (full page) at each size in ``VIEWPORTS``; returns the files."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)

    def take(pg: Page, name: str) -> list[Path]:
        size = pg.viewport_size
        out = []
        for w, h in VIEWPORTS:
            pg.set_viewport_size({"width": w, "height": h})
            pg.wait_for_load_state("networkidle")
            path = SCREENSHOTS / f"{name}-{w}x{h}.png"
            pg.screenshot(path=str(path), full_page=True)
            out.append(path)
        if size:
            pg.set_viewport_size(size)
        return out

    return take

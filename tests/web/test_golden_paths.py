"""The investigators' golden paths in a real Chromium against a real ``tessera serve``.

Sign in (and fail to), triage a seizure on the server and open a known series
from its results, pictures blurred until revealed one at a time (each reveal
audited), a curator changes a series' sharing and another country's user sees
the change, sign out. Expected facts come from the demo scenario's definition
(``tessera.demo.scenario``: which series each seizure file copies), not from
the pages under test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tessera.app import App, Caller, Role, Settings
from tessera.app import audit as audit_uc
from tests.web.conftest import Node


def _audit(node: Node, action: str, user: str) -> list[audit_uc.AuditEntryView]:
    with App(Settings.for_home(node.home)) as app:
        return [
            e for e in audit_uc.show(app, Caller.local_operator(), user=user) if e.action == action
        ]


def test_sign_in_sets_a_strict_httponly_session_and_sign_out_ends_it(
    page: Page, node: Node, shoot: Callable[[Page, str], list[Path]]
) -> None:
    page.goto("/triage")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Ftriage$"))
    shoot(page, "login")
    page.fill("#email", node.users["nl"].email)
    page.fill("#password", "not the password at all")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password")
    page.fill("#email", node.users["nl"].email)  # the form kept where we were going
    page.fill("#password", node.users["nl"].password)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/triage$"))  # back where we were sent from
    cookie = next(c for c in page.context.cookies() if c["name"] == "tessera_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain http on loopback only
    expect(page.get_by_test_id("agency")).to_contain_text("NL-NPU")
    # a form posted without the page's CSRF token is refused, and changes nothing
    r = page.request.post(node.url("/settings"), form={"blur": "false"})
    assert r.status == 422
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    # the old cookie no longer opens anything
    stale = httpx.get(
        node.url("/"), cookies={"tessera_session": cookie["value"]}, follow_redirects=False
    )
    assert stale.status_code == 303
    assert stale.headers["location"].startswith("/login")


def test_triage_a_seizure_and_open_a_known_series(
    signed_in: Callable[[str], Page], node: Node, shoot: Callable[[Page, str], list[Path]]
) -> None:
    page = signed_in("de")
    shoot(page, "home")
    page.get_by_role("link", name="Triage", exact=True).click()
    shoot(page, "triage")
    page.fill("#folder", str(node.seizure))
    page.get_by_role("button", name="Triage folder").click()
    expect(page).to_have_url(re.compile(r"/triage/jobs/[0-9a-f]{32}$"))
    expect(page.get_by_test_id("state")).to_have_text("done", timeout=60_000)
    # the seizure copies Amber (NL), Birch (DE) and Cedar (AU) pictures: all three
    # series are shared at "status" with the network by default
    hits = page.get_by_test_id("series-hit")
    expect(hits).to_have_count(3)
    for name in ("Series Amber", "Series Birch", "Series Cedar"):
        expect(hits.filter(has_text=name)).to_have_count(1)
    expect(hits.filter(has_text="Series Amber")).to_contain_text("vid-nl@example.org")
    shoot(page, "triage-job")
    page.get_by_role("link", name=re.compile(r"^Errors")).click()
    rows = page.get_by_test_id("results").locator("tbody tr")
    expect(rows).to_have_count(3)  # truncated, empty, not-a-picture
    page.get_by_role("link", name=re.compile(r"^New")).click()
    expect(page.get_by_test_id("results").locator("tbody tr").first).to_contain_text("new")
    page.get_by_role("link", name=re.compile(r"^Known")).click()
    page.get_by_test_id("results").get_by_role("link", name="Series Amber").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Series Series Amber")
    expect(page.get_by_test_id("owner")).to_contain_text("NL-NPU")
    expect(page.get_by_test_id("level")).to_have_text("status")


def test_pictures_are_blurred_until_revealed_one_at_a_time(
    signed_in: Callable[[str], Page], node: Node, shoot: Callable[[Page, str], list[Path]]
) -> None:
    page = signed_in("nl")
    page.goto("/series/Series%20Amber")
    tiles = page.locator(".tile")
    expect(tiles).to_have_count(6)
    shoot(page, "series")
    for i in range(6):
        assert "blur" in tiles.nth(i).locator("img").evaluate("e => getComputedStyle(e).filter")
    # the owner sees real thumbnails (small JPEGs), never the original
    src = tiles.first.locator("img").get_attribute("src") or ""
    thumb = page.request.get(node.url(src))
    assert thumb.headers["content-type"] == "image/jpeg"
    assert len(thumb.body()) < 60_000
    before = len(_audit(node, "media.reveal", node.users["nl"].email))
    tiles.nth(0).locator("button.reveal").click()
    expect(tiles.nth(0)).to_have_class(re.compile("revealed"))
    assert tiles.nth(0).locator("img").evaluate("e => getComputedStyle(e).filter") == "none"
    tiles.nth(1).locator("button.reveal").click()
    expect(tiles.nth(1)).to_have_class(re.compile("revealed"))
    expect(tiles.nth(0)).not_to_have_class(re.compile("revealed"))
    assert "blur" in tiles.nth(0).locator("img").evaluate("e => getComputedStyle(e).filter")
    assert len(_audit(node, "media.reveal", node.users["nl"].email)) == before + 2
    # another country's analyst sees Amber at "status": a placeholder, no pixels
    de = signed_in("de")
    r = de.request.get(node.url(src))
    assert r.status == 200 and r.headers["content-type"] == "image/svg+xml"


def test_a_curator_changes_sharing_and_another_agency_sees_it(
    signed_in: Callable[[str], Page], node: Node, shoot: Callable[[Page, str], list[Path]]
) -> None:
    nl = signed_in("nl")
    de = signed_in("de")
    de.goto("/series/Series%20Amber")
    expect(de.get_by_test_id("level")).to_have_text("status")
    expect(de.get_by_role("heading", name="Sharing")).to_have_count(0)  # grants: owner only

    def share(level: str, scope: str = "network", grantees: str = "") -> None:
        nl.goto("/series/Series%20Amber")
        nl.select_option("#scope", scope)
        nl.fill("#grantees", grantees)
        nl.select_option("#level", level)
        nl.get_by_role("button", name="Share").click()
        expect(nl.get_by_test_id("grants")).to_contain_text(level)

    try:
        share("none")
        r = de.goto("/series/Series%20Amber")
        assert r is not None and r.status == 404  # does not exist for them, not "forbidden"
        expect(de.locator("body")).not_to_contain_text("Amber")
        de.goto("/series")
        expect(de.locator("main")).not_to_contain_text("Series Amber")
        share("full", "country", "DE")
        shoot(nl, "series-sharing")
        de.goto("/series/Series%20Amber")
        expect(de.get_by_test_id("level")).to_have_text("full")
        expect(de.get_by_role("heading", name="Markers")).to_be_visible()
    finally:
        share("status")
        share("status", "country", "DE")


def test_admin_lists_users_tokens_and_verifies_the_audit_log(
    signed_in: Callable[[str], Page], shoot: Callable[[Page, str], list[Path]]
) -> None:
    page = signed_in("nl")
    page.goto("/admin")
    expect(page.locator("main")).to_contain_text("viewer@nl.example.org")
    expect(page.locator("main")).not_to_contain_text("analyst@de.example.org")  # own agency
    page.fill("#tname", "nightly script")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("new-token").inner_text()
    assert re.fullmatch(r"tsr_[a-z2-7]{16}_[A-Za-z0-9_-]{43}", token)
    r = httpx.get(
        page.url.split("/admin")[0] + "/api/v1/series",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    expect(page.get_by_role("link", name="Verify the log")).to_have_count(0)  # admins only
    shoot(page, "admin")
    admin = signed_in("admin")
    admin.goto("/admin")
    admin.get_by_role("link", name="Verify the log").click()
    expect(admin.get_by_test_id("verification")).to_contain_text("Verified")
    page.goto("/series")
    shoot(page, "series-list")
    page.goto("/settings")
    shoot(page, "settings")


def test_series_list_pages_and_sorts_and_greyscale_is_kept_per_user(
    signed_in: Callable[[str], Page], node: Node
) -> None:
    from tessera.app import series as series_uc

    with App(Settings.for_home(node.home)) as app:
        for i in range(30):
            series_uc.create(app, Caller.local_operator(), f"Zeta {i:02d}", "AU-ACCCE")
        viewer = Caller(role=Role.VIEWER, email=node.users["viewer"].email, agency_code="NL-NPU")
        names = sorted(s.name for s in series_uc.list_series(app, viewer))
    assert len(names) > 25  # other tests of the session may have added series too
    page = signed_in("viewer")
    page.goto("/series?sort=name")
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text(names[0])
    page.get_by_role("link", name="Next →").click()
    expect(page.locator("main table tbody tr")).to_have_count(min(25, len(names) - 25))
    if len(names) <= 50:
        expect(page.locator("main table tbody tr").last).to_contain_text(names[-1])
    page.goto("/series?sort=name&desc=true")
    expect(page.locator("main table tbody tr").first).to_contain_text(names[-1])
    # greyscale, kept for this user only; blur stays on
    page.goto("/settings")
    page.get_by_label("Show pictures in greyscale").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    page.goto("/series/Series%20Amber")
    style = page.locator(".tile img").first.evaluate("e => getComputedStyle(e).filter")
    assert "grayscale" in style and "blur" in style
    other = signed_in("nl")
    other.goto("/series/Series%20Amber")
    assert "grayscale" not in other.locator(".tile img").first.evaluate(
        "e => getComputedStyle(e).filter"
    )

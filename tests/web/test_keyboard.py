"""Keyboard only, in a real Chromium: the skip link, a tab order that reaches the
main controls, a visible focus ring, revealing pictures one at a time with the
keyboard, and sorting and paging a list without a mouse."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.web import investigation as inv
from tests.web.conftest import Node

Shoot = Callable[[Page, str], Any]

ACTIVE = """() => {
  const e = document.activeElement;
  const st = getComputedStyle(e);
  return {
    tag: e.tagName.toLowerCase(),
    text: (e.innerText || e.getAttribute("aria-label") || e.getAttribute("title") || "").trim(),
    href: e.getAttribute("href"),
    cls: e.className || "",
    outline: st.outlineStyle, width: parseFloat(st.outlineWidth),
    visible: (() => { const r = e.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0; })(),
  };
}"""


def _tab_until(
    page: Page, want: Callable[[dict[str, Any]], bool], limit: int = 80
) -> dict[str, Any]:
    """Press Tab until the focused element satisfies ``want``; fail after ``limit`` presses."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        el: dict[str, Any] = page.evaluate(ACTIVE)
        seen.append(el["text"][:30] or el["tag"])
        if want(el):
            return el
    raise AssertionError(f"never reached by Tab; focus went through {seen}")


def test_keyboard_reaches_controls_reveals_and_sorts(
    signed_in: Callable[[str], Page], node: Node, shoot: Shoot
) -> None:
    page = signed_in("nl")
    page.goto(f"/series/{inv.SERIES.replace(' ', '%20')}")
    # 1. the first Tab shows the skip link; Enter moves focus to the content
    page.keyboard.press("Tab")
    skip = page.evaluate(ACTIVE)
    assert skip["text"] == "Skip to content" and skip["visible"], skip
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    # 2. from the top, Tab walks the main navigation in order, then the page
    page.goto(f"/series/{inv.SERIES.replace(' ', '%20')}")  # afresh, without #main
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(page.evaluate(ACTIVE)["text"])
    for label in ("Tessera", "Home", "Triage", "Series", "Search", "Graph", "Admin", "Sign out"):
        assert label in order, (label, order)
    assert (
        order.index("Home") < order.index("Series") < order.index("Admin") < order.index("Sign out")
    )
    # 3. a picture tile takes focus with a visible ring, and Enter reveals it
    first = _tab_until(page, lambda e: "reveal" in e["cls"])
    assert first["outline"] != "none" and first["width"] >= 2, first  # visible focus
    page.keyboard.press("Enter")
    tiles = page.locator(".tile")
    expect(tiles.nth(0)).to_have_class(re.compile(r"\brevealed\b"))
    expect(tiles.nth(0).locator(".reveal")).to_have_attribute("aria-pressed", "true")
    # the next tile with Space: still one picture revealed at a time
    _tab_until(page, lambda e: "reveal" in e["cls"])
    page.keyboard.press("Space")
    expect(tiles.nth(1)).to_have_class(re.compile(r"\brevealed\b"))
    expect(page.locator(".tile.revealed")).to_have_count(1)
    # 4. the grid's order links are reachable and followed with Enter
    page.goto(f"/series/{inv.SERIES.replace(' ', '%20')}")
    _tab_until(page, lambda e: e["text"].startswith("file size"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"grid_sort=size"))
    # 5. a list: sort by a column header and open a row, keyboard only
    page.goto("/series")
    _tab_until(page, lambda e: e["text"].startswith("Owner"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]sort=owner"))
    expect(page.locator("th[aria-sort]")).to_contain_text("Owner")
    shoot(page, "series-list-sorted")
    # the first row's series link (other tests add series: which one is first varies)
    row = _tab_until(page, lambda e: (e["href"] or "").startswith("/series/"))
    assert row["outline"] != "none", row
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(row["text"])
    page.goto("/notifications")
    expect(page.get_by_test_id("notifications")).to_be_visible()
    shoot(page, "notifications")

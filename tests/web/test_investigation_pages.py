"""Media item, search, graph and report pages in a real Chromium, and axe-core (the
vendored copy) on every page of the UI: no serious or critical violation.

Expected facts come from ``tests/web/investigation.py`` (where the poster was pasted,
which words the sign reads, the camera serial and GPS points), not from the pages.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tessera.app import App, Caller, Settings
from tessera.app import audit as audit_uc
from tests.web import investigation as inv
from tests.web.conftest import Node

AXE = "/static/vendor/axe-core-4.14.1.min.js"
Shoot = Callable[[Page, str], list[Path]]


def _investigation(node: Node) -> inv.Investigation:
    assert node.investigation is not None
    return node.investigation


def _blurred(page: Page, selector: str) -> bool:
    f = page.locator(selector).first.evaluate("e => getComputedStyle(e).filter")
    return "blur" in str(f)


def _drag(page: Page, box: tuple[int, int, int, int], size: tuple[int, int]) -> None:
    """Drag over the picture from corner to corner of ``box`` (picture pixels)."""
    stage = page.locator(".viewer.big .stage").bounding_box()
    assert stage is not None
    sx, sy = stage["width"] / size[0], stage["height"] / size[1]
    page.mouse.move(stage["x"] + box[0] * sx, stage["y"] + box[1] * sy)
    page.mouse.down()
    page.mouse.move(stage["x"] + (box[0] + box[2]) / 2 * sx, stage["y"] + box[3] * sy / 2)
    page.mouse.move(stage["x"] + box[2] * sx, stage["y"] + box[3] * sy)
    page.mouse.up()


def test_draw_a_marker_and_find_it_elsewhere(
    signed_in: Callable[[str], Page], node: Node, shoot: Shoot
) -> None:
    case = _investigation(node)
    page = signed_in("nl")
    page.goto(f"/media/{case.scene_a}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Media {case.scene_a}")
    assert _blurred(page, ".viewer.big .pic")  # blurred by default
    expect(page.get_by_test_id("metadata-links")).to_contain_text("same camera")
    expect(page.get_by_test_id("metadata-links")).to_contain_text("25 m")
    shoot(page, "media")
    page.keyboard.press("d")  # the shortcut starts drawing
    expect(page.get_by_test_id("draw-toggle")).to_have_attribute("aria-pressed", "true")
    _drag(page, inv.POSTER_AT_A, (800, 600))
    got = [int(page.input_value(f"#{n}")) for n in ("x0", "y0", "x1", "y1")]
    assert all(abs(g - w) <= 4 for g, w in zip(got, inv.POSTER_AT_A, strict=True)), got
    page.select_option("#kind", "poster")
    page.fill("#note", "poster with circles")
    page.get_by_role("button", name="Create marker and find it elsewhere").click()
    expect(page).to_have_url(re.compile(rf"/media/{case.scene_a}\?find=\d+#found$"))
    found = page.get_by_test_id("found")
    expect(found.get_by_test_id("found-link")).to_have_attribute("href", f"/media/{case.scene_b}")
    # the hit shows where: the marker's outline drawn on scene B, inside its picture
    quad = found.locator("svg polygon.found, svg rect.found").first
    expect(quad).to_be_attached()
    assert _blurred(page, "[data-testid=found] .pic")
    expect(page.get_by_test_id("markers")).to_contain_text("poster with circles")
    shoot(page, "media-marker-found")
    with App(Settings.for_home(node.home)) as app:
        added = [
            e
            for e in audit_uc.show(app, Caller.local_operator(), user=node.users["nl"].email)
            if e.action == "marker.add"
        ]
    assert added and added[-1].target == f"media:{case.scene_a}"


def test_search_by_text_camera_and_place(
    signed_in: Callable[[str], Page], node: Node, shoot: Shoot
) -> None:
    case = _investigation(node)
    page = signed_in("nl")
    page.get_by_role("link", name="Search", exact=True).click()
    shoot(page, "search")
    # a dropped (here: chosen) file is hashed on the server and found by its digest
    scene_b = node.home / "investigation" / "scene-b.jpg"
    page.set_input_files("#file", str(scene_b))
    page.get_by_role("button", name="Hash and look up").click()
    expect(page.get_by_test_id("file-hashes")).to_contain_text(
        hashlib.sha256(scene_b.read_bytes()).hexdigest()
    )
    hit = page.get_by_test_id("results").get_by_role("link", name=f"open media {case.scene_b}")
    expect(hit).to_be_visible()
    page.get_by_role("link", name="Search", exact=True).click()
    if case.sign is None:
        pytest.skip("tesseract is not installed: the sign's text was not read")
    page.get_by_test_id("text-query").fill("harbour")
    page.get_by_role("button", name="Search text").click()
    expect(page).to_have_url(re.compile(r"/search\?text=harbour$"))
    results = page.get_by_test_id("results")
    expect(results.get_by_role("link", name=f"open media {case.sign}")).to_be_visible()
    expect(results.locator(".tile")).to_have_count(1)
    assert _blurred(page, "[data-testid=results] .pic")
    shoot(page, "search-text")
    page.goto(f"/search?serial={inv.SERIAL.lstrip('0')}")  # leading zeros do not matter
    tiles = page.get_by_test_id("results").locator(".tile")
    expect(tiles).to_have_count(2)
    page.goto(f"/search?lat={inv.GPS_A[0]}&lon={inv.GPS_A[1]}&radius=10")
    expect(page.get_by_test_id("results").locator(".tile")).to_have_count(1)  # B is 25 m away
    page.goto(f"/search?lat={inv.GPS_A[0]}&lon={inv.GPS_A[1]}&radius=30")
    expect(page.get_by_test_id("results").locator(".tile")).to_have_count(2)
    shoot(page, "search-place")


def test_graph_expands_a_node(signed_in: Callable[[str], Page], node: Node, shoot: Shoot) -> None:
    page = signed_in("nl")
    page.get_by_role("link", name="Graph", exact=True).click()
    neighbours = page.get_by_test_id("neighbours")
    expect(neighbours).to_contain_text(f"series {inv.SERIES}")
    # from the list (keyboard path): the investigation's case, tied to its series
    case_label = f"case {inv.OWNER}-2026-002 ({inv.OWNER})"
    neighbours.get_by_role("link", name=case_label).click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text(case_label[5:])
    expect(neighbours).to_contain_text(f"series {inv.SERIES}")
    expect(neighbours).not_to_contain_text("Series Amber")
    cy = page.get_by_test_id("cy")
    expect(cy).to_have_attribute("data-nodes", "3")  # the case, its agency, its series
    # click the agency node in the drawing: the agency's other series and case join
    key = neighbours.get_by_role("link", name=f"agency {inv.OWNER}").get_attribute("href")
    assert key is not None
    node_id = key.split("node=")[1]
    pos: dict[str, float] = page.evaluate(
        "k => document.getElementById('cy').cy.getElementById(k).renderedPosition()", node_id
    )
    box = cy.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    expect(cy).to_have_attribute("data-nodes", "5")
    labels: list[str] = page.evaluate(
        "() => document.getElementById('cy').cy.nodes().map(n => n.data('label'))"
    )
    assert "series Series Amber" in labels and f"case {inv.OWNER}-2026-001 ({inv.OWNER})" in labels
    # after the expansion no two nodes' boxes (label included) overlap: labels readable
    boxes: list[dict[str, float]] = page.evaluate(
        "() => document.getElementById('cy').cy.nodes()"
        ".map(n => n.renderedBoundingBox({includeLabels: true, includeOverlays: false}))"
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["x2"] <= b["x1"] or b["x2"] <= a["x1"] or a["y2"] <= b["y1"] or b["y2"] <= a["y1"]
            )
            assert apart, (a, b)
    shoot(page, "graph")
    # the filter: only victims -> the series' own view lists none of its cases
    page.goto(f"/graph?node={node_id}&types=victim")
    expect(page.get_by_test_id("neighbours")).to_contain_text("No neighbours you may see")
    page.goto(f"/graph?node={node_id}&types=series")
    expect(page.get_by_test_id("neighbours").locator("li")).to_have_count(2)  # Amber, Delta
    page.goto(f"/series/{inv.SERIES.replace(' ', '%20')}/report")
    expect(page.get_by_test_id("report-linked")).to_contain_text(f"{inv.OWNER}-2026-002")
    page.emulate_media(media="print")
    assert page.locator("header.top").evaluate("e => getComputedStyle(e).display") == "none"
    page.emulate_media(media="screen")
    shoot(page, "series-report")


def _axe(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(url=AXE)  # same origin: allowed by the pages' CSP
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await axe.run(document, { resultTypes: ["violations"] });
            return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 4).map(n => n.target.join(" ")) }));
        }"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_axe_finds_no_serious_violation_on_any_page(
    signed_in: Callable[[str], Page], page: Page, node: Node
) -> None:
    case = _investigation(node)
    page.goto("/login")
    failures = {"/login": _axe(page)}
    admin = signed_in("admin")
    admin.goto("/triage")
    admin.fill("#folder", str(node.seizure))
    admin.get_by_role("button", name="Triage folder").click(timeout=90_000)
    expect(admin).to_have_url(re.compile(r"/triage/jobs/[0-9a-f]{32}$"), timeout=30_000)
    job = admin.url.split(node.base)[1]
    paths = [
        "/",
        "/triage",
        "/series",
        "/series/Series%20Amber",
        "/series/Series%20Delta/report",
        "/admin",
        "/settings",
        f"/media/{case.scene_a}",
        "/search",
        "/search?text=harbour",
        f"/search?lat={inv.GPS_A[0]}&lon={inv.GPS_A[1]}&radius=50",
        "/search?marker=any",
        "/graph",
        "/notifications?sort=kind",
        "/admin?users_sort=role&users_desc=true&audit_sort=action",
        "/series/Series%20Amber?grid_sort=size&grid_desc=true",
    ]
    for path in paths:
        admin.goto(path)
        admin.wait_for_load_state("networkidle")
        failures[path] = _axe(admin)
    admin.goto(job)  # started first: it ran while the other pages were checked
    expect(admin.get_by_test_id("state")).to_have_text("done", timeout=60_000)
    admin.wait_for_load_state("networkidle")
    failures[job] = _axe(admin)
    bad = {p: v for p, v in failures.items() if v}
    assert not bad, bad

"""Triage from the browser's other two inputs, and what the owner then sees.

Uploaded files are hashed on the server in a private folder and named as the
investigator named them (never by the server's temporary path), even when the
upload is larger than the API's JSON body limit; a ``tessera hash --json``
document made on the investigator's machine is triaged without any media.
Which series each seizure file copies comes from ``tessera.demo.scenario``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from tessera.api.limits import JSON_BODY_LIMIT
from tessera.app import App, Caller, Settings, trust
from tessera.app import media as media_uc
from tessera.app.caller import Role
from tests.web.conftest import Node


def _series_hits(page: Page) -> list[str]:
    expect(page.get_by_test_id("state")).to_have_text("done", timeout=60_000)
    return sorted(page.get_by_test_id("series-hit").locator("h3").all_inner_texts())


def test_triage_uploaded_files_larger_than_a_json_body(
    signed_in: Callable[[str], Page], node: Node, tmp_path: Path
) -> None:
    noise = tmp_path / "big-noise.png"
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (1400, 1400, 3), dtype=np.uint8)).save(noise)
    assert noise.stat().st_size > JSON_BODY_LIMIT  # only the upload limit lets it in
    phone = sorted((node.seizure / "phone" / "DCIM").iterdir())
    page = signed_in("de")
    page.goto("/triage")
    page.set_input_files("#files", [str(p) for p in [*phone, noise]])
    page.get_by_role("button", name="Triage files").click()
    expect(page).to_have_url(re.compile(r"/triage/jobs/[0-9a-f]{32}$"))
    assert _series_hits(page) == ["Series Amber", "Series Birch", "Series Cedar"]
    table = page.get_by_test_id("results")
    expect(table.locator("tbody tr")).to_have_count(len(phone) + 1)
    expect(table).to_contain_text("exact-copy-amber.jpg")
    expect(table).not_to_contain_text("tessera-upload-")
    expect(table.locator("tr", has_text="big-noise.png")).to_contain_text("new")


def test_triage_a_fingerprint_file_then_the_owner_sees_who_hit_their_series(
    signed_in: Callable[[str], Page], node: Node, tmp_path: Path
) -> None:
    doc = tmp_path / "laptop.json"
    hashed = subprocess.run(
        [sys.executable, "-m", "tessera.cli.main", "hash", "--json", str(node.seizure / "laptop")],
        capture_output=True,
        text=True,
        timeout=120,
        env=node.env,
    )
    assert hashed.returncode == 0, hashed.stderr
    doc.write_text(hashed.stdout)
    au = signed_in("au")
    au.goto("/triage")
    au.set_input_files("#document", str(doc))
    au.get_by_role("button", name="Triage fingerprints").click()
    # laptop/: watermarked Amber and colour-shifted Cedar are near copies; the
    # cropped and mirrored Birch copies are beyond PDQ's radius
    assert _series_hits(au) == ["Series Amber", "Series Cedar"]
    au.get_by_role("link", name=re.compile(r"^Near")).click()
    expect(au.get_by_test_id("results").locator("tbody tr")).to_have_count(2)

    # the owner of Amber (NL) is told, and sees the submissions and a verdict
    with App(Settings.for_home(node.home)) as app:
        nl = Caller(
            role=Role.CURATOR, email=node.users["nl"].email, agency_code="NL-NPU", user_id=1
        )
        first = media_uc.list_media(app, nl, series="Series Amber", limit=1).items[0]
        de = Caller(
            role=Role.ANALYST, email=node.users["de"].email, agency_code="DE-BKA", user_id=2
        )
        trust.judge(app, de, first.id, "dispute", reason="duplicate")
    page = signed_in("nl")
    assert int(page.get_by_test_id("unread").inner_text()) >= 1
    expect(page.locator("#notifications")).to_contain_text("AU-ACCCE (AU) hit series Series Amber")
    page.goto("/series/Series%20Amber")
    expect(
        page.get_by_test_id("submissions").locator("tbody tr", has_text="NL-NPU")
    ).to_contain_text("6")
    expect(page.get_by_test_id("verdicts")).to_contain_text("DE-BKA (DE)")
    expect(page.get_by_test_id("verdicts")).to_contain_text("disputed")
    expect(page.get_by_test_id("overlaps")).to_contain_text("AU-ACCCE")

"""Sharing defaults edited in Admin, in a real Chromium: a curator chooses ``none`` for
their agency's new series; a series the agency creates next is then invisible to
another agency (404), the change is in the audit log, and the node's rule comes
back when the curator chooses it again. (AU's curator, and the series deleted at the
end: the session's node is shared with tests that count NL's series.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tessera.app import App, Caller, Settings
from tessera.app import audit as audit_uc
from tessera.app import series as series_uc
from tests.web.conftest import Node

Shoot = Callable[[Page, str], Any]


def test_a_curator_sets_the_default_for_new_series_in_admin(
    signed_in: Callable[[str], Page], node: Node, shoot: Shoot
) -> None:
    page = signed_in("au")
    page.goto("/admin")
    shown = page.get_by_test_id("sharing-defaults")
    expect(shown).to_contain_text("AU-ACCCE: new series at status (the node's rule)")
    page.get_by_label("New series").select_option("none")
    page.get_by_role("button", name="Save defaults").click()
    expect(shown).to_contain_text("new series at none")
    expect(shown).to_contain_text("set by curator@au.example.org")
    shoot(page, "admin-sharing-defaults")
    try:
        with App(Settings.for_home(node.home)) as app:  # the agency's next series
            series_uc.create(app, Caller.local_operator(), "Series Kilo", "AU-ACCCE")
        other = signed_in("de")
        r = other.goto("/series/Series%20Kilo")
        assert r is not None and r.status == 404
        assert other.goto("/series").ok
        expect(other.locator("main")).not_to_contain_text("Series Kilo")
        with App(Settings.for_home(node.home)) as app:
            entries = audit_uc.show(app, Caller.local_operator(), user="curator@au.example.org")
        assert any(
            e.action == "sharing.defaults" and e.target == "agency:AU-ACCCE" for e in entries
        )
    finally:  # the session's node is shared: back to the node's rule, no Series Kilo
        with App(Settings.for_home(node.home)) as app:
            names = {x.name for x in series_uc.list_series(app, Caller.local_operator())}
            if "Series Kilo" in names:
                series_uc.delete(app, Caller.local_operator(), "Series Kilo")
        page.goto("/admin")
        page.get_by_label("New series").select_option("node")
        page.get_by_role("button", name="Save defaults").click()
        expect(shown).to_contain_text("new series at status (the node's rule)")

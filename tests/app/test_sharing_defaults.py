"""Per-agency sharing defaults (migration 0017), on SQLite and PostgreSQL (where
row-level security must let the owner write the default grant): a new series or
case of the agency gets the chosen level; existing ones keep theirs; curators set
their own agency's, admins any agency's; every change is audited."""

from __future__ import annotations

import pytest

from tessera.app import App, Caller, Role, agencies, series, sharing_defaults
from tessera.app import cases as cases_uc
from tessera.app.audit import show as audit_show
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tessera.storage import repo

NL = Caller(role=Role.CURATOR, user_id=None, email="c@nl.example.org", agency_code="NL-NPU")
NL_ANALYST = Caller(role=Role.ANALYST, user_id=None, email="a@nl.example.org", agency_code="NL-NPU")
DE = Caller(role=Role.ANALYST, user_id=None, email="a@de.example.org", agency_code="DE-BKA")
ADMIN = Caller(role=Role.ADMIN, user_id=None, email="admin@node.example.org", agency_code="DE-BKA")


def test_a_new_series_gets_its_agency_default_and_old_ones_keep_theirs(
    app: App, caller: Caller
) -> None:
    agencies.create(app, caller, "NL-NPU", country="NL", name="VIT")
    agencies.create(app, caller, "DE-BKA", country="DE", name="BKA")
    before = sharing_defaults.show(app, NL)
    assert (before.series_level, before.series_chosen) == ("status", False)
    assert (before.case_level, before.case_chosen) == ("none", False)
    series.create(app, NL, "Old", "NL-NPU")

    chosen = sharing_defaults.set_defaults(app, NL, "NL-NPU", series_level="none", case_level=None)
    assert (chosen.series_level, chosen.series_chosen, chosen.set_by) == (
        "none",
        True,
        "c@nl.example.org",
    )
    series.create(app, NL, "New", "NL-NPU")
    assert series.show(app, DE, "Old").name == "Old"  # the node's rule: status
    with pytest.raises(NotFound):
        series.show(app, DE, "New")  # the agency's default: none
    grants = series.show(app, NL, "New").sharing
    assert grants is not None
    assert [(g.scope, g.level, g.granted_by) for g in grants] == [
        ("network", "none", "c@nl.example.org")
    ]

    sharing_defaults.set_defaults(app, NL, "NL-NPU", series_level=None, case_level=None)
    series.create(app, NL, "Later", "NL-NPU")
    assert series.show(app, DE, "Later").level == "status"  # back to the node's rule

    entries = [e for e in audit_show(app, caller) if e.action == "sharing.defaults"]
    assert [e.target for e in entries] == ["agency:NL-NPU", "agency:NL-NPU"]


def test_who_may_set_defaults_and_a_case_default(app: App, caller: Caller) -> None:
    agencies.create(app, caller, "NL-NPU", country="NL", name="VIT")
    agencies.create(app, caller, "DE-BKA", country="DE", name="BKA")
    with pytest.raises(NotFound):  # another agency's settings do not exist for a curator
        sharing_defaults.set_defaults(app, NL, "DE-BKA", series_level="full", case_level=None)
    with pytest.raises(PermissionDenied):
        sharing_defaults.set_defaults(
            app, NL_ANALYST, "NL-NPU", series_level="full", case_level=None
        )
    with pytest.raises(PermissionDenied):
        sharing_defaults.show(app, DE)
    with pytest.raises(InvalidInput):
        sharing_defaults.set_defaults(
            app,
            ADMIN,
            "NL-NPU",
            series_level="secret",
            case_level=None,  # type: ignore[arg-type]
        )
    done = sharing_defaults.set_defaults(
        app, ADMIN, "NL-NPU", series_level=None, case_level="status"
    )
    assert (done.agency, done.case_level, done.case_chosen) == ("NL-NPU", "status", True)
    with app.transaction() as s:  # cases are made by ingest: the storage call it uses
        repo.get_or_create_case(s, repo.get_agency(s, "NL-NPU"), "NL-2026-7")
    seen = cases_uc.show(app, DE, "NL-2026-7", agency="NL-NPU")
    assert seen.number == "NL-2026-7"  # a case is 'none' by the node's rule: now 'status'

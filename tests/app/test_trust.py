"""Confirmations and disputes, negative lists, flood guard (issue 12), both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tessera.app import App, Role, coop, lookup, trust
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tests.app.test_coop import OP, q, user, world
from tests.seeding import ensure_agency, flip_bits


def _media(app: App, sha: str) -> int:
    (a,) = lookup.lookup(app, OP, [q(sha)]).results
    return a.matches[0].media_id


def test_dispute_shown_on_next_match_and_hidden_on_request(app: App) -> None:
    hashes = world(app)
    sha = hashes["open"][0]
    m = _media(app, sha)
    (before,) = lookup.lookup(app, user("DE-B"), [q(sha)]).results
    assert before.matches[0].verdicts is None
    trust.judge(app, user("NL-A"), m, "confirm")
    trust.judge(app, user("DE-B"), m, "confirm")
    v = trust.judge(app, user("FR-C"), m, "dispute", reason="adult", note="adult model, ID seen")
    assert v.counts.confirmed_agencies == 2 and v.counts.confirmed_countries == 2
    assert v.counts.disputed_agencies == 1 and v.counts.dispute_reasons == ("adult",)
    (after,) = lookup.lookup(app, user("DE-B"), [q(sha)]).results
    assert after.matches[0].verdicts == v.counts
    (hidden,) = lookup.lookup(app, user("DE-B"), [q(sha)], hide_disputed=True).results
    assert hidden.matches == ()
    # a verdict replaces the agency's earlier one
    trust.judge(app, user("FR-C"), m, "confirm")
    (again,) = lookup.lookup(app, user("DE-B"), [q(sha)], hide_disputed=True).results
    assert again.matches[0].verdicts is not None
    assert again.matches[0].verdicts.confirmed_countries == 3
    with pytest.raises(InvalidInput):
        trust.judge(app, user("FR-C"), m, "dispute", reason="boring")


def test_dispute_needs_sight_and_flags_baseline(app: App) -> None:
    hashes = world(app)
    secret = _media(app, hashes["secret"][0])
    with pytest.raises(NotFound):  # shared at none: it does not exist for DE-B
        trust.judge(app, user("DE-B"), secret, "dispute", reason="adult")
    with pytest.raises(PermissionDenied):
        trust.judge(app, user("DE-B", Role.VIEWER), _media(app, hashes["open"][0]), "confirm")
    with app.transaction() as s:
        s.execute(text("UPDATE series SET baseline = :t WHERE name = 'S-Open'"), {"t": True})
    trust.judge(app, user("DE-B"), _media(app, hashes["open"][0]), "dispute", reason="not-abuse")
    (n,) = coop.list_notifications(app, user("NL-A"))
    assert n.kind == "baseline-review" and n.payload["series"] == "S-Open"
    assert n.payload["disputed_by"] == "DE-B" and n.payload["reason"] == "not-abuse"


def test_negative_lists_suppress_unless_explained(app: App) -> None:
    hashes = world(app)
    sha = hashes["open"][0]
    e = trust.add_negative(app, OP, "sha256", sha, "stock photo", network=True)
    (a,) = lookup.lookup(app, user("DE-B"), [q(sha)]).results
    assert a.suppressed == "stock photo" and a.matches == ()
    assert coop.list_notifications(app, user("NL-A")) == []  # a suppressed hit tells nobody
    (x,) = lookup.lookup(app, user("DE-B"), [q(sha)], explain=True).results
    assert x.suppressed == "stock photo" and len(x.matches) == 1
    trust.remove_negative(app, OP, e.id)
    assert lookup.lookup(app, user("DE-B"), [q(sha)]).results[0].suppressed is None
    # an agency's list: PDQ within the radius, for that agency only
    pdq = lookup.lookup(app, OP, [q(sha)]).results[0]
    with app.transaction() as s:
        stored = s.execute(
            text("SELECT value FROM fingerprint WHERE media_id = :m AND algorithm = 'pdq'"),
            {"m": pdq.matches[0].media_id},
        ).scalar_one()
    logo = flip_bits(bytes(stored).hex(), [1, 2, 3])
    with pytest.raises(PermissionDenied):
        trust.add_negative(app, user("DE-B"), "pdq", logo, "our logo")
    trust.add_negative(app, user("DE-B", Role.CURATOR), "pdq", logo, "our logo")
    near = lookup.HashQuery(type="pdq", hash=flip_bits(bytes(stored).hex(), [7]))
    assert lookup.lookup(app, user("DE-B"), [near]).results[0].suppressed == "our logo"
    fr = lookup.lookup(app, user("FR-C"), [near]).results[0]
    assert fr.suppressed is None and len(fr.matches) == 1
    assert [n.reason for n in trust.list_negatives(app, user("FR-C"))] == []
    with pytest.raises(NotFound):  # FR-C cannot remove DE-B's entry
        trust.remove_negative(app, user("FR-C", Role.CURATOR), 2)


def flood_world(app: App) -> tuple[str, int, list[lookup.HashQuery]]:
    """The world with the flood rule at 5 distinct hashes from 3 agencies: (SHA-256 of
    an open item, its media id, 6 PDQ variants of it one bit apart)."""
    hashes = world(app)
    trust.set_flood_rule(app, OP, {"files": 5, "agencies": 3})  # the network's operator
    sha = hashes["open"][0]
    m = _media(app, sha)
    with app.transaction() as s:
        stored = bytes(
            s.execute(
                text("SELECT value FROM fingerprint WHERE media_id = :m AND algorithm = 'pdq'"),
                {"m": m},
            ).scalar_one()
        ).hex()
    return sha, m, [lookup.HashQuery(type="pdq", hash=flip_bits(stored, [b])) for b in range(6)]


def test_flooding_hash_quarantined_notified_released(app: App) -> None:
    sha, m, variants = flood_world(app)
    for i, agency in enumerate(("DE-B", "FR-C")):
        r = lookup.lookup(app, user(agency), variants[i * 2 : i * 2 + 2])
        assert not any(x.quarantined for a in r.results for x in a.matches)
    r = lookup.lookup(app, user("NL-A"), variants[4:6])  # 6 distinct hashes, 3 agencies
    assert all(x.quarantined for a in r.results for x in a.matches)
    assert lookup.lookup(app, user("DE-B"), [q(sha)]).results[0].matches[0].quarantined
    notes = [n for n in coop.list_notifications(app, user("NL-A")) if n.kind == "quarantine"]
    assert len(notes) == 1 and notes[0].payload["media_id"] == m
    assert [x.media_id for x in trust.list_quarantine(app, user("FR-C"))] == [m]
    with pytest.raises(NotFound):  # not the owner's curator
        trust.release(app, user("FR-C", Role.CURATOR), m)
    trust.release(app, user("NL-A", Role.CURATOR), m)
    assert not lookup.lookup(app, user("DE-B"), [q(sha)]).results[0].matches[0].quarantined
    assert trust.list_quarantine(app, OP) == []


def test_flood_thresholds_deployment_then_network(app: App) -> None:
    """Defaults from the issue; the deployment's (Settings.flood) next; the network's
    operator overrides single values, resets them, and nobody else may."""
    from dataclasses import replace
    from datetime import timedelta

    from tessera.app.settings import FloodRule

    world(app)
    r = trust.get_flood_rule(app, user("DE-B"))
    assert (r.files, r.agencies, r.window_hours, r.triage_share, r.triage_min) == (
        100,
        3,
        24.0,
        0.05,
        10,
    )
    assert r.overridden == ()
    app.settings = replace(app.settings, flood=FloodRule(files=50, window=timedelta(hours=6)))
    assert trust.flood_rule(app) == FloodRule(files=50, window=timedelta(hours=6))
    with pytest.raises(PermissionDenied):
        trust.set_flood_rule(app, user("NL-A", Role.ADMIN), {"files": 1})
    with pytest.raises(InvalidInput):
        trust.set_flood_rule(app, OP, {"triage_share": 1.5})
    with pytest.raises(InvalidInput):
        trust.set_flood_rule(app, OP, {"bogus": 1})
    r = trust.set_flood_rule(app, OP, {"agencies": 2, "triage_share": 0.2})
    assert (r.files, r.agencies, r.window_hours, r.triage_share) == (50, 2, 6.0, 0.2)
    assert r.overridden == ("agencies", "triage_share")
    r = trust.set_flood_rule(app, OP, {"agencies": None})
    assert r.agencies == 3 and r.overridden == ("triage_share",)
    assert trust.flood_rule(app).triage_share == 0.2


def test_baseline_needs_two_countries_and_a_dispute_flags_it_for_review(app: App) -> None:
    """Interpol's rule: a network curator makes a series Baseline only once agencies of
    2 countries confirmed its items; a later dispute flags it for the owner's review."""
    from tessera.app import series

    hashes = world(app)
    m = _media(app, hashes["open"][0])
    owner = user("NL-A", Role.CURATOR)
    with pytest.raises(InvalidInput, match="at least 2 countries; this series has 0"):
        series.edit(app, owner, "S-Open", baseline=True)
    with pytest.raises(InvalidInput):  # nor at creation
        series.create(app, owner, "S-New", "NL-A", baseline=True)
    trust.judge(app, user("NL-A"), m, "confirm")
    ensure_agency(app.db, "NL-X", "NL")
    trust.judge(app, user("NL-X"), m, "confirm")  # a second agency, the same country
    with pytest.raises(InvalidInput, match="this series has 1 \\(NL\\)"):
        series.edit(app, owner, "S-Open", baseline=True)
    trust.judge(app, user("DE-B"), m, "confirm")
    assert series.edit(app, owner, "S-Open", baseline=True).baseline
    assert trust.list_reviews(app, owner) == []
    # DE-B changes its mind: the Baseline item is disputed, flagged, the owner told
    trust.judge(app, user("DE-B"), m, "dispute", reason="adult", note="age verified")
    (r,) = trust.list_reviews(app, owner)
    assert r.series == "S-Open" and r.media_id == m and r.reason == "disputed: adult"
    (n,) = [x for x in coop.list_notifications(app, owner) if x.kind == "baseline-review"]
    assert n.payload["review"] == r.id and n.payload["disputed_by"] == "DE-B"
    assert trust.list_reviews(app, user("DE-B", Role.CURATOR)) == []  # not its series
    with pytest.raises(NotFound):
        trust.resolve_review(app, user("DE-B", Role.CURATOR), r.id)
    with pytest.raises(PermissionDenied):
        trust.resolve_review(app, user("NL-A", Role.ANALYST), r.id)
    done = trust.resolve_review(app, owner, r.id, drop_baseline=True)
    assert done.resolved_by is not None and trust.list_reviews(app, owner) == []
    assert len(trust.list_reviews(app, owner, open_only=False)) == 1
    assert not series.show(app, owner, "S-Open").baseline
    # the node's local operator may still set it (e.g. loading Interpol's list); audited
    assert series.create(app, OP, "S-Interpol", "NL-A", baseline=True).baseline

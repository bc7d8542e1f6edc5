"""Deconfliction, overlaps between new cases and notifications (issue 12), both backends.

Agencies: ``NL-A`` (NL) owns series, ``DE-B`` (DE) and ``FR-C`` (FR) find things.
What each side must be told is written out here from the rules in
``tessera.app.coop`` (never read back from the code under test).
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from tessera.app import App, Caller, Role, coop, lookup
from tessera.app.sharing import share_case, share_series
from tessera.errors import InvalidInput, NotFound
from tests.seeding import ensure_agency, random_pdq, seed

OP = Caller.local_operator()


def user(agency: str, role: Role = Role.ANALYST, uid: int | None = None) -> Caller:
    return Caller(role=role, user_id=uid, email=f"x@{agency.lower()}.example", agency_code=agency)


def world(app: App) -> dict[str, list[str]]:
    ensure_agency(app.db, "NL-A", "NL")
    ensure_agency(app.db, "DE-B", "DE")
    ensure_agency(app.db, "FR-C", "FR")
    rng = random.Random(5)
    secret = seed(
        app.db,
        [(b"secret-1", random_pdq(rng)), (b"secret-2", random_pdq(rng))],
        agency="NL-A",
        series="S-Secret",
        case="NL-1",
    )
    share_series(app, OP, "S-Secret", "none", network=True)
    open_ = seed(
        app.db, [(b"open-1", random_pdq(rng))], agency="NL-A", series="S-Open", case="NL-2"
    )
    return {"secret": [x.sha256 for x in secret], "open": [x.sha256 for x in open_]}


def q(sha: str) -> lookup.HashQuery:
    return lookup.HashQuery(type="sha256", hash=sha)


def test_blind_hit_tells_the_owner_only(app: App) -> None:
    hashes = world(app)
    b = user("DE-B")
    r = lookup.lookup(app, b, [q(h) for h in hashes["secret"]])
    assert r.matched == 0  # level none: B is told nothing at all
    assert coop.list_notifications(app, b) == []
    assert coop.list_overlaps(app, b) == []
    a = user("NL-A")
    notes = coop.list_notifications(app, a)
    assert len(notes) == 1
    n = notes[0]
    assert n.kind == "series-hit" and not n.read
    assert n.payload["finder_agency"] == "DE-B" and n.payload["finder_country"] == "DE"
    assert n.payload["files"] == 2 and n.payload["series"] == "S-Secret"
    assert n.payload["finder_case"] is None  # a lookup has no case
    assert "DE-B (DE)" in n.title
    (ov,) = coop.list_overlaps(app, a)
    assert ov.side == "owner" and ov.series == "S-Secret" and ov.other_agency == "DE-B"
    # FR-C is no side of it: nothing exists for them
    assert coop.list_notifications(app, user("FR-C")) == []
    assert coop.list_overlaps(app, user("FR-C")) == []
    with pytest.raises(NotFound):
        coop.mark_overlap(app, user("FR-C"), ov.id, "related")
    with pytest.raises(NotFound):  # B may not mark what it does not know of
        coop.mark_overlap(app, b, ov.id, "related")
    marked = coop.mark_overlap(app, a, ov.id, "same-investigation", "our op X")
    assert marked.my_mark == "same-investigation" and marked.my_note == "our op X"
    with pytest.raises(InvalidInput):
        coop.mark_overlap(app, a, ov.id, "maybe")


def test_hash_level_finder_sees_contact_and_both_mark(app: App) -> None:
    hashes = world(app)
    share_series(app, OP, "S-Secret", "hash", agencies=["DE-B"])
    b = user("DE-B")
    r = lookup.lookup(app, b, [q(hashes["secret"][0])])
    assert r.matched == 1 and r.series == ()  # hash: "known", no series name
    assert r.results[0].matches[0].contacts == ("nl-a@example.org",)
    (ob,) = coop.list_overlaps(app, b)
    assert ob.side == "finder" and ob.series is None and ob.other_agency is None
    assert ob.other_contact == "nl-a@example.org"
    coop.mark_overlap(app, b, ob.id, "related", "same victim?")
    (oa,) = coop.list_overlaps(app, user("NL-A"))
    assert oa.other_mark == "related" and oa.other_note == "same victim?"
    assert oa.my_mark is None


def test_own_series_and_operator_lookups_raise_nothing(app: App) -> None:
    hashes = world(app)
    lookup.lookup(app, user("NL-A"), [q(h) for h in hashes["secret"]])
    lookup.lookup(app, OP, [q(h) for h in hashes["secret"]])
    assert coop.list_notifications(app, OP) == []


def _last_run(app: App) -> int:
    with app.transaction() as s:
        return int(s.execute(text("SELECT max(id) FROM ingest_run")).scalar_one())


def test_overlap_between_new_cases_told_on_both_sides(app: App) -> None:
    world(app)
    rng = random.Random(9)
    shared = [(f"new-{i}".encode(), random_pdq(rng)) for i in range(3)]
    seed(app.db, shared, agency="FR-C", series=None, case="FR-77")
    fr_run = _last_run(app)
    assert coop.notice_run(app, OP, fr_run, "FR-C") == []  # nobody else has them yet
    # DE-B's case shares two exactly and one as a near copy (PDQ 4 bits off)
    near = f"{int(shared[2][1] or '', 16) ^ 0b1111:064x}"
    seed(
        app.db,
        [*shared[:2], (b"edited-copy", near), (b"other", random_pdq(rng))],
        agency="DE-B",
        series=None,
        case="DE-9",
    )
    share_case(app, OP, "DE-9", "status", agency="DE-B", agencies=["FR-C"])
    ids = coop.notice_run(app, OP, _last_run(app), "DE-B")
    assert len(ids) == 2
    (nb,) = coop.list_notifications(app, user("DE-B"))
    (nc,) = coop.list_notifications(app, user("FR-C"))
    assert nb.payload["files"] == nc.payload["files"] == 3
    # FR-C's case is not shared with DE-B (default none): DE-B learns only the fact
    assert nb.payload["your_case"] == "DE-9"
    assert nb.payload["other"] == {"agency": None, "country": None, "case": None, "contact": None}
    # DE-B shared its case with FR-C at status: FR-C is told who and which case
    assert nc.payload["your_case"] == "FR-77"
    assert nc.payload["other"]["agency"] == "DE-B" and nc.payload["other"]["case"] == "DE-9"
    assert "DE-9" in nc.text and "FR-77" not in nb.text.replace("DE-9", "")


def test_notifications_read_unread_per_reader(app: App) -> None:
    hashes = world(app)
    lookup.lookup(app, user("DE-B"), [q(hashes["secret"][0])])
    lookup.lookup(app, user("FR-C"), [q(hashes["open"][0])])
    a1, a2 = (
        user("NL-A", uid=None),
        Caller(role=Role.ANALYST, email="y@nl-a.example", agency_code="NL-A"),
    )
    notes = coop.list_notifications(app, a1)
    assert len(notes) == 2
    assert coop.mark_read(app, a1, [notes[0].id]).marked == 1
    assert coop.mark_read(app, a1, [notes[0].id]).marked == 0
    assert [n.id for n in coop.list_notifications(app, a1, unread=True)] == [notes[1].id]
    assert len(coop.list_notifications(app, a2, unread=True)) == 2  # per reader
    with pytest.raises(NotFound):  # another agency's notification does not exist for B
        coop.mark_read(app, user("DE-B"), [notes[0].id])
    assert coop.mark_read(app, a1).marked == 1
    assert coop.list_notifications(app, a1, unread=True) == []
    assert len(coop.list_notifications(app, OP, agency="NL-A")) == 2


def test_rerun_of_the_same_hit_updates_one_notice(app: App) -> None:
    """The same triage or lookup re-run (same hit, same agency, same case, within the
    window): one notice whose count goes up, one overlap; after the window a new one."""
    from dataclasses import replace
    from datetime import timedelta

    hashes = world(app)
    b = user("DE-B")
    for _ in range(3):
        lookup.lookup(app, b, [q(h) for h in hashes["secret"]])
    (n,) = coop.list_notifications(app, user("NL-A"))
    assert n.count == 3 and n.updated_at is not None and n.payload["files"] == 2
    assert len(coop.list_overlaps(app, user("NL-A"))) == 1
    lookup.lookup(app, user("FR-C"), [q(hashes["secret"][0])])  # another agency: its own
    assert [x.count for x in coop.list_notifications(app, user("NL-A"))] == [1, 3]
    app.settings = replace(app.settings, notice_window=timedelta(0))
    lookup.lookup(app, b, [q(hashes["secret"][0])])
    assert [x.count for x in coop.list_notifications(app, user("NL-A"))] == [1, 1, 3]
    # overlaps between new cases: both sides deduplicated too
    app.settings = replace(app.settings, notice_window=timedelta(hours=24))
    rng = random.Random(4)
    new = [(f"n-{i}".encode(), random_pdq(rng)) for i in range(2)]
    seed(app.db, new, agency="FR-C", series=None, case="FR-1")
    seed(app.db, new, agency="DE-B", series=None, case="DE-1")
    run = _last_run(app)
    assert len(coop.notice_run(app, OP, run, "DE-B")) == 2
    assert coop.notice_run(app, OP, run, "DE-B") == []  # nothing new raised
    (nb,) = [x for x in coop.list_notifications(app, b) if x.kind == "case-overlap"]
    (nc,) = [x for x in coop.list_notifications(app, user("FR-C")) if x.kind == "case-overlap"]
    assert nb.count == nc.count == 2 and nb.payload["overlap"] == nc.payload["overlap"]


def test_notices_for_the_users_concerned_read_per_user(app: App) -> None:
    """Case overlaps go to the user whose work found them; quarantines and Baseline
    reviews to each curator of the owning agency; each reads them on their own."""
    from tessera.app import accounts, trust

    hashes = world(app)
    ids = {}
    for email, agency, role in (
        ("cur1@nl-a.example", "NL-A", "curator"),
        ("cur2@nl-a.example", "NL-A", "admin"),
        ("view@nl-a.example", "NL-A", "viewer"),
        ("ana1@de-b.example", "DE-B", "analyst"),
        ("ana2@de-b.example", "DE-B", "analyst"),
    ):
        accounts.create_user(app, OP, email, agency=agency, role=role, password=None)
        with app.transaction() as s:
            ids[email] = int(
                s.execute(
                    text("SELECT id FROM app_user WHERE email = :e"), {"e": email}
                ).scalar_one()
            )

    def acct(email: str, agency: str, role: Role) -> Caller:
        return Caller(role=role, user_id=ids[email], email=email, agency_code=agency)

    cur1 = acct("cur1@nl-a.example", "NL-A", Role.CURATOR)
    cur2 = acct("cur2@nl-a.example", "NL-A", Role.ADMIN)
    viewer = acct("view@nl-a.example", "NL-A", Role.VIEWER)
    ana1 = acct("ana1@de-b.example", "DE-B", Role.ANALYST)
    ana2 = acct("ana2@de-b.example", "DE-B", Role.ANALYST)
    # a quarantine (the triage share rule) on an item of NL-A's series
    media = lookup.lookup(app, OP, [q(hashes["open"][0])]).results[0].matches[0].media_id
    assert trust.guard_triage(app, ana1, {media: 20}, 40) == {media}
    for c in (cur1, cur2):
        (n,) = [x for x in coop.list_notifications(app, c) if x.kind == "quarantine"]
        assert n.user and not n.read
    assert [x.kind for x in coop.list_notifications(app, viewer)] == []
    (mine,) = coop.list_notifications(app, cur1, unread=True)
    assert coop.mark_read(app, cur1, [mine.id]).marked == 1
    assert coop.list_notifications(app, cur1, unread=True) == []
    assert len(coop.list_notifications(app, cur2, unread=True)) == 1  # cur2's own, unread
    with pytest.raises(NotFound):  # cur2's notice does not exist for cur1
        coop.mark_read(app, cur1, [coop.list_notifications(app, cur2)[0].id])
    # a new-case overlap found by ana1's work: ana1 told personally, FR-C's agency too
    rng = random.Random(6)
    new = [(b"u-1", random_pdq(rng))]
    seed(app.db, new, agency="FR-C", series=None, case="FR-5")
    seed(app.db, new, agency="DE-B", series=None, case="DE-5")
    coop.notice_run(app, ana1, _last_run(app), "DE-B")
    (n1,) = [x for x in coop.list_notifications(app, ana1) if x.kind == "case-overlap"]
    assert n1.user and n1.payload["your_case"] == "DE-5"
    assert [x for x in coop.list_notifications(app, ana2) if x.kind == "case-overlap"] == []
    (nf,) = [x for x in coop.list_notifications(app, user("FR-C")) if x.kind == "case-overlap"]
    assert not nf.user and nf.payload["your_case"] == "FR-5"

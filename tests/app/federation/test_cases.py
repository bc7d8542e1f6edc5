"""Overlaps between new cases at different nodes, through the hub (issue 15 item 6,
issue 12's case overlaps): both owners are told, once, and each learns of the
other case only what that case's sharing level gives its agency."""

from __future__ import annotations

import hashlib
import json

import pytest

from tessera.app import Caller, Role, coop
from tessera.app.federation import cases as fc
from tessera.app.federation import hub as fed_hub
from tessera.app.federation import peers, share
from tessera.app.sharing import share_case, share_series
from tessera.storage.models import FedNotice, FedRecord
from tests.app.federation.test_federation import OP, World, _sync, world
from tests.seeding import seed

__all__ = ["world"]


def _files(tag: str, n: int) -> list[tuple[bytes, str | None]]:
    return [(f"{tag}-{i}".encode(), None) for i in range(n)]


def _told(app: object, agency: str) -> list[dict[str, object]]:
    who = Caller(role=Role.ANALYST, user_id=50, email=f"u@{agency}.example", agency_code=agency)
    return sorted(
        (n.payload for n in coop.list_notifications(app, who) if n.kind == "case-overlap"),  # type: ignore[arg-type]
        key=lambda p: str(p["your_case"]),
    )


def test_a_case_overlap_across_nodes_reaches_both_owners_by_their_levels(
    world: World,
) -> None:
    both = _files("both", 3)
    seed(world.a.db, [*both, *_files("only-a", 2)], agency="NL-A", series=None, case="NL-1")
    seed(world.b.db, [*both, *_files("only-b", 1)], agency="DE-B", series=None, case="DE-7")
    # a second pair: B's case shared with the Netherlands at status, A's with Germany at hash
    pair = _files("pair", 2)
    seed(world.a.db, pair, agency="NL-A", series=None, case="NL-2")
    seed(world.b.db, pair, agency="DE-B", series=None, case="DE-8")
    share_case(world.b, OP, "DE-8", "status", agency="DE-B", countries=["NL"])
    share_case(world.a, OP, "NL-2", "hash", agency="NL-A", countries=["DE"])
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)  # B's cases meet A's at the hub: B is told in this pull
    _sync(world.a, world.hub)  # and A at its next one

    b_told, a_told = _told(world.b, "DE-B"), _told(world.a, "NL-A")
    assert [(p["your_case"], p["files"]) for p in a_told] == [("NL-1", 3), ("NL-2", 2)]
    assert [(p["your_case"], p["files"]) for p in b_told] == [("DE-7", 3), ("DE-8", 2)]
    nothing = {"agency": None, "country": None, "case": None, "contact": None, "node": None}
    # NL-1 / DE-7 are shared with nobody: the fact, nothing of the other side
    assert a_told[0]["other"] == nothing and b_told[0]["other"] == nothing
    # DE-8 is status for the Netherlands: A learns agency, country, case and node
    assert a_told[1]["other"] == {
        "agency": "DE-B",
        "country": "DE",
        "case": "DE-8",
        "contact": "vid@b.example",
        "node": "b.test",
    }
    # NL-2 is hash for Germany: B learns A's contact only
    assert b_told[1]["other"] == {**nothing, "contact": "vid@a.example"}
    a_views = sorted(coop.list_overlaps(world.a, OP), key=lambda v: v.my_case or "")
    assert [(v.kind, v.my_case, v.files) for v in a_views] == [
        ("case", "NL-1", 3),
        ("case", "NL-2", 2),
    ]

    # exactly once: more syncs raise nothing new
    for node in (world.a, world.b, world.a, world.b):
        _sync(node, world.hub)
    assert len(_told(world.a, "NL-A")) == 2 and len(_told(world.b, "DE-B")) == 2
    # a case record travels again only when it changes: nothing new, nothing prepared
    assert share.prepare(world.a, OP).new_records == 0
    seed(world.a.db, _files("later", 1), agency="NL-A", series=None, case="NL-1")
    again = share.prepare(world.a, OP)
    assert again.new_records == 1  # NL-1 alone (a new file), not NL-2

    # the hub holds tokens, never the files' digests, and no case number below status
    with world.hub.transaction() as s:
        held = [r.payload for r in s.query(FedRecord).filter(FedRecord.kind == 3)]
        notes = [n.body for n in s.query(FedNotice)]
    text = json.dumps([held, notes])
    for content, _ in [*both, *pair]:
        for h in (hashlib.sha256(content), hashlib.sha1(content), hashlib.md5(content)):
            assert h.hexdigest() not in text
    assert "NL-1" not in text and "DE-7" not in text and "DE-8" in text
    # and no node's feed carries another node's case records
    me = peers.signer_of(world.b).name
    cp = fed_hub.hub_checkpoint(world.hub, me, 0)
    page = fed_hub.feed_page(world.hub, me, 0, cp.size)
    assert b'"part":"cases"' not in page and b"NL-2" not in page


def test_only_the_hub_raises_case_overlaps(world: World) -> None:
    """A node cannot pass off a case-overlap notice of its own through the hub."""
    from tessera.exchange import delta as dl
    from tessera.exchange.delta import DeltaError

    signer = peers.signer_of(world.a)
    body = {
        "id": "x1",
        "kind": "case-overlap",
        "from": signer.name,
        "to": "b.test",
        "case": "c1",
        "files": 1,
        "at": "2026-12-05T00:00:00+00:00",
        "other": {},
    }
    note = dl.sign_notice(body, signer)
    forged = dl.write("federation-delta", signer, [], [], header={"delta_no": 1}, notices=[note])
    with pytest.raises(DeltaError, match="only a hub raises case overlaps"):
        fed_hub.accept_delta(world.hub, forged)


def _case_key(app: object, number: str) -> str:
    from tessera.storage.models import Case

    with app.transaction() as s:  # type: ignore[attr-defined]
        return f"c{s.query(Case).filter(Case.number == number).one().id}"


def _sync_cases(node: object, hub: object) -> list[tuple[str, int, bool]]:
    """One sync of ``node``; the case records its new deltas carried (key, version,
    deleted), read back from the signed deltas themselves."""
    from tessera.exchange import delta as dl

    me = peers.signer_of(node)  # type: ignore[arg-type]
    before = {no for no, _ in share.outbox(node)}  # type: ignore[arg-type]
    assert not before
    share.prepare(node, OP)  # type: ignore[arg-type]
    sent = [
        (r.origin_id, r.version, r.deleted)
        for _, body in share.outbox(node)  # type: ignore[arg-type]
        for r in dl.read(body, lambda _: me.verifier).cases
    ]
    _sync(node, hub)  # type: ignore[arg-type]
    return sorted(sent)


def _hub_cases(hub: object, origin: str) -> dict[str, tuple[int, bool]]:
    with hub.transaction() as s:  # type: ignore[attr-defined]
        return {
            str(r.origin_id): (int(r.version), bool(r.deleted))
            for r in s.query(FedRecord).filter(FedRecord.kind == 3, FedRecord.origin == origin)
        }


def test_a_case_record_travels_again_only_when_it_changes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync sends a case record only when the case changed since the last send (a
    file, a grant, gone): exactly that case, at the next version; the others are not
    recomputed (their fingerprint matches ``fed_sent``) and overlaps still reach both
    nodes."""
    seed(world.a.db, _files("one", 3), agency="NL-A", series=None, case="NL-1")
    seed(world.a.db, _files("two", 2), agency="NL-A", series=None, case="NL-2")
    one, two = _case_key(world.a, "NL-1"), _case_key(world.a, "NL-2")
    assert _sync_cases(world.a, world.hub) == [(one, 1, False), (two, 1, False)]
    tokens: list[bytes] = []
    real = fc.token
    monkeypatch.setattr(fc, "token", lambda d: tokens.append(d) or real(d))
    # nothing changed: no case record, no delta, no token computed
    assert _sync_cases(world.a, world.hub) == []
    assert share.prepare(world.a, OP).new_deltas == 0
    assert tokens == []
    # a new file in NL-1: NL-1 alone, version 2 (the tokens of its 4 files only)
    seed(world.a.db, _files("one-more", 1), agency="NL-A", series=None, case="NL-1")
    assert _sync_cases(world.a, world.hub) == [(one, 2, False)]
    assert len(tokens) == 4
    # a grant on NL-2 (its payload changes, its files do not): NL-2 alone, version 2
    share_case(world.a, OP, "NL-2", "status", agency="NL-A", countries=["DE"])
    assert _sync_cases(world.a, world.hub) == [(two, 2, False)]
    assert _sync_cases(world.a, world.hub) == []
    # NL-2's files classified into a series: its record is deleted, at version 3
    seed(world.a.db, _files("two", 2), agency="NL-A", series="Amber", case="NL-2")
    share_series(world.a, OP, "Amber", "none", network=True)  # Amber stays on A
    assert _sync_cases(world.a, world.hub) == [(two, 3, True)]
    assert _hub_cases(world.hub, "a.test") == {one: (2, False), two: (3, True)}
    assert _sync_cases(world.a, world.hub) == []

    # B's case shares NL-1's new file and one old one: both told, though A sent nothing
    seed(
        world.b.db,
        [*_files("one", 1), *_files("one-more", 1)],
        agency="DE-B",
        series=None,
        case="DE-9",
    )
    _sync(world.b, world.hub)
    assert _sync_cases(world.a, world.hub) == []
    a_told, b_told = _told(world.a, "NL-A"), _told(world.b, "DE-B")
    assert [(p["your_case"], p["files"]) for p in a_told] == [("NL-1", 2)]
    assert [(p["your_case"], p["files"]) for p in b_told] == [("DE-9", 2)]
    # the deleted NL-2 meets no one: B's case with its files raises nothing
    seed(world.b.db, _files("two", 2), agency="DE-B", series=None, case="DE-10")
    _sync(world.b, world.hub)
    assert _hub_cases(world.hub, "b.test")[_case_key(world.b, "DE-10")] == (1, False)
    _sync(world.a, world.hub)
    assert len(_told(world.a, "NL-A")) == 1 and len(_told(world.b, "DE-B")) == 1

"""The sharing rules: which grant wins, defaults, redaction, and ``series share``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tessera.app import App, Caller, Role, agencies, exchange, lookup, series, sharing, stats
from tessera.app import media as media_uc
from tessera.app.results import Result
from tessera.app.visibility import Level, redact, resolve, shared_at
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tessera.storage import repo
from tessera.storage.models import Media as MediaModel
from tessera.storage.models import Sighting as SightingModel


def test_most_specific_grant_wins_whatever_its_level() -> None:
    g = {"network": "full", "country": "hash", "agency": "none"}
    assert resolve(False, g, Level.STATUS) is Level.NONE
    assert resolve(False, {"network": "full", "country": "hash"}, Level.STATUS) is Level.HASH
    assert resolve(False, {"network": "none", "agency": "full"}, Level.STATUS) is Level.FULL
    assert resolve(False, {"network": "hash"}, Level.STATUS) is Level.HASH
    assert resolve(False, {}, Level.STATUS) is Level.STATUS
    assert resolve(False, {}, Level.HASH) is Level.HASH
    assert resolve(True, {"network": "none", "agency": "none"}, Level.NONE) is Level.FULL


def test_unknown_level_text_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Level.parse("everything")


class _Probe(Result):
    a: str
    b: str | None = shared_at(Level.STATUS)
    c: tuple[int, ...] = shared_at(Level.FULL, ())


def test_redact_replaces_fields_above_the_level_by_their_defaults() -> None:
    r = _Probe(a="x", b="y", c=(1, 2))
    assert redact(r, Level.FULL) == r
    assert redact(r, Level.STATUS) == _Probe(a="x", b="y", c=())
    assert redact(r, Level.HASH) == _Probe(a="x", b=None, c=())
    assert _Probe.model_json_schema()["properties"]["c"]["shared_at"] == "full"


def _user(agency: str | None, role: Role = Role.ANALYST) -> Caller:
    return Caller(role=role, user_id=7, email="u@example.org", agency_code=agency)


@pytest.fixture
def world(app: App) -> App:
    op = Caller.local_operator()
    agencies.create(app, op, "NL-A", country="NL", name="A", contact="a@example.org")
    agencies.create(app, op, "NL-B", country="NL", name="B")
    agencies.create(app, op, "DE-C", country="DE", name="C")
    series.create(app, op, "Amber", "NL-A")
    return app


def _names(app: App, caller: Caller) -> list[str]:
    return [x.name for x in series.list_series(app, caller)]


def test_new_series_are_status_to_the_network_and_full_to_the_owner(world: App) -> None:
    for code in ("NL-B", "DE-C"):
        d = series.show(world, _user(code), "Amber")
        assert d.level == "status" and d.sharing is None
    own = series.show(world, _user("NL-A"), "Amber")
    assert own.level == "full" and own.sharing == ()
    assert _names(world, _user("DE-C")) == ["Amber"]


def test_share_levels_and_specificity_through_the_use_case(world: App) -> None:
    curator = _user("NL-A", Role.CURATOR)
    sharing.share_series(world, curator, "Amber", "none", network=True)
    sharing.share_series(world, curator, "Amber", "full", countries=["nl"])
    sharing.share_series(world, curator, "Amber", "hash", agencies=["NL-B"])
    r = sharing.share_series(world, curator, "Amber", "full", countries=["de"])
    assert [(g.scope, g.grantee, g.level) for g in r.grants] == [
        ("network", "*", "none"),
        ("country", "DE", "full"),
        ("country", "NL", "full"),
        ("agency", "NL-B", "hash"),
    ]
    # NL-B: agency grant (hash) beats its country's full grant -> not listable/showable
    with pytest.raises(NotFound):
        series.show(world, _user("NL-B"), "Amber")
    assert _names(world, _user("NL-B")) == []
    assert series.show(world, _user("DE-C"), "Amber").level == "full"
    sharing.share_series(world, curator, "Amber", "status", countries=["DE"])
    assert series.show(world, _user("DE-C"), "Amber").level == "status"
    # a caller with an unknown or no agency sees nothing
    assert _names(world, _user("XX-NONE")) == [] and _names(world, _user(None)) == []
    assert stats.stats(world, _user(None)).series == 0


def test_who_may_share(world: App) -> None:
    for role in (Role.VIEWER, Role.ANALYST):
        with pytest.raises(PermissionDenied):
            sharing.share_series(world, _user("NL-A", role), "Amber", "full")
    with pytest.raises(PermissionDenied):  # sees it (status) but does not own it
        sharing.share_series(world, _user("DE-C", Role.ADMIN), "Amber", "full")
    sharing.share_series(world, _user("NL-A", Role.CURATOR), "Amber", "none", network=True)
    with pytest.raises(NotFound):  # cannot see it: existence is not confirmed
        sharing.share_series(world, _user("DE-C", Role.ADMIN), "Amber", "full")
    with pytest.raises(InvalidInput):
        sharing.share_series(world, Caller.local_operator(), "Amber", "full", agencies=["NL-A"])
    with pytest.raises(InvalidInput):
        sharing.share_series(
            world, Caller.local_operator(), "Amber", "full", network=True, countries=["DE"]
        )
    with pytest.raises(NotFound):
        sharing.share_series(world, Caller.local_operator(), "Amber", "full", agencies=["XX"])
    r = sharing.share_series(world, Caller.local_operator(), "Amber", "hash")
    assert r.changed == ("*",) and r.grants[0].level == "hash"
    assert r.grants[0].granted_by == "local operator"


def test_cases_are_private_until_shared(world: App) -> None:
    op = Caller.local_operator()
    sha = hashlib.sha256(b"loose").digest()
    with world.transaction() as s:  # a media item seen in NL-A's case, in no series
        agency = repo.get_agency(s, "NL-A")
        case = repo.get_or_create_case(s, agency, "C-1")
        media = MediaModel(sha256=sha, md5=sha[:16], sha1=sha[:20], kind="image", byte_size=1)
        s.add(media)
        s.flush()
        s.add(
            SightingModel(
                media_id=media.id,
                case_id=case.id,
                agency_id=agency.id,
                original_path="/x/secret-path.jpg",
            )
        )
    q = [lookup.HashQuery(type="sha256", hash=sha.hex())]
    b = _user("NL-B")
    assert lookup.lookup(world, b, q).results[0].matches == ()
    assert stats.stats(world, b).media == 0
    with pytest.raises(NotFound):  # another agency's unshared case: it does not exist
        sharing.share_case(world, _user("NL-B", Role.CURATOR), "C-1", "full", agency="NL-A")
    with pytest.raises(PermissionDenied):
        sharing.share_case(world, _user("NL-A", Role.ANALYST), "C-1", "full")
    r = sharing.share_case(world, _user("NL-A", Role.CURATOR), "C-1", "hash")
    assert r.agency == "NL-A" and [(g.scope, g.level) for g in r.grants] == [("network", "hash")]
    found = lookup.lookup(world, b, q)
    (m,) = found.results[0].matches
    assert m.series == () and m.contacts == ("a@example.org",)  # known + contact only
    assert "secret-path" not in json.dumps(found.to_json())
    st = stats.stats(world, b)
    assert st.media == 1 and st.sightings == 0  # sightings count from status up
    sharing.share_case(world, op, "C-1", "status", agency="NL-A", countries=["NL"])
    assert stats.stats(world, b).sightings == 1
    assert stats.stats(world, _user("DE-C")).sightings == 0


def test_a_media_item_in_two_series_names_only_the_one_shared(world: App) -> None:
    op = Caller.local_operator()
    series.create(world, op, "Hidden", "NL-A")
    sharing.share_series(world, op, "Hidden", "none")
    sha = hashlib.sha256(b"twice").digest()
    with world.transaction() as s:
        media = MediaModel(sha256=sha, md5=sha[:16], sha1=sha[:20], kind="image", byte_size=1)
        s.add(media)
        s.flush()
        for name in ("Amber", "Hidden"):
            repo.link(s, "series", repo.get_series(s, name).id, "media", media.id)
    b = _user("NL-B")
    shown = media_uc.show(world, b, sha.hex())
    assert shown.level == "status" and shown.media.series == ("Amber",)
    page = media_uc.list_media(world, b, series="Amber")
    assert [m.series for m in page.items] == [("Amber",)]
    found = lookup.lookup(world, b, [lookup.HashQuery(type="sha256", hash=sha.hex())])
    assert [x.name for x in found.series] == ["Amber"]
    assert "Hidden" not in json.dumps([shown.to_json(), page.to_json(), found.to_json()])
    assert media_uc.show(world, op, sha.hex()).media.series == ("Amber", "Hidden")
    with pytest.raises(NotFound):
        media_uc.list_media(world, b, series="Hidden")


def test_an_importing_agency_sees_its_imported_hashes(world: App, tmp_path: Path) -> None:
    sha = hashlib.sha256(b"imported").hexdigest()
    hashes = tmp_path / "list.txt"
    hashes.write_text(f"sha256 {sha}\n")
    exchange.import_file(world, Caller.local_operator(), "hashlist", hashes, agency_code="NL-B")
    q = [lookup.HashQuery(type="sha256", hash=sha)]
    assert len(lookup.lookup(world, _user("NL-B"), q).results[0].matches) == 1
    assert lookup.lookup(world, _user("DE-C"), q).results[0].matches == ()

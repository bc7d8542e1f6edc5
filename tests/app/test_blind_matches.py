"""Content seen through a blind link matches by the agency's own record only.

NL-A holds an item unshared (``tests.app.sharing_world``: its MD5 and SHA-1 are the
SHA-256's first 16/20 bytes, from NL-A's file); NL-B imports a record of it by
SHA-256 alone. Every way NL-B can ask (lookup by digest or PDQ, an import of an
MD5-only record, triage of a copy) must answer as if NL-A held nothing, which a
digest nobody holds shows side by side; NL-A, which holds the file, still matches by
its own fingerprints. Before ``tessera.app.blind_matches`` each of these matched
through NL-A's digests or PDQ, telling NL-B what NL-A's file is. SQLite and
PostgreSQL as the network service's RLS role.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import text

from tessera.app import App, Caller
from tessera.app import exchange as ex
from tessera.app import lookup as lk
from tessera.app import triage as triage_uc
from tessera.app.settings import Settings
from tessera.storage.db import Database
from tests.app.sharing_world import digest
from tests.app.test_hidden_content import NL_A, NL_B, _h, _ingest, world

__all__ = ["world"]  # the fixture, imported for this module's tests

A_PDQ = "a5" * 32  # NL-A's PDQ of its file


def _flip(hex_hash: str, bits: range) -> str:
    v = int(hex_hash, 16)
    for b in bits:
        v ^= 1 << b
    return f"{v:064x}"


B_PDQ = _flip(A_PDQ, range(3))  # NL-B's own PDQ of the same content: 3 bits away


def _blind(app: App, tmp_path: Path, pdq: str | None = None) -> bytes:
    """NL-B imports a record of NL-A's unshared item: its SHA-256 (and a PDQ)."""
    held = digest("unshared")
    path = tmp_path / "b.txt"
    path.write_text(f"sha256 {held.hex()}\n" + (f"pdq {pdq}\n" if pdq else ""))
    if pdq:  # one record with both: VICS
        path = tmp_path / "b.json"
        path.write_text(
            '{"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml'
            '/US/$metadata#Media", "value": [{"MediaID": 1, "AlternativeHashes": ['
            f'{{"HashName": "SHA256", "HashValue": "{held.hex()}"}}, '
            f'{{"HashName": "PDQ", "HashValue": "{pdq}"}}], "Series": "NLB Blind"}}]}}'
        )
        ex.import_file(app, NL_B, "vics", path, agency_code="NL-B")
    else:
        ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B", series="NLB Blind")
    return held


def _matches(app: App, caller: Caller, kind: str, value: str) -> list[tuple[int, int]]:
    r = lk.lookup(app, caller, [lk.HashQuery(type=kind, hash=value)])  # type: ignore[arg-type]
    return [(m.media_id, m.distance) for m in r.results[0].matches]


def _media_id(db: Database, sha: bytes) -> int:
    with db.session() as s:
        q = text("SELECT id FROM media WHERE sha256 = :d")
        return int(s.execute(q, {"d": sha}).scalar_one())


def test_lookup_by_a_digest_only_their_file_gave(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    app, owner = world
    held = _blind(app, tmp_path)
    mid = _media_id(owner, held)
    fresh = _h("nobody-holds-this")
    for kind, theirs, control in (("md5", held[:16], fresh[:16]), ("sha1", held[:20], fresh[:20])):
        assert _matches(app, NL_B, kind, control.hex()) == []
        assert _matches(app, NL_B, kind, theirs.hex()) == [], kind  # as for the control
        assert _matches(app, NL_A, kind, theirs.hex()) == [(mid, 0)], kind
    assert _matches(app, NL_B, "sha256", held.hex()) == [(mid, 0)]  # its own digest
    r = lk.lookup(app, NL_B, [lk.HashQuery(type="md5", hash=held[:16].hex())])
    assert (r.matched, r.series) == (0, ())  # not even its own series is named


def _plant(owner: Database, mid: int, algorithm: str, version: int, value: bytes) -> None:
    """A fingerprint of NL-A's file on its item (as its ingest would store it)."""
    from tessera.storage.models import FingerprintModel

    with owner.session() as s:
        s.add(
            FingerprintModel(
                media_id=mid,
                algorithm=algorithm,
                version=version,
                position=0,
                value=value,
                quality=100,
            )
        )


def test_pdq_lookup_measures_from_the_own_records_pdq(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """The index finds NL-A's PDQ; NL-B is answered from its own PDQ, 3 bits away:
    a query 30 bits from NL-A's (33 from NL-B's, past PDQ's 31) matches nothing."""
    app, owner = world
    held = digest("unshared")
    mid = _media_id(owner, held)
    _plant(owner, mid, "pdq", 1, bytes.fromhex(A_PDQ))
    _blind(app, tmp_path, pdq=B_PDQ)
    near_theirs = _flip(A_PDQ, range(200, 230))  # 30 bits from A, 33 from B
    assert _matches(app, NL_A, "pdq", near_theirs) == [(mid, 30)]
    assert _matches(app, NL_B, "pdq", near_theirs) == []
    assert _matches(app, NL_B, "pdq", A_PDQ) == [(mid, 3)]  # hand-derived: B's 3 flips
    assert _matches(app, NL_B, "pdq", B_PDQ) == [(mid, 0)]


def _summary(r: ex.ImportSummary) -> tuple[int, int]:
    return (r.new_media, r.matched_media)


def test_md5_only_record_of_their_md5_is_new_content(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """An MD5-only record equal to the MD5 NL-A's file gave: new content to NL-B, as
    a control MD5 nobody holds; re-importing it matches NL-B's own new item."""
    app, owner = world
    held = _blind(app, tmp_path)
    got = {}
    for name, md5 in (("theirs", held[:16]), ("control", _h("md5-control")[:16])):
        path = tmp_path / f"{name}.txt"
        path.write_text(f"md5 {md5.hex()}\n")
        first = ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B")
        again = ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B")
        got[name] = (_summary(first), _summary(again))
    assert got["control"] == ((1, 0), (0, 1))  # hand-derived: new, then matched
    assert got["theirs"] == got["control"]
    with owner.session() as s:
        rows = s.execute(
            text("SELECT id, sha256 FROM media WHERE md5 = :d ORDER BY id"), {"d": held[:16]}
        ).all()
    assert len(rows) == 2 and rows[0][1] == held and rows[1][1] is None  # its own item


def _noise_pictures(folder: Path) -> list[Path]:
    """Two blocky random pictures (high PDQ quality) and a JPEG copy of the second."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(11)
    out = []
    for i in range(2):
        small = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        p = folder / f"p{i}.png"
        Image.fromarray(small).resize((240, 240), Image.NEAREST).save(p)
        out.append(p)
    return out


def test_triage_of_a_copy_matches_by_the_own_record_only(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """NL-A ingests two pictures into its unshared series; NL-B imports their SHA-256.
    NL-B triages the first file (known: its own SHA-256) and a JPEG copy of the
    second: near to NL-A (its PDQ), new to NL-B (its record has no PDQ), and NL-B's
    series lists the first file only."""
    import hashlib

    app, owner = world
    held = _noise_pictures(tmp_path / "held")
    with App(Settings.for_home(tmp_path / "op", database_url=owner.url)) as op_app:
        assert _ingest(op_app, tmp_path / "held", "NL-A", "A-9", "S-unshared") == (2, 0)
    shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in held]
    listing = tmp_path / "b.txt"
    listing.write_text("".join(f"sha256 {h}\n" for h in shas))
    ex.import_file(app, NL_B, "hashlist", listing, agency_code="NL-B", series="NLB Blind")
    seized = tmp_path / "seized"
    seized.mkdir()
    (seized / "a.png").write_bytes(held[0].read_bytes())
    Image.open(held[1]).convert("RGB").save(seized / "b.jpg", quality=90)
    ids = [_media_id(owner, bytes.fromhex(h)) for h in shas]

    def run(
        caller: Caller,
    ) -> tuple[dict[str, tuple[str, list[tuple[int, str]]]], dict[str, list[str]]]:
        rep = triage_uc.run(app, caller, [seized], scenes=False, workers=1)
        return {
            Path(it.path).name: (it.status, [(m.media_id, m.via) for m in it.matches])
            for it in rep.items
        }, {h.status.name: sorted(Path(p).name for p in h.paths) for h in rep.series}

    a_items, a_series = run(NL_A)
    both = ["a.png", "b.jpg"]  # NL-B's series is shared at status by default
    assert a_series == {"S-unshared": both, "NLB Blind": both}
    assert a_items["b.jpg"][0] == "near" and a_items["b.jpg"][1][0] == (ids[1], "pdq")
    b_items, b_series = run(NL_B)
    assert b_items["a.png"] == ("known", [(ids[0], "sha256")])
    assert b_items["b.jpg"] == ("new", [])
    assert b_series == {"NLB Blind": ["a.png"]}


def test_similar_and_features_skip_items_seen_through_a_blind_link(
    world: tuple[App, Database], tmp_path: Path
) -> None:
    """The stored features of NL-A's item (its file's) are not NL-B's to search with."""
    from tessera.app import similar
    from tessera.errors import NotFound
    from tessera.storage.repo import FEATURES_ALGORITHM, FEATURES_VERSION
    from tests.app.sharing_world import EMPTY_FEATURES

    app, owner = world
    held = _blind(app, tmp_path)
    mid = _media_id(owner, held)
    _plant(owner, mid, FEATURES_ALGORITHM, FEATURES_VERSION, EMPTY_FEATURES)  # its file's
    assert similar.stored_features(app, NL_A, mid) is not None
    try:
        similar.stored_features(app, NL_B, mid)
    except NotFound as err:
        assert "no local features" in str(err)
    else:
        raise AssertionError("NL-B searched with NL-A's features")

"""A later ingest of the file itself merges with its imported hash-only record (issue 14
item 3): one media row, now with content and the fingerprints Tessera computes.

A VICS file names a generated picture by digests computed here with ``hashlib`` (the
oracle); it is imported into a fresh home, then the picture is ingested. The record
keeps its id, gains ``has_content`` and the file's PDQ (so a PDQ lookup finds it), and
no second row appears, whether the record carried the SHA-256 or only MD5 and SHA-1.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from tessera.app import App, Caller
from tessera.app import exchange as ex
from tessera.app import ingest as ingest_uc
from tessera.app import lookup as lk
from tessera.storage import repo
from tessera.storage.models import FingerprintModel, Media

AGENCY = "NL-NPU"


def _picture(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(14)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    path = folder / "kept.png"
    Image.fromarray(small).resize((256, 256), Image.BILINEAR).save(path)
    return path


def _vics(path: Path, data: bytes, *, with_sha256: bool) -> Path:
    record: dict[str, object] = {
        "MediaID": 1,
        "MD5": hashlib.md5(data).hexdigest().upper(),
        "SHA1": hashlib.sha1(data).hexdigest().upper(),
        "Series": "Kept",
        "AlternativeHashes": [{"HashName": "PhotoDNA", "HashValue": "AQIDBA=="}],
    }
    if with_sha256:
        record["AlternativeHashes"] = [
            {"HashName": "PhotoDNA", "HashValue": "AQIDBA=="},
            {"HashName": "SHA256", "HashValue": hashlib.sha256(data).hexdigest()},
        ]
    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        "/US/$metadata#Media",
        "value": [record],
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("with_sha256", [True, False], ids=["sha256", "md5-sha1-only"])
def test_ingest_of_the_file_completes_the_imported_record(
    app: App, caller: Caller, tmp_path: Path, with_sha256: bool
) -> None:
    with app.transaction() as s:
        repo.create_agency(s, AGENCY, "NL", "VIT")
    picture = _picture(tmp_path / "seized")
    data = picture.read_bytes()
    md5 = hashlib.md5(data).digest()
    vics = _vics(tmp_path / "known.json", data, with_sha256=with_sha256)
    r = ex.import_file(app, caller, "vics", vics, agency_code=AGENCY)
    assert (r.records, r.new_media) == (1, 1)
    with app.transaction() as s:
        imported = repo.media_by_digest(s, "md5", [md5])[md5]
        media_id = imported.id
        assert imported.has_content is False
        assert (imported.sha256 is not None) is with_sha256

    done = ingest_uc.run(
        app, caller, picture.parent, agency_code=AGENCY, case_number="C-1", features=False
    )
    assert (done.files_seen, done.new_media, done.already_known) == (1, 0, 1)

    with app.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 1
        m = s.get(Media, media_id)
        assert m is not None
        assert m.has_content is True
        assert m.sha256 == hashlib.sha256(data).digest()
        assert (m.width, m.height, m.byte_size) == (256, 256, len(data))
        algs = dict(
            s.execute(
                select(FingerprintModel.algorithm, FingerprintModel.value).where(
                    FingerprintModel.media_id == media_id
                )
            ).all()
        )
        assert algs["photodna"] == b"AQIDBA=="  # the imported opaque hash stays
        assert "pdq" in algs
    # the picture's PDQ, computed from the bytes, finds the one record
    pdq = lk.hash_content(app, caller, data).pdq
    assert pdq is not None
    found = lk.lookup(app, caller, [lk.HashQuery(type="pdq", hash=pdq)])
    assert [mt.media_id for mt in found.results[0].matches] == [media_id]
    by_sha = lk.lookup(
        app, caller, [lk.HashQuery(type="sha256", hash=hashlib.sha256(data).hexdigest())]
    )
    assert [mt.media_id for mt in by_sha.results[0].matches] == [media_id]

    # ingesting it again changes nothing
    again = ingest_uc.run(
        app, caller, picture.parent, agency_code=AGENCY, case_number="C-2", features=False
    )
    assert (again.new_media, again.already_known) == (0, 1)
    with app.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 1
        n_pdq = s.scalar(
            select(func.count())
            .select_from(FingerprintModel)
            .where(FingerprintModel.media_id == media_id, FingerprintModel.algorithm == "pdq")
        )
        assert n_pdq == 1

"""Migration 0011 re-codes a database written by the previous code (full feature blobs)
into compact ones, on SQLite and PostgreSQL; downgrade gives the old layout back.

The "previous code" blobs are built here byte by byte from the version-1 layout the
old ``tessera.features.local`` documented (32-byte header, float32 xy, float16 size
and angle, uint8 descriptors), not by the code under test.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tessera.features import codebook
from tessera.features.local import STORED_BYTES, LocalFeatures, blob_version, stored_max
from tessera.ingest.writer import write_batch
from tessera.pipeline.result import FileResult
from tessera.storage import markers, repo
from tessera.storage.db import Database
from tessera.storage.models import Case, FingerprintModel, IngestRun, Marker, Media

from .conftest import database_at, migrate_to

BEFORE = "0010"  # the head the compact-features migration was chained on


def _at(db: Database, revision: str) -> None:
    migrate_to(db, revision, down_to=BEFORE)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at the revision before 0011 (what the previous code created)."""
    yield from database_at(request.param, tmp_path, BEFORE)


def _v1_blob(
    n: int, seed: int, w: int = 1600, h: int = 1200
) -> tuple[bytes, dict[str, np.ndarray]]:
    """A version-1 blob as the previous code wrote it, and its arrays."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, [w - 1, h - 1], (n, 2)).astype("<f4")
    size = rng.uniform(2, 80, n).astype("<f2")
    angle = rng.uniform(0, 360, n).astype("<f2")
    raw = rng.gamma(0.6, 1.0, (n, 128))  # RootSIFT-like: nonnegative, unit L2 norm
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    desc = np.clip(np.rint(raw * 512), 0, 255).astype(np.uint8)
    header = struct.pack("<4sHHIHHII8x", b"TSLF", 1, 0, n, 128, 0, w, h)
    blob = header + xy.tobytes() + size.tobytes() + angle.tobytes() + desc.tobytes()
    assert len(blob) == 32 + n * 140  # 8 + 2 + 2 + 128 bytes a keypoint
    return blob, {"xy": xy, "size": size, "angle": angle, "desc": desc}


def _file(name: str, features: bytes) -> FileResult:
    content = name.encode()
    return FileResult(
        path=f"/old/{name}",
        status="ok",
        size=len(content),
        md5=hashlib.md5(content).hexdigest(),
        sha1=hashlib.sha1(content).hexdigest(),
        sha256=hashlib.sha256(content).hexdigest(),
        format="jpeg",
        width=1600,
        height=1200,
        features=features,
    )


def test_migration_0011_compacts_old_feature_blobs(old_db: Database) -> None:
    blobs = {f"p{i}.jpg": _v1_blob(n, i) for i, n in enumerate((1000, 300, 40))}
    marker_blob, marker_arrays = _v1_blob(120, 99)
    with old_db.session() as s:
        repo.create_agency(s, "NL", "NL", "nl")
        agency = repo.get_agency(s, "NL")
        # a plain row, as the previous code wrote it (today's get_or_create_case also
        # applies the agency's sharing default: a table of migration 0017)
        case = Case(agency_id=agency.id, number="c1")
        s.add(case)
        s.flush()
        run = IngestRun(agency_id=agency.id, case_id=case.id, series_id=None, root="/old")
        s.add(run)
        s.flush()
        write_batch(s, run, [_file(name, b) for name, (b, _) in blobs.items()])
        first = s.scalars(select(Media).order_by(Media.id)).first()
        assert first is not None
        markers.create_marker(s, first, (10, 10, 400, 300), "artwork", marker_blob)
    with old_db.session() as s:
        before = {
            m: bytes(v)
            for m, v in s.execute(
                select(FingerprintModel.media_id, FingerprintModel.value).where(
                    FingerprintModel.algorithm == "rootsift"
                )
            )
        }
    assert {blob_version(b) for b in before.values()} == {1}

    old_db.migrate()  # to head: 0011 runs
    assert old_db.is_current()
    with old_db.session() as s:
        rows = s.execute(
            select(FingerprintModel.media_id, FingerprintModel.version, FingerprintModel.value)
            .where(FingerprintModel.algorithm == "rootsift")
            .order_by(FingerprintModel.media_id)
        ).all()
        marker = s.scalars(select(Marker)).one()
        new_marker = bytes(marker.features)
    assert len(rows) == 3
    for (media_id, version, stored), (_, (old, arrays)) in zip(rows, blobs.items(), strict=True):
        value = bytes(stored)
        assert version == 2 and blob_version(value) == 2
        assert len(value) <= STORED_BYTES
        assert len(value) < len(old)
        got = LocalFeatures.from_bytes(value)
        n = len(got)
        assert n == min(len(arrays["xy"]), stored_max(codebook.load(codebook.CURRENT).m))
        assert (got.width, got.height) == (1600, 1200)
        # the strongest keypoints kept (the old blob's order), geometry within 1/40 px
        assert np.abs(got.xy - arrays["xy"][:n]).max(initial=0) < 0.025
        assert np.all(np.abs(got.size / arrays["size"][:n].astype(np.float32) - 1) < 0.03)
        d_ang = np.abs(got.angle.astype(np.float32) - arrays["angle"][:n].astype(np.float32))
        assert np.all(np.minimum(d_ang, 360 - d_ang) <= 0.8)
        # descriptors: reconstructions nearer their own original than any other
        if n:
            a = got.float_desc()
            b = arrays["desc"][:n].astype(np.float32) / 512
            d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
            assert (d.argmin(axis=1) == np.arange(n)).mean() > 0.99
        assert media_id in before
    assert blob_version(new_marker) == 2 and len(LocalFeatures.from_bytes(new_marker)) == 120

    old_db.migrate()  # running again changes nothing
    with old_db.session() as s:
        again = [
            bytes(v)
            for (v,) in s.execute(
                select(FingerprintModel.value)
                .where(FingerprintModel.algorithm == "rootsift")
                .order_by(FingerprintModel.media_id)
            )
        ]
    assert again == [bytes(r[2]) for r in rows]

    _at(old_db, "down")
    with old_db.session() as s:
        down = s.execute(
            select(FingerprintModel.version, FingerprintModel.value).where(
                FingerprintModel.algorithm == "rootsift"
            )
        ).all()
        marker_down = bytes(s.scalars(select(Marker)).one().features)
    assert {v for v, _ in down} == {1}
    for _, stored in down:  # the old layout again: n x (8 + 2 + 2 + 128) after the header
        value = bytes(stored)
        n = struct.unpack_from("<I", value, 8)[0]
        assert blob_version(value) == 1 and len(value) == 32 + 140 * n
    assert len(marker_down) == 32 + 140 * 120
    assert marker_arrays["desc"].shape == (120, 128)

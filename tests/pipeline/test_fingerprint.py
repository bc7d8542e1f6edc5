"""``tessera.pipeline.fingerprint``: one file in, one ``FileResult`` out, never an exception."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from tessera.media.decode import DecodeLimits
from tessera.pipeline.fingerprint import hash_bytes, hash_file
from tessera.pipeline.options import HashOptions
from tessera.pipeline.result import FileResult


def _textured(w: int, h: int, seed: int = 0) -> np.ndarray:
    """An RGB gradient with blocky noise: plenty of structure for a high PDQ quality."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=-1)
    noise = np.kron(rng.integers(-60, 61, (h // 8 + 1, w // 8 + 1, 3)), np.ones((8, 8, 1)))
    return np.clip(base + noise[:h, :w], 0, 255).astype(np.uint8)


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def _oracle(rgb: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(rgb)
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def _digests(data: bytes) -> tuple[str, str, str]:
    return (
        hashlib.md5(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
    )


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but carries one tiny IDAT chunk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


# --- hash_bytes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world\n", bytes(range(256)) * 17],
    ids=["empty", "text", "binary"],
)
def test_hash_bytes_digests_match_hashlib_even_when_not_an_image(data: bytes) -> None:
    """MD5/SHA-1/SHA-256 and size are exact for any bytes; undecodable content is an error."""
    r = hash_bytes(data, "some/name.jpg", HashOptions())
    assert (r.md5, r.sha1, r.sha256) == _digests(data)
    assert r.size == len(data)
    assert r.path == "some/name.jpg"
    assert r.status == "error"
    assert r.reason == ("empty-file" if not data else "unsupported-format")
    assert r.pdq is None


def test_hash_bytes_image_matches_hashlib_and_pdqhash() -> None:
    """For a decodable PNG: exact digests from hashlib, PDQ hash and quality from ``pdqhash``."""
    rgb = _textured(160, 120)
    data = _png(rgb)
    r = hash_bytes(data, "img.png", HashOptions())
    assert r.status == "ok"
    assert r.reason is None
    assert (r.md5, r.sha1, r.sha256) == _digests(data)
    assert (r.pdq, r.quality) == _oracle(rgb)
    assert (r.format, r.width, r.height) == ("png", 160, 120)
    assert r.flags == ()


def test_hash_bytes_dihedral_original_equals_plain_hash() -> None:
    """With ``dihedral=True`` the eight variants are reported and ``original`` is the PDQ hash."""
    rgb = _textured(96, 64, seed=3)
    r = hash_bytes(_png(rgb), "img.png", HashOptions(dihedral=True))
    assert r.dihedral is not None
    assert list(r.dihedral) == [
        "original",
        "rot90",
        "rot180",
        "rot270",
        "flipx",
        "flipy",
        "flipplus1",
        "flipminus1",
    ]
    assert r.dihedral["original"] == r.pdq == _oracle(rgb)[0]
    assert len(set(r.dihedral.values())) == 8


def test_hash_bytes_truncated_image_keeps_digests() -> None:
    """A truncated PNG fails with ``truncated`` but its exact digests are still reported."""
    data = _png(_textured(200, 200))[:300]
    r = hash_bytes(data, "t.png", HashOptions())
    assert r.status == "error"
    assert r.reason == "truncated"
    assert r.message
    assert (r.md5, r.sha1, r.sha256) == _digests(data)


def test_hash_bytes_max_pixels_boundary() -> None:
    """``max_pixels`` is inclusive: exactly at the limit is hashed, one pixel over is refused."""
    data = _png(_textured(40, 25))  # 1000 pixels
    at = hash_bytes(data, "a.png", HashOptions(limits=DecodeLimits(max_pixels=1000)))
    over = hash_bytes(data, "a.png", HashOptions(limits=DecodeLimits(max_pixels=999)))
    assert at.status == "ok"
    assert over.status == "error"
    assert over.reason == "too-many-pixels"
    assert over.sha256 == hashlib.sha256(data).hexdigest()


# --- hash_file ---------------------------------------------------------------------------


def test_hash_file_equals_hash_bytes_of_its_content(tmp_path: Path) -> None:
    """Hashing a file gives the same result as hashing its bytes under its path."""
    data = _png(_textured(64, 48, seed=9))
    p = tmp_path / "x.png"
    p.write_bytes(data)
    assert hash_file(p, HashOptions()) == hash_bytes(data, str(p), HashOptions())


def test_hash_file_missing_does_not_raise(tmp_path: Path) -> None:
    """A missing file is an ``error`` result with reason ``not-found`` (no digests)."""
    p = tmp_path / "gone.jpg"
    r = hash_file(p, HashOptions())
    assert (r.path, r.status, r.reason) == (str(p), "error", "not-found")
    assert r.md5 is r.sha256 is None


def test_hash_file_directory_does_not_raise(tmp_path: Path) -> None:
    """A directory is an ``error`` result with reason ``not-a-file``."""
    r = hash_file(tmp_path, HashOptions())
    assert (r.status, r.reason) == ("error", "not-a-file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_hash_file_permission_denied_does_not_raise(tmp_path: Path) -> None:
    """An unreadable file is an ``error`` result with reason ``permission-denied``."""
    p = tmp_path / "locked.png"
    p.write_bytes(_png(_textured(8, 8)))
    p.chmod(0)
    try:
        r = hash_file(p, HashOptions())
    finally:
        p.chmod(0o644)
    assert (r.status, r.reason) == ("error", "permission-denied")


def test_hash_file_named_pipe_does_not_block(tmp_path: Path) -> None:
    """A FIFO given directly is refused as ``not-a-file`` instead of blocking on open."""
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    box: list[FileResult] = []
    t = threading.Thread(target=lambda: box.append(hash_file(fifo, HashOptions())), daemon=True)
    t.start()
    t.join(timeout=10)
    if t.is_alive():  # unblock the stuck reader so that the thread can finish
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(timeout=10)
        pytest.fail("hash_file blocked opening a named pipe")
    assert len(box) == 1
    assert (box[0].status, box[0].reason) == ("error", "not-a-file")


@pytest.mark.parametrize(
    ("width", "height"),
    [(100_000, 100_000), (20_000, 20_000)],
    ids=["pillow-bomb-guard", "tessera-cap"],
)
def test_hash_file_huge_declared_image_is_refused(tmp_path: Path, width: int, height: int) -> None:
    """A small file declaring billions of pixels is refused (``too-many-pixels``), not decoded."""
    data = _png_header_only(width, height)
    p = tmp_path / "bomb.png"
    p.write_bytes(data)
    r = hash_file(p, HashOptions())
    assert (r.status, r.reason) == ("error", "too-many-pixels")
    assert (r.md5, r.sha1, r.sha256) == _digests(data)
    assert r.pdq is None


def test_hash_file_max_bytes_boundary(tmp_path: Path) -> None:
    """``max_bytes`` is inclusive: a file of exactly that size is read, one byte less refuses it."""
    data = _png(_textured(16, 16))
    p = tmp_path / "a.png"
    p.write_bytes(data)
    at = hash_file(p, HashOptions(limits=DecodeLimits(max_bytes=len(data))))
    under = hash_file(p, HashOptions(limits=DecodeLimits(max_bytes=len(data) - 1)))
    assert at.status == "ok"
    assert at.sha256 == hashlib.sha256(data).hexdigest()
    assert (under.status, under.reason) == ("error", "too-many-bytes")


# --- FileResult.to_json ------------------------------------------------------------------


def test_to_json_of_an_error_names_path_status_and_error() -> None:
    """An error result serialises its path, status and ``error.reason``/``error.message``."""
    r = FileResult("a/b.jpg", "error", reason="corrupt", message="bad data", md5="0" * 32)
    j = r.to_json()
    assert j["path"] == "a/b.jpg"
    assert j["status"] == "error"
    assert j["error"] == {"reason": "corrupt", "message": "bad data"}
    assert j["md5"] == "0" * 32
    assert "dihedral" not in j


def test_to_json_of_ok_and_skipped_results() -> None:
    """``error`` is null only for ``ok``; ``dihedral`` appears only when computed."""
    ok = FileResult("x.png", "ok", pdq="ab" * 32, quality=90, dihedral={"original": "ab" * 32})
    j = ok.to_json()
    assert j["error"] is None
    assert j["dihedral"] == {"original": "ab" * 32}
    assert (j["pdq"], j["quality"]) == ("ab" * 32, 90)
    skipped = FileResult("l", "skipped", reason="skipped", message="symlink").to_json()
    assert skipped["status"] == "skipped"
    assert skipped["error"] == {"reason": "skipped", "message": "symlink"}


def test_to_json_of_a_real_result_round_trips_through_json(tmp_path: Path) -> None:
    """``to_json`` of a real result contains only JSON types (``json.dumps`` succeeds)."""
    import json

    p = tmp_path / "x.png"
    p.write_bytes(_png(_textured(32, 32)))
    j = hash_file(p, HashOptions(dihedral=True)).to_json()
    assert json.loads(json.dumps(j)) == j
    assert j["path"] == str(p)
    assert j["status"] == "ok"

"""Reading a file again by its result's label (``tessera.pipeline.reread``): only the
same content, only from disk; anything else gives None and the caller keeps what it
found."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tessera.pipeline import reread as reread_module
from tessera.pipeline.expand import expand_path
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.options import ExpandOptions, HashOptions
from tessera.pipeline.reread import reread

FULL = HashOptions(pdq=False, features=True, features_compact=False)


def _png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (31, 41, 3)).astype(np.uint8)
    rgb = np.kron(blocks, np.ones((12, 12, 1), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def test_the_same_file_is_read_again_with_other_options(tmp_path: Path) -> None:
    path = tmp_path / "odd name \u00e9.png"
    path.write_bytes(_png(1))
    first = hash_bytes(path.read_bytes(), str(path), HashOptions(copy_features=True))
    again = reread(first, FULL)
    assert again is not None and again.path == first.path and again.sha256 == first.sha256
    assert again.features is not None and again.pdq is None  # the new options, not the old


def test_a_file_changed_since_or_gone_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(_png(1))
    first = hash_bytes(path.read_bytes(), str(path), HashOptions())
    path.write_bytes(_png(2))  # another picture (it could be a hostile one) under the name

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("changed content was decoded")

    monkeypatch.setattr(reread_module, "hash_bytes", never)
    assert reread(first, FULL) is None  # told by its SHA-256, before any decoding
    path.unlink()
    assert reread(first, FULL) is None


def test_an_archive_member_is_not_read_again(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("inner.png", _png(3))
    (member,) = [r for r in expand_path(archive, ExpandOptions()) if r.path != str(archive)]
    assert member.path.startswith(str(archive)) and member.status == "ok"
    assert reread(member, FULL) is None


def test_a_result_without_digests_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(_png(1))
    first = hash_bytes(path.read_bytes(), str(path), HashOptions())
    assert reread(replace(first, sha256=None), FULL) is None

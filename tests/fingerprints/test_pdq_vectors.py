"""PDQ against the ThreatExchange golden vectors (``../shared/vectors/threatexchange``).

Expected values come only from the shared CSVs (see the README there for the
pipelines) or from the independent ``pdqhash`` package. Images are read in place.
Tests are parametrised per CSV row, so a failure names the CSV and the image.
"""

from __future__ import annotations

import csv
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
import pytest
from numpy.typing import NDArray
from PIL import Image

from tessera.fingerprints.pdq import (
    DIHEDRAL_NAMES,
    MATCH_THRESHOLD,
    DihedralResult,
    PdqResult,
    nearest_512,
    pdq_dihedral_rgb,
    pdq_hash_rgb,
)
from tessera.fingerprints.value import Fingerprint, distance
from tessera.media.decode import DecodedImage, decode_image
from tests.conftest import VECTORS

EXPECTED = VECTORS / "pdq" / "expected"
CSV_DIHEDRAL_COLUMNS = ("orig", "rot90", "rot180", "rot270", "flipx", "flipy")
CSV_DIHEDRAL_COLUMNS += ("flipplus1", "flipminus1")

# Where the tessera policy deliberately departs from python-threatexchange
# (src/tessera/media/normalize.py module docstring).
CONVERTED_LIKE_RGB = ("pdq/images/modes/1.png", "pdq/images/modes/CMYK.jpg")
CONVERTED_LIKE_RGB += ("pdq/images/modes/P.png",)
LA_IMAGE = "pdq/images/pytx/LA.png"
I16_IMAGE = "pdq/images/pytx/I16.png"
DELIBERATE = (*CONVERTED_LIKE_RGB, LA_IMAGE, I16_IMAGE)

ORIGINAL = "pdq/images/bridge-mods/aaa-orig.jpg"
DIH_ORIGINAL = "pdq/images/dih/bridge-1-original.jpg"
# README: "the same photo in all 8 dihedral orientations"; file -> pdqhashing.h variant.
DIH_FILES = {
    "pdq/images/dih/bridge-2-rotate-90.jpg": "rot90",
    "pdq/images/dih/bridge-3-rotate-180.jpg": "rot180",
    "pdq/images/dih/bridge-4-rotate-270.jpg": "rot270",
    "pdq/images/dih/bridge-5-flipx.jpg": "flipx",
    "pdq/images/dih/bridge-6-flipy.jpg": "flipy",
    "pdq/images/dih/bridge-7-flip-plus-1.jpg": "flipplus1",
    "pdq/images/dih/bridge-8-flip-minus-1.jpg": "flipminus1",
}
CSV_COLUMN = dict(zip(DIHEDRAL_NAMES, CSV_DIHEDRAL_COLUMNS, strict=True))


@cache
def _csv(name: str) -> tuple[dict[str, str], ...]:
    with (EXPECTED / name).open(newline="") as f:
        return tuple(csv.DictReader(f))


@cache
def _by_file(name: str) -> dict[str, dict[str, str]]:
    return {row["file"]: row for row in _csv(name)}


def _params(name: str, keep: Any = None) -> list[Any]:
    """One pytest param per CSV row (id = image path), or one that skips if data is absent."""
    if not (EXPECTED / name).exists():
        return [pytest.param(None, id="shared-vectors-absent")]
    rows = [r for r in _csv(name) if keep is None or keep(r)]
    return [pytest.param(r, id=r["file"].removeprefix("pdq/images/")) for r in rows]


@lru_cache(maxsize=8)  # bounded: full-size decodes are ~5 MB each
def _decoded(file: str, policy: str) -> DecodedImage:
    return decode_image((VECTORS / file).read_bytes(), policy=policy)  # type: ignore[arg-type]


@cache
def _pdq(file: str, policy: str) -> PdqResult:
    """Reference PDQ of a vector image (cached: several tests reuse the same hash)."""
    return pdq_hash_rgb(_decoded(file, policy).rgb)


@cache
def _dihedral(file: str, policy: str, pre: str) -> DihedralResult:
    rgb = _decoded(file, policy).rgb
    return pdq_dihedral_rgb(nearest_512(rgb) if pre == "512" else rgb)


def _hex(bits: NDArray[Any]) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def _oracle(rgb: NDArray[np.uint8]) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb, dtype=np.uint8))
    return _hex(bits), int(quality)


def _grey_to_rgb(grey: NDArray[Any]) -> NDArray[np.uint8]:
    return np.ascontiguousarray(np.stack([grey.astype(np.uint8)] * 3, axis=-1))


def _cimg_nearest_512(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """README pipeline 3: exactly 512x512, source index floor(i * old / 512), if a side > 512."""
    h, w = rgb.shape[:2]
    if h <= 512 and w <= 512:
        return rgb
    rows = [i * h // 512 for i in range(512)]
    cols = [j * w // 512 for j in range(512)]
    return np.ascontiguousarray(rgb[np.ix_(rows, cols)])


def _pair(result: PdqResult) -> tuple[str, int]:
    return result.hex, result.quality


def _expected(row: dict[str, str]) -> tuple[str, int]:
    return row["hash"], int(row["quality"])


def _hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


# --- pipeline 1: python-threatexchange ---------------------------------------------


def test_csvs_have_the_documented_rows(vectors_dir: Path) -> None:
    """The vector set is complete: 43 images in each single-hash CSV, 27 in the dihedral ones."""
    for name in ("pytx_pipeline.csv", "rgb_convert_pipeline.csv", "cpp_reference_cli.csv"):
        assert len(_csv(name)) == 43, name
        assert all((vectors_dir / r["file"]).is_file() for r in _csv(name)), name
    for name in ("pytx_pipeline_dihedral.csv", "cpp_reference_cli_dihedral.csv"):
        assert len(_csv(name)) == 27, name


@pytest.mark.parametrize("row", _params("pytx_pipeline.csv"))
def test_pytx_policy_matches_pytx_pipeline_csv(vectors_dir: Path, row: dict[str, str]) -> None:
    """``policy="pytx"`` decode + reference ``pdq_hash_rgb`` reproduces hash and quality."""
    d = _decoded(row["file"], "pytx")
    assert (d.width, d.height) == (int(row["width"]), int(row["height"]))
    assert _pair(_pdq(row["file"], "pytx")) == _expected(row)


# --- tessera policy ----------------------------------------------------------------


@pytest.mark.parametrize("row", _params("pytx_pipeline.csv", lambda r: r["file"] not in DELIBERATE))
def test_tessera_policy_agrees_with_pytx(vectors_dir: Path, row: dict[str, str]) -> None:
    """Outside the documented departures the tessera policy gives the pytx hash and quality."""
    assert _pair(_pdq(row["file"], "tessera")) == _expected(row)


@pytest.mark.parametrize(
    "row", _params("rgb_convert_pipeline.csv", lambda r: r["file"] in CONVERTED_LIKE_RGB)
)
def test_tessera_policy_converts_modes_like_pillow_rgb(
    vectors_dir: Path, row: dict[str, str]
) -> None:
    """1-bit, CMYK and palette images hash as Pillow ``convert("RGB")`` does, not as pytx."""
    pytx = _expected(_by_file("pytx_pipeline.csv")[row["file"]])
    assert _expected(row) != pytx  # the CSVs do document a difference here
    assert _pair(_pdq(row["file"], "tessera")) == _expected(row)


def test_tessera_policy_composites_la_on_white(vectors_dir: Path) -> None:
    """LA with real transparency is composited over white (pytx drops alpha)."""
    la = np.asarray(Image.open(vectors_dir / LA_IMAGE))
    assert la.ndim == 3 and la.shape[2] == 2
    grey, alpha = la[:, :, 0].astype(np.int64), la[:, :, 1].astype(np.int64)
    assert alpha.min() < 255  # otherwise compositing would change nothing
    # (g*a + 255*(255-a)) / 255 is never exactly k + 0.5, so the rounding rule is moot.
    composite = np.floor((grey * alpha + 255 * (255 - alpha)) / 255 + 0.5)
    expected = _oracle(_grey_to_rgb(composite))
    got = _pair(_pdq(LA_IMAGE, "tessera"))
    assert got == expected
    assert got[0] != _by_file("pytx_pipeline.csv")[LA_IMAGE]["hash"]


def test_tessera_policy_scales_16_bit_grey(vectors_dir: Path) -> None:
    """16-bit grey is scaled by round(v * 255 / 65535) (pytx clips at 255)."""
    v = np.asarray(Image.open(vectors_dir / I16_IMAGE)).astype(np.int64)
    assert v.ndim == 2
    assert v.max() > 255  # otherwise clipping and scaling would agree
    scaled = np.floor(v * 255 / 65535 + 0.5)  # never a tie: v * 255 / 65535 is not k + 0.5
    expected = _oracle(_grey_to_rgb(scaled))
    got = _pair(_pdq(I16_IMAGE, "tessera"))
    assert got == expected
    assert got[0] != _by_file("pytx_pipeline.csv")[I16_IMAGE]["hash"]


# --- pipeline 3: the C++ reference CLI ---------------------------------------------


@pytest.mark.parametrize(
    "row",
    _params(
        "cpp_reference_cli.csv",
        lambda r: r["hash"] != "UNSUPPORTED" and r["file"] != I16_IMAGE,
    ),
)
def test_cpp_cli_with_nearest_512(vectors_dir: Path, row: dict[str, str]) -> None:
    """Tessera decode + ``nearest_512`` + reference PDQ equals the C++ ``pdq-photo-hasher``."""
    rgb = _decoded(row["file"], "tessera").rgb
    assert _pair(pdq_hash_rgb(nearest_512(rgb))) == _expected(row)


def test_cpp_cli_unsupported_rows_are_alpha_or_cmyk(vectors_dir: Path) -> None:
    """The C++ CLI refuses exactly the 2- and 4-channel images (README); nothing else is skipped."""
    unsupported = {r["file"] for r in _csv("cpp_reference_cli.csv") if r["hash"] == "UNSUPPORTED"}
    modes = {r["file"]: r["pil_mode"] for r in _csv("pytx_pipeline.csv")}
    assert unsupported == {f for f, mode in modes.items() if mode in {"LA", "RGBA", "CMYK"}}


def test_cpp_cli_i16_reads_the_low_byte(vectors_dir: Path) -> None:
    """CImg keeps the LOW byte of each 16-bit sample; that, not Tessera, explains the C++ value."""
    row = _by_file("cpp_reference_cli.csv")[I16_IMAGE]
    v = np.asarray(Image.open(vectors_dir / I16_IMAGE)).astype(np.int64)
    low = _grey_to_rgb(v & 255)
    assert _oracle(_cimg_nearest_512(low)) == _expected(row)
    # Tessera's own value (scaled 16-bit) is a different, deliberate answer.
    ours = pdq_hash_rgb(nearest_512(_decoded(I16_IMAGE, "tessera").rgb))
    assert ours.hex != row["hash"]


def test_nearest_512_matches_cimg_indexing() -> None:
    """``nearest_512`` picks the same source pixels as CImg (floor(i * old / 512))."""
    rng = np.random.default_rng(512)
    for h, w in [(1004, 1600), (513, 512), (512, 2000), (700, 300)]:
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out = nearest_512(rgb)
        assert out.shape == (512, 512, 3)
        assert np.array_equal(out, _cimg_nearest_512(rgb))
    small = rng.integers(0, 256, (512, 100, 3), dtype=np.uint8)
    assert np.array_equal(nearest_512(small), small)


# --- dihedral variants -------------------------------------------------------------


def _dihedral_params() -> list[Any]:
    out = []
    for name, pre in (
        ("pytx_pipeline_dihedral.csv", "full"),
        ("cpp_reference_cli_dihedral.csv", "512"),
    ):
        for p in _params(name):
            row = p.values[0]
            out.append(pytest.param(row, pre, id=f"{name}:{p.id}"))
    return out


@pytest.mark.parametrize(("row", "pre"), _dihedral_params())
def test_dihedral_csvs(vectors_dir: Path, row: dict[str, str], pre: str) -> None:
    """``pdq_dihedral_rgb`` gives all eight variants and the quality of the dihedral CSVs."""
    result = _dihedral(row["file"], "pytx", pre)
    got = {CSV_COLUMN[n]: fp.hex for n, fp in result.variants.items()}
    assert got == {c: row[c] for c in CSV_DIHEDRAL_COLUMNS}
    assert result.quality == int(row["quality"])


# --- distances documented in the README ---------------------------------------------


BRIDGE_EDITS = [
    f"pdq/images/bridge-mods/{n}.jpg"
    for n in (
        "blur-a-little",
        "blur-a-lot",
        "high-contrast",
        "high-saturation",
        "sharpen-a-little",
        "sharpen-a-lot",
        "shrink-a-little",
        "shrink-a-lot",
        "square-128x128",
        "square-256x256",
        "square-512x512",
    )
]


@pytest.mark.parametrize("file", BRIDGE_EDITS, ids=lambda f: f.rsplit("/", 1)[1])
def test_bridge_edits_stay_within_16_bits(vectors_dir: Path, file: str) -> None:
    """Blur, contrast, saturation, sharpen, shrink and squash edits stay <= 16 bits away."""
    original = _pdq(ORIGINAL, "pytx").fingerprint
    edit = _pdq(file, "pytx").fingerprint
    assert distance(original, edit) <= 16


def test_dih_mapping_is_what_the_csvs_show(vectors_dir: Path) -> None:
    """In the CSVs, each rotated file's nearest variant of the original is the mapped one."""
    hashes = _by_file("pytx_pipeline.csv")
    variants = _by_file("pytx_pipeline_dihedral.csv")[DIH_ORIGINAL]
    for file, name in DIH_FILES.items():
        own = hashes[file]["hash"]
        d = {n: _hamming(own, variants[CSV_COLUMN[n]]) for n in DIHEDRAL_NAMES}
        assert min(d, key=d.__getitem__) == name, (file, d)
        assert d[name] <= 8
        assert sorted(d.values())[1] > MATCH_THRESHOLD, (file, d)  # no second candidate


@pytest.mark.parametrize("file", sorted(DIH_FILES), ids=lambda f: f.rsplit("/", 1)[1])
def test_rotations_match_only_through_their_dihedral_variant(vectors_dir: Path, file: str) -> None:
    """A rotated/flipped file does not match the original (> 31 bits) but does match
    the original's corresponding dihedral variant (<= 8 bits)."""
    original = _dihedral(DIH_ORIGINAL, "pytx", "full")
    own = _pdq(file, "pytx").fingerprint
    assert distance(own, original.variants["original"]) > MATCH_THRESHOLD
    assert distance(own, original.variants[DIH_FILES[file]]) <= 8


def test_featureless_image_has_quality_zero(vectors_dir: Path) -> None:
    """``misc/small.jpg`` is featureless: quality 0 (below any usable threshold), still hashable."""
    result = _pdq("pdq/images/misc/small.jpg", "tessera")
    assert result.quality == 0
    assert result.hashable


# --- hash lists --------------------------------------------------------------------


def _hash_list(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def test_hashlist_distances_match_popcount(vectors_dir: Path) -> None:
    """``distance`` over all needle x haystack pairs equals an independent numpy popcount."""
    folder = vectors_dir / "pdq" / "hashlists"
    haystack_hex = _hash_list(folder / "haystack.txt")
    needles_hex = _hash_list(folder / "needles.txt")
    assert (len(haystack_hex), len(needles_hex)) == (1350, 100)
    haystack = [Fingerprint.from_hex("pdq", h) for h in haystack_hex]
    needles = [Fingerprint.from_hex("pdq", h) for h in needles_hex]
    assert [fp.hex for fp in haystack] == [h.lower() for h in haystack_hex]

    got = np.array([[distance(n, h) for h in haystack] for n in needles])

    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
    hay = np.array([list(bytes.fromhex(h)) for h in haystack_hex], dtype=np.uint8)
    ndl = np.array([list(bytes.fromhex(h)) for h in needles_hex], dtype=np.uint8)
    expected = table[ndl[:, None, :] ^ hay[None, :, :]].sum(axis=2)
    assert got.shape == (100, 1350)
    assert np.array_equal(got, expected)

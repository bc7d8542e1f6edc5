"""``tessera hash``: the command's output, exit codes and options, through the real entry point.

Expected exact digests come from ``hashlib`` and expected PDQ values from ``pdqhash`` (Meta's
C++ implementation) or the ThreatExchange CSVs, never from Tessera itself. Test images are
generated here with NumPy and Pillow into ``tmp_path``; shared vectors are read in place.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
import pytest
from click.testing import CliRunner
from PIL import Image

from tessera.cli.main import cli

_VENV_SCRIPT = Path(sys.executable).parent / "tessera"
TESSERA = str(_VENV_SCRIPT) if _VENV_SCRIPT.exists() else shutil.which("tessera")

HEX64 = re.compile(r"^[0-9a-f]{64}$")
RATE = re.compile(r"\d[\d,]*(\.\d+)? files/s")
PDQ_IMAGES = "pdq/images"
AAA = "pdq/images/bridge-mods/aaa-orig.jpg"
DIHEDRAL_COLUMNS = {
    "original": "orig",
    "rot90": "rot90",
    "rot180": "rot180",
    "rot270": "rot270",
    "flipx": "flipx",
    "flipy": "flipy",
    "flipplus1": "flipplus1",
    "flipminus1": "flipminus1",
}


# --- helpers -----------------------------------------------------------------------------


def _textured(w: int, h: int, seed: int = 0) -> np.ndarray:
    """An RGB gradient with blocky noise: plenty of structure for a high PDQ quality."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=-1)
    noise = np.kron(rng.integers(-60, 61, (h // 8 + 1, w // 8 + 1, 3)), np.ones((8, 8, 1)))
    return np.clip(base + noise[:h, :w], 0, 255).astype(np.uint8)


def _encode(rgb: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _oracle(path: Path) -> tuple[str, int]:
    """PDQ hex and quality of a file's pixels from ``pdqhash``, decoded by Pillow."""
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    bits, quality = pdqhash.compute(rgb)
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def _digests(data: bytes) -> dict[str, str]:
    return {
        "md5": hashlib.md5(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``tessera`` console script (stderr is a pipe, not a terminal)."""
    assert TESSERA, "the tessera console script is not installed"
    return subprocess.run(
        [TESSERA, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def invoke(*args: str | Path) -> tuple[int, dict[str, Any]]:
    """Run ``tessera hash --json --workers 1 ARGS`` in-process; exit code and parsed JSON."""
    result = CliRunner().invoke(cli, ["hash", "--json", "--workers", "1", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _by_path(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in doc["results"]}


def _csv(vectors_dir: Path, name: str) -> dict[str, dict[str, str]]:
    with open(vectors_dir / "pdq" / "expected" / name, newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


# --- the mixed tree ----------------------------------------------------------------------

# (relative path, expected status, expected error reason, expected sniffed format)
# Listed in the walk order: a folder's files sorted by name, then its subfolders, sorted.
TREE: list[tuple[str, str, str | None, str | None]] = [
    ("b-notes.txt", "error", "unsupported-format", None),
    ("empty.jpg", "error", "empty-file", None),
    ("zz-after.png", "ok", None, "png"),
    ("a/good.jpg", "ok", None, "jpeg"),
    ("a/nested/deep/deep.png", "ok", None, "png"),
    ("c/bad-crc.png", "error", "corrupt", None),
    ("c/trunc.jpg", "error", "truncated", None),
    ("c/wrong-ext.jpg", "ok", None, "png"),
    ("c/z-after.jpg", "ok", None, "jpeg"),
]


def _build_tree(root: Path) -> Path:
    """Good JPEG/PNG files and bad files of every kind, in nested folders (all <= 256 px)."""
    png = _encode(_textured(120, 90, seed=1), "PNG")
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # last byte of the IHDR CRC
    jpeg = _encode(_textured(200, 150, seed=2), "JPEG")
    files = {
        "b-notes.txt": b"case notes, not an image\n",
        "empty.jpg": b"",
        "zz-after.png": _encode(_textured(64, 64, seed=3), "PNG"),
        "a/good.jpg": _encode(_textured(160, 120, seed=4), "JPEG"),
        "a/nested/deep/deep.png": png,
        "c/bad-crc.png": bytes(bad_crc),
        "c/trunc.jpg": jpeg[: len(jpeg) // 2],
        "c/wrong-ext.jpg": _encode(_textured(100, 80, seed=5), "PNG"),
        "c/z-after.jpg": _encode(_textured(256, 200, seed=6), "JPEG"),
    }
    # create in reverse order, so that creation order is not the expected order
    for rel in reversed(list(files)):
        _write(root / rel, files[rel])
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mixed tree, built once for the module (tests only read it)."""
    return _build_tree(tmp_path_factory.mktemp("hash-cmd") / "tree")


@pytest.fixture(scope="module")
def tree_json(tree: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``tessera hash --json --workers 1 TREE`` run once through the console script."""
    proc = run("hash", "--json", "--workers", "1", tree)
    return proc, json.loads(proc.stdout)


def test_json_is_one_document_with_results_and_summary(tree_json, tree: Path) -> None:
    """``--json`` writes one JSON document: a ``results`` list and a ``summary`` object."""
    proc, doc = tree_json
    assert set(doc) == {"results", "summary"}
    assert isinstance(doc["results"], list)
    for r in doc["results"]:
        assert isinstance(r["path"], str)
        assert r["status"] in {"ok", "error", "skipped"}
    assert "Traceback" not in proc.stderr


def test_json_lists_every_file_once_in_walk_order(tree_json, tree: Path) -> None:
    """Every file in the tree appears exactly once, in the sorted walk order."""
    _, doc = tree_json
    paths = [r["path"] for r in doc["results"]]
    assert paths == [str(tree / rel) for rel, *_ in TREE]
    on_disk = {str(p) for p in tree.rglob("*") if p.is_file()}
    assert set(paths) == on_disk
    assert len(paths) == len(set(paths))


def test_json_ok_files_have_hashlib_digests_and_pdqhash_pdq(tree_json, tree: Path) -> None:
    """Each good image has MD5/SHA-1/SHA-256 equal to hashlib's and the PDQ of ``pdqhash``."""
    _, doc = tree_json
    results = _by_path(doc)
    for rel, status, _, fmt in TREE:
        if status != "ok":
            continue
        path = tree / rel
        r = results[str(path)]
        assert r["status"] == "ok", r
        assert r["error"] is None
        assert {k: r[k] for k in ("md5", "sha1", "sha256")} == _digests(path.read_bytes())
        assert r["size"] == path.stat().st_size
        assert HEX64.match(r["pdq"])
        assert (r["pdq"], r["quality"]) == _oracle(path), rel
        assert r["format"] == fmt  # sniffed from content: the .jpg holding PNG bytes is png
        with Image.open(path) as im:
            assert (r["width"], r["height"]) == im.size


def test_json_failed_files_have_reason_and_still_carry_digests(tree_json, tree: Path) -> None:
    """Undecodable files are ``error`` with a reason, yet keep exact digests of their bytes."""
    _, doc = tree_json
    results = _by_path(doc)
    for rel, status, reason, _ in TREE:
        if status != "error":
            continue
        path = tree / rel
        r = results[str(path)]
        assert r["status"] == "error"
        assert r["error"]["reason"] == reason, rel
        assert r["error"]["message"]
        assert {k: r[k] for k in ("md5", "sha1", "sha256")} == _digests(path.read_bytes()), rel
        assert r["pdq"] is None
        assert r["quality"] is None
    empty = results[str(tree / "empty.jpg")]
    assert empty["sha256"] == hashlib.sha256(b"").hexdigest()
    assert empty["size"] == 0


def test_json_run_goes_on_after_bad_files(tree_json, tree: Path) -> None:
    """Files after a failing one (in the same folder and in later folders) are still hashed."""
    _, doc = tree_json
    statuses = [r["status"] for r in doc["results"]]
    first_error = statuses.index("error")
    assert "ok" in statuses[first_error + 1 :]
    results = _by_path(doc)
    assert results[str(tree / "c" / "z-after.jpg")]["status"] == "ok"  # after trunc.jpg
    assert results[str(tree / "zz-after.png")]["status"] == "ok"  # after empty.jpg


def test_json_summary_counts(tree_json) -> None:
    """The summary counts files, outcomes and errors by reason."""
    _, doc = tree_json
    s = doc["summary"]
    assert (s["files"], s["ok"], s["errors"], s["skipped"]) == (9, 5, 4, 0)
    assert s["errors_by_reason"] == {
        "corrupt": 1,
        "empty-file": 1,
        "truncated": 1,
        "unsupported-format": 1,
    }
    assert set(s) == {
        "files",
        "ok",
        "errors",
        "skipped",
        "errors_by_reason",
        "flags",
        "seconds",
        "files_per_second",
    }


def test_exit_code_is_1_when_some_files_failed(tree_json) -> None:
    """The run completes but exits 1 because some files could not be fingerprinted."""
    proc, _ = tree_json
    assert proc.returncode == 1


def test_exit_code_is_0_when_all_files_hashed(tree: Path) -> None:
    """With only good images (a sub-folder of the tree) the exit code is 0."""
    proc = run("hash", "--json", "--workers", "1", tree / "a", tree / "zz-after.png")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [r["status"] for r in doc["results"]] == ["ok", "ok", "ok"]
    assert doc["summary"]["errors"] == 0


# --- table output ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree_table(tree: Path) -> subprocess.CompletedProcess[str]:
    """``tessera hash --workers 1 TREE`` (default table output) run once."""
    return run("hash", "--workers", "1", tree)


def test_table_has_header_then_one_row_per_file(tree_table, tree: Path) -> None:
    """Stdout is a header line, then one row per file, in walk order, path after the digests."""
    lines = tree_table.stdout.splitlines()
    assert lines[0].split() == ["STATUS", "Q", "PDQ", "MD5", "SHA1", "SHA256", "PATH"]
    rows = lines[1:]
    assert len(rows) == len(TREE)
    for row, (rel, status, reason, _) in zip(rows, TREE, strict=True):
        path = str(tree / rel)
        data = (tree / rel).read_bytes()
        # the path closes the row; only the notes, in parentheses, may follow it
        assert re.search(rf"  {re.escape(path)}(  \(.+\))?$", row), row
        cells = row.split()
        assert cells[0] == (status if status == "ok" else reason)
        assert cells[3:6] == list(_digests(data).values())
        if status == "ok":
            assert cells[2] == _oracle(tree / rel)[0]
        else:
            assert cells[1:3] == ["-", "-"]  # no quality, no PDQ


def test_table_error_rows_show_reason_and_message(tree_table, tree: Path) -> None:
    """An error row starts with its reason and ends with the decoder's message in parentheses."""
    path = str(tree / "c" / "trunc.jpg")
    (row,) = [line for line in tree_table.stdout.splitlines() if path in line]
    assert row.startswith("truncated ")
    assert re.search(rf"  {re.escape(path)}  \(JPEG could not be decoded: .*truncated.*\)$", row)
    (empty,) = [line for line in tree_table.stdout.splitlines() if "empty.jpg" in line]
    assert empty.startswith("empty-file ")


def test_table_summary_goes_to_stderr_with_counts_by_reason(tree_table) -> None:
    """The closing summary is on stderr (stdout stays a clean table) and counts each reason."""
    assert tree_table.returncode == 1
    err = tree_table.stderr.strip().splitlines()
    assert len(err) == 1
    line = err[0]
    assert line.startswith("9 files: 5 hashed, 4 failed, 0 skipped")
    for part in ("corrupt: 1", "empty-file: 1", "truncated: 1", "unsupported-format: 1"):
        assert part in line
    assert "files:" not in tree_table.stdout


# --- reference vectors -------------------------------------------------------------------


def test_reference_pytx_matches_threatexchange_csv(vectors_dir: Path) -> None:
    """``--mode reference --policy pytx`` reproduces python-threatexchange's hash exactly."""
    expected = _csv(vectors_dir, "pytx_pipeline.csv")[AAA]
    code, doc = invoke("--mode", "reference", "--policy", "pytx", vectors_dir / AAA)
    assert code == 0
    (r,) = doc["results"]
    assert (
        r["pdq"]
        == expected["hash"]
        == ("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22")
    )
    assert r["quality"] == int(expected["quality"])
    assert (r["width"], r["height"]) == (int(expected["width"]), int(expected["height"]))
    assert r["sha256"] == hashlib.sha256((vectors_dir / AAA).read_bytes()).hexdigest()


def test_reference_pytx_dihedral_matches_threatexchange_csv(vectors_dir: Path) -> None:
    """``--dihedral`` outputs all 8 variants, each equal to the pytx dihedral CSV."""
    expected = _csv(vectors_dir, "pytx_pipeline_dihedral.csv")[AAA]
    _, doc = invoke("--mode", "reference", "--policy", "pytx", "--dihedral", vectors_dir / AAA)
    (r,) = doc["results"]
    assert set(r["dihedral"]) == set(DIHEDRAL_COLUMNS)
    assert r["dihedral"] == {ours: expected[col] for ours, col in DIHEDRAL_COLUMNS.items()}
    assert r["pdq"] == expected["orig"]
    assert r["quality"] == int(expected["quality"])


def test_cpp_resize_matches_cpp_reference_cli_csv(vectors_dir: Path) -> None:
    """``--cpp-resize --mode reference`` reproduces the C++ pdq-photo-hasher's hash."""
    expected = _csv(vectors_dir, "cpp_reference_cli.csv")[AAA]
    _, doc = invoke("--cpp-resize", "--mode", "reference", vectors_dir / AAA)
    (r,) = doc["results"]
    assert r["pdq"] == expected["hash"]
    assert r["quality"] == int(expected["quality"])
    assert "dihedral" not in r


def test_default_mode_small_jpegs_match_csv(vectors_dir: Path) -> None:
    """In the default (fast) mode 256 px JPEGs hash exactly as the CSV says, quality included."""
    expected = _csv(vectors_dir, "pytx_pipeline.csv")
    folder = vectors_dir / PDQ_IMAGES / "labelme-subset"
    code, doc = invoke(folder)
    assert code == 0
    assert [r["path"] for r in doc["results"]] == [str(p) for p in sorted(folder.glob("*.jpg"))]
    for r in doc["results"]:
        row = expected[Path(r["path"]).relative_to(vectors_dir).as_posix()]
        assert (r["pdq"], r["quality"]) == (row["hash"], int(row["quality"]))
        assert ("low-quality" in r["flags"]) == (int(row["quality"]) < 50)


# --- limits and flags --------------------------------------------------------------------


def test_max_pixels_refuses_larger_images(tmp_path: Path) -> None:
    """``--max-pixels 1000``: 100x100 is ``too-many-pixels``; 40x25 (exactly 1000) is hashed."""
    big = _write(tmp_path / "big.png", _encode(_textured(100, 100), "PNG"))
    at = _write(tmp_path / "at.png", _encode(_textured(40, 25), "PNG"))
    code, doc = invoke("--max-pixels", "1000", big, at)
    assert code == 1
    r_big, r_at = doc["results"]
    assert (r_big["status"], r_big["error"]["reason"]) == ("error", "too-many-pixels")
    assert r_big["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()
    assert r_at["status"] == "ok"
    assert doc["summary"]["errors_by_reason"] == {"too-many-pixels": 1}


def test_max_bytes_refuses_larger_files(tmp_path: Path) -> None:
    """``--max-bytes 10`` refuses a larger image as ``too-many-bytes``."""
    img = _write(tmp_path / "img.png", _encode(_textured(32, 32), "PNG"))
    code, doc = invoke("--max-bytes", "10", img)
    assert code == 1
    (r,) = doc["results"]
    assert (r["status"], r["error"]["reason"]) == ("error", "too-many-bytes")


def test_tiny_image_is_ok_but_flagged_too_small(tmp_path: Path) -> None:
    """A 3x3 image is hashed (digests) but has no PDQ: status ok, flag ``too-small``, exit 0."""
    path = _write(tmp_path / "tiny.png", _encode(_textured(3, 3), "PNG"))
    code, doc = invoke(path)
    assert code == 0
    (r,) = doc["results"]
    assert r["status"] == "ok"
    assert r["flags"] == ["too-small"]
    assert r["pdq"] is None
    assert r["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (r["width"], r["height"]) == (3, 3)
    assert doc["summary"]["flags"] == {"too-small": 1}


def test_near_flat_image_is_flagged_low_quality(tmp_path: Path) -> None:
    """A near-flat image gets flag ``low-quality`` and the quality ``pdqhash`` computes (< 50).

    Reference mode gives pdqhash's hash bit for bit; the fast mode (default) may flip a few
    near-tie bits of such a flat image, but reports the same quality.
    """
    rng = np.random.default_rng(7)
    grey = (128 + np.kron(rng.integers(-5, 6, (16, 16)), np.ones((8, 8), int))).astype(np.uint8)
    path = _write(tmp_path / "flat.png", _encode(np.repeat(grey[..., None], 3, -1), "PNG"))
    expected_pdq, expected_quality = _oracle(path)
    assert 0 < expected_quality < 50
    code, doc = invoke(path)
    ref_code, ref_doc = invoke("--mode", "reference", path)
    assert code == ref_code == 0
    (fast,), (ref,) = doc["results"], ref_doc["results"]
    for r in (fast, ref):
        assert r["status"] == "ok"
        assert r["flags"] == ["low-quality"]
        assert r["quality"] == expected_quality
    assert ref["pdq"] == expected_pdq
    assert bin(int(fast["pdq"], 16) ^ int(expected_pdq, 16)).count("1") <= 4
    assert doc["summary"]["flags"] == {"low-quality": 1}


def test_missing_path_is_reported_not_found(tmp_path: Path) -> None:
    """A path that does not exist is a ``not-found`` result; other paths still run; exit 1."""
    good = _write(tmp_path / "good.png", _encode(_textured(32, 32), "PNG"))
    missing = tmp_path / "no-such-file.jpg"
    proc = run("hash", "--json", "--workers", "1", missing, good)
    assert proc.returncode == 1
    first, second = json.loads(proc.stdout)["results"]
    assert first["path"] == str(missing)
    assert (first["status"], first["error"]["reason"]) == ("error", "not-found")
    assert second["status"] == "ok"


def test_symlink_in_folder_is_skipped_and_not_followed(tmp_path: Path) -> None:
    """A symlink inside a folder is reported ``skipped`` (not hashed); nothing failed, so exit 0."""
    outside = _write(tmp_path / "outside" / "target.png", _encode(_textured(32, 32), "PNG"))
    folder = tmp_path / "evidence"
    good = _write(folder / "a.png", _encode(_textured(40, 40, seed=1), "PNG"))
    (folder / "b-link.png").symlink_to(outside)
    (folder / "c-loop").symlink_to(folder, target_is_directory=True)
    proc = run("hash", "--json", "--workers", "1", folder)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(r["path"], r["status"]) for r in doc["results"]] == [
        (str(good), "ok"),
        (str(folder / "b-link.png"), "skipped"),
        (str(folder / "c-loop"), "skipped"),
    ]
    skipped = doc["results"][1]
    assert skipped["error"]["message"] == "symlink"
    assert skipped["sha256"] is None  # the link target was not read
    assert (doc["summary"]["skipped"], doc["summary"]["errors"]) == (2, 0)


def test_named_pipe_given_directly_does_not_hang(tmp_path: Path) -> None:
    """A FIFO named on the command line is refused (``not-a-file``) instead of blocking forever."""
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    good = _write(tmp_path / "good.png", _encode(_textured(32, 32), "PNG"))
    proc = run("hash", "--json", "--workers", "1", fifo, good)  # run() has a timeout
    assert proc.returncode == 1
    first, second = json.loads(proc.stdout)["results"]
    assert (first["status"], first["error"]["reason"]) == ("error", "not-a-file")
    assert second["status"] == "ok"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--workers", "0"], "--workers"),
        (["--workers", "two"], "--workers"),
        (["--mode", "nope"], "--mode"),
        (["--policy", "nope"], "--policy"),
        (["--max-pixels", "0"], "--max-pixels"),
        (["--max-bytes", "-1"], "--max-bytes"),
        ([], "PATHS"),
    ],
    ids=["workers-0", "workers-text", "mode", "policy", "max-pixels", "max-bytes", "no-paths"],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], option: str) -> None:
    """Bad option values and a missing PATH are usage errors: exit 2, stdout untouched."""
    paths = [] if option == "PATHS" else [str(tmp_path)]
    proc = run("hash", *args, *paths)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert option in proc.stderr
    assert "Traceback" not in proc.stderr


# --- progress ----------------------------------------------------------------------------


@pytest.fixture
def twelve(tmp_path: Path) -> Path:
    """A folder of 12 small PNG images."""
    folder = tmp_path / "twelve"
    for i in range(12):
        _write(folder / f"{i:02d}.png", _encode(_textured(24, 24, seed=i), "PNG"))
    return folder


def test_progress_forced_on_renders_count_and_rate(twelve: Path) -> None:
    """``--progress`` draws on stderr (even when not a terminal) with ``12/12`` and a rate."""
    proc = run("hash", "--progress", "--workers", "1", twelve)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 13  # header + 12 rows: no progress on stdout
    *bar, summary = proc.stderr.strip().splitlines()
    assert summary.startswith("12 files: 12 hashed")  # the summary line follows the bar
    rendering = "\n".join(bar)
    assert "hashing" in rendering
    assert "12/12" in rendering
    assert RATE.search(rendering), rendering


def test_progress_with_json_keeps_stdout_parseable(twelve: Path) -> None:
    """With ``--json --progress`` the bar is on stderr and stdout is still one JSON document."""
    proc = run("hash", "--json", "--progress", "--workers", "1", twelve)
    assert proc.returncode == 0
    assert len(json.loads(proc.stdout)["results"]) == 12
    assert "12/12" in proc.stderr
    assert RATE.search(proc.stderr)


@pytest.mark.parametrize("flag", ["--no-progress", None], ids=["no-progress", "default"])
def test_no_progress_when_disabled_or_not_a_terminal(twelve: Path, flag: str | None) -> None:
    """``--no-progress``, and the default when stderr is not a terminal, draw no progress."""
    proc = run("hash", "--workers", "1", *([flag] if flag else []), twelve)
    assert proc.returncode == 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1  # the summary line only
    assert lines[0].startswith("12 files: 12 hashed")
    assert "12/12" not in proc.stderr
    assert "hashing" not in proc.stderr
    json_run = run("hash", "--json", "--workers", "1", *([flag] if flag else []), twelve)
    assert json_run.stderr == ""  # with --json the summary is in the document


# --- workers -----------------------------------------------------------------------------


def test_two_workers_give_byte_identical_results(tree: Path, tmp_path: Path) -> None:
    """``--workers 2`` writes exactly the ``results`` bytes of ``--workers 1`` (timing aside)."""
    extra = tmp_path / "extra"
    for i in range(6):  # mixed costs, so that workers finish out of order
        size = 480 if i % 2 else 24
        _write(extra / f"{i}.jpg", _encode(_textured(size, size, seed=i), "JPEG"))
    one = run("hash", "--json", "--workers", "1", tree, extra)
    two = run("hash", "--json", "--workers", "2", tree, extra)
    assert one.returncode == two.returncode == 1
    results_one, _, summary_one = one.stdout.partition('\n"summary": ')
    results_two, _, summary_two = two.stdout.partition('\n"summary": ')
    assert results_one.startswith('{"results": [')
    assert results_two == results_one
    timing = {"seconds", "files_per_second"}
    s1, s2 = json.loads(summary_one[:-2]), json.loads(summary_two[:-2])
    assert {k: v for k, v in s1.items() if k not in timing} == {
        k: v for k, v in s2.items() if k not in timing
    }
    assert len(json.loads(two.stdout)["results"]) == len(TREE) + 6


def test_two_workers_table_output(tree: Path) -> None:
    """The table output with ``--workers 2`` lists the same rows in the same order."""
    one = run("hash", "--workers", "1", tree)
    two = run("hash", "--workers", "2", tree)
    assert two.returncode == 1
    assert two.stdout == one.stdout

"""Saving an index beside the database, and opening it again without trusting it.

Layout of an index directory::

    manifest.json          format, version, counts, layout, caller state, and for
                           each array: file name, dtype, shape, sha256
    <name>-<gen>.npy       one plain .npy per array (no pickles), ``gen`` a random
                           generation tag so a new save never overwrites the
                           files the current manifest points to

Why this shape:

* ``.npy`` files are opened with ``np.load(mmap_mode="r", allow_pickle=False)``:
  opening maps them instead of reading 1.3 GB, and a file from another machine
  (a shared index) can never run code while being read.
* The sha256 of every array is checked on load: a truncated copy, a flipped
  byte or an edited manifest raises ``IndexCorrupt`` instead of silently
  answering "not seen before". (A checksum is not a signature: someone who can
  write the directory can rewrite the manifest too. Build from the database when
  the index comes from an untrusted place.)
* Saving is atomic where it matters: new arrays are written and fsynced under new
  names, then ``manifest.json`` is replaced with ``os.replace`` (atomic on POSIX),
  then the previous generation's files are deleted. A kill at any point leaves
  either the old or the new manifest, each pointing at complete files. (Renaming
  a temporary directory over the old one is not atomic: ``rename`` refuses a
  non-empty target, and remove-then-rename has a window with no index at all.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tessera.errors import IndexCorrupt

FORMAT = "tessera.pdq-index"
VERSION = 1
MANIFEST = "manifest.json"
_HASH_BLOCK = 1 << 22


@dataclass(frozen=True)
class Stored:
    """What ``read`` returns: the manifest's ``meta`` and the arrays by name."""

    meta: dict[str, Any]
    arrays: dict[str, NDArray[Any]]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(path: Path, meta: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> None:
    """Write ``arrays`` and a manifest carrying ``meta`` into directory ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    gen = secrets.token_hex(6)
    files: dict[str, dict[str, Any]] = {}
    for name, arr in arrays.items():
        fname = f"{name}-{gen}.npy"
        target = path / fname
        with target.open("wb") as f:
            np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        files[name] = {
            "file": fname,
            "dtype": np.dtype(arr.dtype).str,
            "shape": list(arr.shape),
            "sha256": sha256_file(target),
        }
    _fsync_dir(path)  # the new files' names are durable before the manifest names them
    manifest = {"format": FORMAT, "version": VERSION, "generation": gen, **meta, "files": files}
    tmp = path / f".{MANIFEST}.{gen}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path / MANIFEST)
    _fsync_dir(path)
    # Remove earlier generations (and leftovers of interrupted saves); only files
    # named the way this module names them, never anything else in the directory.
    ours = re.compile(
        rf"^(?:(?:{'|'.join(map(re.escape, arrays))})-[0-9a-f]{{12}}\.npy"
        rf"|\.{re.escape(MANIFEST)}\.[0-9a-f]{{12}}\.tmp)$"
    )
    keep = {spec["file"] for spec in files.values()}
    for old in path.iterdir():
        if old.name not in keep and ours.match(old.name):
            with contextlib.suppress(OSError):
                old.unlink()


def read(path: Path, *, mmap: bool = True, verify: bool = True) -> Stored:
    """Open an index directory; ``IndexCorrupt`` on anything missing or inconsistent."""
    mpath = path / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"no index at {path} ({MANIFEST} missing)") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"unreadable index manifest {mpath}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorrupt(f"{mpath} is not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise IndexCorrupt(f"{mpath}: unsupported index version {manifest.get('version')!r}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexCorrupt(f"{mpath}: no file table")
    arrays: dict[str, NDArray[Any]] = {}
    for name, spec in files.items():
        arrays[name] = _read_array(path, name, spec, mmap=mmap, verify=verify)
    meta = {k: v for k, v in manifest.items() if k != "files"}
    return Stored(meta, arrays)


def _read_array(path: Path, name: str, spec: object, *, mmap: bool, verify: bool) -> NDArray[Any]:
    if not isinstance(spec, dict) or not {"file", "dtype", "shape", "sha256"} <= spec.keys():
        raise IndexCorrupt(f"index manifest: bad entry for {name!r}")
    fname = spec["file"]
    if not isinstance(fname, str) or "/" in fname or "\\" in fname or fname.startswith("."):
        raise IndexCorrupt(f"index manifest: bad file name for {name!r}")
    fpath = path / fname
    try:
        if verify and sha256_file(fpath) != spec["sha256"]:
            raise IndexCorrupt(f"{fpath}: checksum mismatch (file damaged or modified)")
        shape = spec["shape"]
        empty = isinstance(shape, list) and 0 in shape
        arr = np.load(fpath, mmap_mode="r" if mmap and not empty else None, allow_pickle=False)
    except IndexCorrupt:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise IndexCorrupt(f"{fpath}: cannot read array {name!r}: {exc}") from exc
    if not isinstance(arr, np.ndarray):
        raise IndexCorrupt(f"{fpath}: not a single array")
    if arr.dtype.str != spec["dtype"] or list(arr.shape) != spec["shape"]:
        raise IndexCorrupt(
            f"{fpath}: {arr.dtype.str} {list(arr.shape)} does not match the manifest"
            f" ({spec['dtype']} {spec['shape']})"
        )
    return arr


__all__ = ["Stored", "read", "write"]

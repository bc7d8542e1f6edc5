"""File results as plain typed values (MessagePack), for results that cross machines.

Results computed on a Dask worker (``--cluster``) come back to the one process that
writes the database as MessagePack bytes built from plain values (text, numbers,
bytes, lists, maps), never as pickles: the client decodes them with
:func:`decode`, which builds :class:`FileResult` values field by field and refuses
anything else (an unknown field, a wrong type) with :class:`InvalidInput`. So a
worker, even a compromised one, can send wrong fingerprints but cannot run code in
the process that holds the database.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import msgpack

from tessera.errors import InvalidInput
from tessera.fingerprints.vpdq import FrameHash
from tessera.pipeline.result import FileResult

FORMAT = 1
_FIELDS = {f.name for f in dataclasses.fields(FileResult)}
_STR = {"path", "md5", "sha1", "sha256", "pdq", "format", "reason", "message", "kind", "audio"}
_STR |= {"text_language"}
_INT = {"size", "quality", "width", "height", "decode_scale"}
_STR_MAPS = {"dihedral", "trimmed"}  # PDQ variants: name -> hex
_OTHER = {"status", "duration", "features", "features_mirrored", "flags", "crop", "metadata"}
_OTHER |= {"copy_features", "layout"}
_OTHER |= {"frames", "frame_features", "text"}
HANDLED = _STR | _INT | _STR_MAPS | _OTHER
"""Every field the wire carries: a FileResult field outside it fails the test suite
(tests/pipeline/test_wire.py), so a new field is never dropped silently."""
_STATUSES = ("ok", "error", "skipped")


def _plain(r: FileResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(r, name)
        if value is None or (value == () and name == "flags"):
            continue
        if name == "frames":
            value = [[f.frame_number, f.quality, f.pdq, f.timestamp] for f in value]
        elif name == "frame_features":
            value = [[float(t), bytes(b)] for t, b in value]
        elif name in _STR_MAPS or name == "metadata":
            value = dict(value)
        elif name in ("flags", "crop"):
            value = list(value)
        elif name == "text":
            value = [list(w) for w in value]
        out[name] = value
    return out


def encode(results: Iterable[FileResult]) -> bytes:
    """MessagePack bytes of ``results`` (a list of plain maps under a format number)."""
    out: bytes = msgpack.packb(
        {"format": FORMAT, "results": [_plain(r) for r in results]}, use_bin_type=True
    )
    return out


def _bad(what: str) -> InvalidInput:
    return InvalidInput(f"result from a worker: {what}", reason="invalid-result")


def _typed(name: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise _bad(f"field {name!r} has the wrong type")
    return value


def _result(raw: Any) -> FileResult:
    if not isinstance(raw, Mapping):
        raise _bad("not a map")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise _bad(f"unknown fields {sorted(map(str, unknown))}")
    kw: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _STR:
            kw[name] = _typed(name, value, str)
        elif name in _INT:
            kw[name] = _typed(name, value, int)
        elif name == "status":
            if value not in _STATUSES:
                raise _bad(f"status {value!r}")
            kw[name] = value
        elif name == "duration":
            kw[name] = float(_typed(name, value, (int, float)))
        elif name in ("features", "features_mirrored", "copy_features", "layout"):
            kw[name] = _typed(name, value, bytes)
        elif name == "flags":
            kw[name] = tuple(_typed(name, v, str) for v in _typed(name, value, list))
        elif name == "crop":
            crop = tuple(_typed(name, v, int) for v in _typed(name, value, list))
            if len(crop) != 4:
                raise _bad("crop is not 4 numbers")
            kw[name] = crop
        elif name in _STR_MAPS:
            d = _typed(name, value, dict)
            kw[name] = {_typed(name, k, str): _typed(name, v, str) for k, v in d.items()}
        elif name == "metadata":
            kw[name] = _typed(name, value, dict)
        elif name == "frames":
            frames = []
            for f in _typed(name, value, list):
                n, q, pdq, t = _typed(name, f, list)
                frames.append(
                    FrameHash(
                        _typed(name, n, int),
                        _typed(name, q, int),
                        _typed(name, pdq, bytes),
                        float(_typed(name, t, (int, float))),
                    )
                )
            kw[name] = tuple(frames)
        elif name == "frame_features":
            ff = []
            for item in _typed(name, value, list):
                t, blob = _typed(name, item, list)
                t = float(_typed(name, t, (int, float)))
                if not math.isfinite(t):
                    raise _bad("frame time is not finite")
                ff.append((t, _typed(name, blob, bytes)))
            kw[name] = tuple(ff)
        elif name == "text":
            words = []
            for w in _typed(name, value, list):
                x, y, ww, hh, txt, conf = _typed(name, w, list)
                words.append(
                    (
                        _typed(name, x, int),
                        _typed(name, y, int),
                        _typed(name, ww, int),
                        _typed(name, hh, int),
                        _typed(name, txt, str),
                        float(_typed(name, conf, (int, float))),
                    )
                )
            kw[name] = tuple(words)
        else:  # a FileResult field this wire does not know: refuse, never drop
            raise _bad(f"field {name!r} is not carried")
    if "path" not in kw or "status" not in kw:
        raise _bad("path or status missing")
    return FileResult(**kw)


def decode(data: bytes) -> list[FileResult]:
    """The results in ``data`` (from :func:`encode`); InvalidInput if malformed."""
    try:
        raw = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise _bad(f"not MessagePack ({exc})") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise _bad("unknown format")
    results = raw.get("results")
    if not isinstance(results, list):
        raise _bad("no result list")
    try:
        return [_result(r) for r in results]
    except (TypeError, ValueError) as exc:  # wrong arity in a nested list, bad frame
        raise _bad(str(exc)) from exc


__all__ = ["FORMAT", "decode", "encode"]

"""NCMEC hash-sharing API (v2) XML, read only: images, videos, fingerprints, deletions.

A ``queryResult`` holds ``<images>`` and ``<videos>``; each ``<image>``/``<video>``
has an ``<id>``, a ``<member id="..">`` (who shared it), an optional
``<classification>`` (e.g. ``A1``) and ``<fingerprints>`` with ``<md5>``, ``<sha1>``,
``<pdna>``, ``<pdq>``, ``<netclean>``, ``<videntifier>``, ``<tmk-pdqf>``...;
``<deletedImage>``/``<deletedVideo>`` withdraw an id (python-threatexchange's
``hash_api.py`` and its test data show the shapes). Large fingerprints may arrive
as links (``href``) without a value: they are not hashes and are skipped.

The file is parsed with ``defusedxml`` (no DTDs, entities or external references:
billion-laughs and XXE files are refused) as a stream: each entry is cleared once
read, so memory stays flat on large pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from tessera.errors import InvalidInput
from tessera.exchange.model import ExchangeRecord, OpaqueHash, RecordError, build_record
from tessera.exchange.textio import check_start

_ENTRIES = {"image": ("image", False), "video": ("video", False)}
_ENTRIES.update({"deletedimage": ("image", True), "deletedvideo": ("video", True)})
_FINGERPRINTS = {"md5": "md5", "sha1": "sha1", "pdna": "photodna", "pdq": "pdq"}
_NAMES = {
    "md5": "fingerprints/md5",
    "sha1": "fingerprints/sha1",
    "photodna": "fingerprints/pdna",
    "pdq": "fingerprints/pdq",
    "source_id": "id",
    "classification": "classification",
    "collab": "member",
}


def _local(tag: Any) -> str:
    return str(tag).rpartition("}")[2]


def read(stream: BinaryIO) -> Iterator[ExchangeRecord]:
    start = stream.tell()
    check_start(stream.read(4))  # UTF-16/32 refused; expat handles a UTF-8 BOM itself
    stream.seek(start)
    number = 0
    stack: list[Any] = []
    try:
        for event, elem in iterparse(stream, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                if not stack and _local(elem.tag) not in ("queryResult", "images", "videos"):
                    raise InvalidInput(f"NCMEC XML: unexpected root element <{_local(elem.tag)}>")
                stack.append(elem)
                if len(stack) > 32:
                    raise RecordError("XML nested too deeply", record=number + 1)
                continue
            stack.pop()
            name = _local(elem.tag).lower()
            if name in _ENTRIES and len(stack) in (1, 2):
                number += 1
                yield _entry(elem, number)
                stack[-1].remove(elem)  # keep memory flat: drop what was read
    except DefusedXmlException as exc:
        raise InvalidInput(f"NCMEC XML refused: {type(exc).__name__} (entities/DTD)") from None
    except SyntaxError as exc:  # xml.etree.ElementTree.ParseError
        line = getattr(exc, "position", (None,))[0]
        raise RecordError(f"not well-formed XML ({exc})", record=number + 1, line=line) from None


def _entry(elem: Any, number: int) -> ExchangeRecord:
    kind, deleted = _ENTRIES[_local(elem.tag).lower()]
    values: dict[str, Any] = {"kind": kind, "deleted": deleted}
    others: list[OpaqueHash] = []
    for child in elem:
        tag = _local(child.tag)
        text = (child.text or "").strip()
        if tag == "id":
            values["source_id"] = text or None
        elif tag == "member":
            member_id = (child.get("id") or "").strip()
            values["collab"] = f"ncmec:{member_id}" if member_id else (text or None)
        elif tag == "classification":
            values["classification"] = text or None
        elif tag == "fingerprints":
            for fp in child:
                fname = _local(fp.tag).lower()
                value = (fp.text or "").strip()
                if not value:
                    continue  # a link to a large fingerprint, not the value
                if fname in _FINGERPRINTS:
                    values[_FINGERPRINTS[fname]] = value
                else:
                    try:
                        others.append(OpaqueHash(name=fname, value=value))
                    except ValueError as exc:
                        msg = str(exc).splitlines()[-1].strip()
                        raise RecordError(
                            msg, record=number, field=f"fingerprints/{fname}"
                        ) from None
    if others:
        values["other_hashes"] = tuple(others)
    record = build_record(values, record=number, names=_NAMES)
    if not record.source_id:
        raise RecordError("entry without an id", record=number, field="id")
    if not deleted and not record.identity():
        raise RecordError("entry without fingerprints", record=number, field="fingerprints")
    return record


__all__ = ["read"]

"""Recognising an archive from its first bytes (content, never the name)."""

from __future__ import annotations

from tessera.pipeline.archives.member import ArchiveKind


def _tar_checksum_ok(block: bytes) -> bool:
    """True if ``block`` is a tar header with a valid checksum (pre-POSIX tars too)."""
    if len(block) < 512 or not any(block[:512]):
        return False
    field = block[148:156].replace(b"\x00", b" ").strip()
    if not field or any(c not in b"01234567" for c in field):
        return False
    stored = int(field, 8)
    header = block[:148] + b" " * 8 + block[156:512]
    unsigned = sum(header)
    signed = unsigned - 256 * sum(1 for b in header if b > 127)
    return stored in (unsigned, signed)


def is_archive(head: bytes) -> ArchiveKind | None:
    """The archive format of content starting with ``head`` (pass 512 bytes), or None.

    Returns ``"zip"``, ``"7z"``, ``"tar"``, ``"gzip"``, ``"bz2"`` or ``"xz"``. A gzip,
    bzip2 or xz stream may hold a tar; :func:`iter_archive` finds that out. An empty tar
    (only end-of-archive blocks) carries no magic and is not recognised.
    """
    # Tar first: a tar begins with its first member's *name*, which can be anything
    # (a member called "BM..." or "GIF89a..." looks like an image to a plain sniffer).
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if _tar_checksum_ok(head):
        return "tar"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if (
        head.startswith(b"BZh")
        and len(head) >= 4
        and head[3:4] in b"123456789"
        and (len(head) < 10 or head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"))
    ):
        return "bz2"
    return None

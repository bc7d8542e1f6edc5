"""Names from seized media made safe to show: terminals, JSON and HTML.

File names are attacker-chosen bytes. On POSIX, Python turns bytes that are not
UTF-8 into lone surrogates (``\\udcff``); printed raw they crash a UTF-8 stream or,
in JSON, become ``\\udcff`` escapes that strict parsers refuse. Control characters
(ESC starts ANSI/OSC sequences: retitling the terminal, hiding text, faking links),
C1 controls and bidirectional overrides let a name rewrite what an investigator
reads. Everything shown is passed through here: an undecodable byte becomes the
text ``\\xff`` and a control character its ``\\x1b`` / ``\\u202e`` escape, so the
name stays recognisable and nothing in it acts on the display.
"""

from __future__ import annotations

import re
from typing import Any

# DEL, C1, bidi controls, and surrogates (undecodable bytes, or garbage); C0 below
_OTHERS = "\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")  # newline and tab kept
_UNSAFE_WITH_LINES = re.compile(f"[\x00-\x1f{_OTHERS}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{c - 0xDC00:02x}"
    return f"\\x{c:02x}" if c <= 0xFF else f"\\u{c:04x}"


def for_terminal(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control, bidi and undecodable character escaped.

    ``keep_lines`` leaves newline and tab alone (whole messages); names never keep
    them, so a name cannot fake a row of a table.
    """
    return (_UNSAFE if keep_lines else _UNSAFE_WITH_LINES).sub(_escape, text)


def valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (undecodable name bytes) written as ``\\xNN``,
    so it encodes to UTF-8 and to JSON without surrogate escapes."""
    return _SURROGATE.sub(_escape, text) if _SURROGATE.search(text) else text


def json_safe(value: Any) -> Any:
    """``value`` (dicts, lists, strings...) with every string made ``valid_unicode``."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


__all__ = ["for_terminal", "json_safe", "valid_unicode"]

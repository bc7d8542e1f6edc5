"""stdout and stderr that never pass a control sequence from a name to the terminal.

Every human-readable line Tessera prints can carry attacker-chosen text (file,
member, series or agency names). Rather than trusting each ``echo`` to escape its
arguments, ``install`` wraps both streams once per process: control, bidi and
undecodable characters are written as visible escapes (``tessera.safe_text``);
newline and tab pass. JSON output is unaffected (``json.dumps`` already escapes
every control character). The progress bar writes to the raw stream
(``raw_stderr``), since its own cursor movements are not names.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tessera.safe_text import for_terminal


class EscapingWriter:
    """A text stream writing through ``for_terminal(..., keep_lines=True)``."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(for_terminal(text, keep_lines=True))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    @property
    def encoding(self) -> str:
        return self.raw.encoding

    @property
    def errors(self) -> str | None:
        return self.raw.errors

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":  # bytes would bypass the escaping: none offered
            raise AttributeError(name)
        return getattr(self.raw, name)


def install() -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` (idempotent)."""
    if not isinstance(sys.stdout, EscapingWriter):
        sys.stdout = EscapingWriter(sys.stdout)
    if not isinstance(sys.stderr, EscapingWriter):
        sys.stderr = EscapingWriter(sys.stderr)


def raw_stderr() -> TextIO:
    """The unwrapped stderr, for the progress bar's own escape sequences."""
    err = sys.stderr
    return err.raw if isinstance(err, EscapingWriter) else err


__all__ = ["EscapingWriter", "install", "raw_stderr"]

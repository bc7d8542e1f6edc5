"""Progress of long use cases (ingest, triage, hash), reported stage by stage.

A use case calls ``begin(label)``, then ``set_total`` / ``advance`` as work is
found and done, then ``end()``; interfaces render it (the CLI as a bar on stderr,
the API later as job status). ``SILENT`` ignores everything.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def begin(self, label: str, total: int | None = None) -> None: ...

    def set_total(self, n: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def end(self) -> None: ...


class _Silent:
    def begin(self, label: str, total: int | None = None) -> None:
        pass

    def set_total(self, n: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def end(self) -> None:
        pass


SILENT: Progress = _Silent()

__all__ = ["SILENT", "Progress"]

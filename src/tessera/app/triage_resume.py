"""Resuming ``tessera triage`` after a kill: the run's journal under the home folder.

A seizure's triage takes hours; re-running the same command after a crash, Ctrl-C
or reboot goes on where it stopped. The journal (``tessera.matching.triage.journal``)
lives in ``HOME/triage-runs/<key>/``, private like the indexes, where ``<key>`` is a
digest of everything that decides the results: the resolved paths, the options that
change answers, the caller whose sharing rules apply, the database and the decode
limits. Another option value, another caller or another database is another run.
The journal is removed once the run's report is made.

Journaled top-level paths whose size and mtime_ns are unchanged are not read again
(left out of the fingerprinting pool, ``run_found(skip=...)``); their results are
fed back in their walk-order places. A journal that cannot be written costs the run
nothing but its resumability: one note, and the run goes on without it.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.matching.scene_triage import Related
from tessera.matching.triage.decided import Decided
from tessera.matching.triage.journal import Journal, Top, file_stat
from tessera.matching.triage.run import VERDICT_CHUNK
from tessera.pipeline.label import path_label
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.result import FileResult
from tessera.pipeline.run import run_found
from tessera.pipeline.walk import iter_files

RUNS_DIR = "triage-runs"
"""Under the home folder: one folder per unfinished triage run."""


def run_key(app: App, caller: Caller, paths: Sequence[Path], options: dict[str, object]) -> str:
    """The digest naming a run: what its results depend on (``options``: every
    option that changes answers, by name)."""
    doc = {
        "paths": [str(Path(p).resolve()) for p in paths],
        "options": options,
        "caller": [str(caller.role), caller.user_id, caller.agency_code],
        "database": app.settings.database_url,
        "limits": repr(app.settings.decode_limits),
    }
    text = json.dumps(doc, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Resume:
    """One triage run's journal as the run uses it; without one (it could not be
    opened or written) every method does nothing and nothing is resumed."""

    def __init__(self, journal: Journal | None, note: Callable[[str], None]) -> None:
        self._journal = journal
        self._note = note
        self._pending: deque[Top] = deque()
        self.files = 0
        """Files (results) taken from the journal instead of read again."""
        self.leads = 0
        """Files whose leads were taken from the journal instead of searched again."""

    @classmethod
    def open(
        cls, app: App, key: str, *, fresh: bool = False, note: Callable[[str], None]
    ) -> Resume:
        """The run ``key``'s journal (``fresh``: an earlier one discarded)."""
        folder = app.settings.home / RUNS_DIR / key
        try:
            journal = Journal.open(folder, key, fresh=fresh)
        except BlockingIOError:
            note(
                "another triage of the same paths and options holds its journal; "
                "this run will not be resumable"
            )
            return cls(None, note)
        except OSError as exc:
            note(f"triage journal in {folder} not usable ({exc}); this run will not be resumable")
            return cls(None, note)
        return cls(journal, note)

    def _failed(self, exc: Exception) -> None:
        assert self._journal is not None
        self._note(
            f"triage journal {self._journal.path} not written ({exc}); "
            "from here on this run will not be resumable"
        )
        self._journal.close()
        self._journal = None

    def walk(
        self,
        paths: Sequence[Path],
        options: ExpandOptions,
        *,
        workers: int,
        cluster: str | None = None,
        on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        on_resumed: Callable[[int], None] | None = None,
    ) -> Iterator[FileResult | Decided]:
        """Every result under ``paths`` in walk order, as ``run_paths`` gives them,
        except that a top-level path the journal holds (unchanged) is not read: its
        journaled results come in its place (``on_resumed(files)`` says how many, if
        any, before the first; each such path counts as done for ``on_progress``)."""
        found = list(iter_files(paths))
        if on_total:
            on_total(len(found))
        stats = [file_stat(f.path) if f.skip_reason is None else None for f in found]
        labels = [path_label(f.path) for f in found]
        done: dict[str, list[Decided]] = {}
        if self._journal is not None:
            for label, stat in zip(labels, stats, strict=True):
                taken = self._journal.decided(label, stat)
                if taken is not None:
                    done[label] = taken
        self.files = sum(len(v) for v in done.values())
        if self.files and on_resumed:
            on_resumed(self.files)
        groups = run_found(
            found,
            options,
            workers=workers,
            skip=done.__contains__,
            cluster=cluster,
            ahead=VERDICT_CHUNK,  # the pool works on while a chunk is decided
        )
        for label, stat in zip(labels, stats, strict=True):
            if label in done:
                yield from done[label]
            else:  # a large archive's results in pieces: how many is known at its last
                complete, n = False, 0
                while not complete:
                    group = next(groups)
                    complete, n = group.complete, n + len(group.results)
                    top = Top(label, stat, n if complete else None)
                    for r in group.results:
                        self._pending.append(top)
                        yield r
            if on_progress:
                on_progress(1)

    def decided(self, chunk: Sequence[Decided]) -> None:
        """Journal a verdict chunk's newly decided files (``triage(on_decided=...)``)."""
        tops = [self._pending.popleft() for _ in chunk]
        if self._journal is None:
            return
        try:
            self._journal.add_verdicts(list(zip(tops, chunk, strict=True)))
        except (OSError, TypeError, ValueError) as exc:
            self._failed(exc)

    def leads_of(self, label: str) -> list[Related] | None:
        """The journaled leads of the file ``label``, or None (search it)."""
        if self._journal is None:
            return None
        return self._journal.leads(label)

    def lead(self, label: str, related: Sequence[Related]) -> None:
        """Journal one searched file's leads."""
        if self._journal is None:
            return
        try:
            self._journal.add_leads(label, related)
        except (OSError, TypeError, ValueError) as exc:
            self._failed(exc)

    def finish(self) -> None:
        """The run's report is made: the journal goes."""
        if self._journal is None:
            return
        try:
            self._journal.remove()
        except OSError as exc:
            self._note(f"triage journal {self._journal.path} not removed ({exc})")
        self._journal = None

    def close(self) -> None:
        """The run stops before its report (the journal stays, for a re-run)."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def __enter__(self) -> Resume:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["RUNS_DIR", "Resume", "run_key"]

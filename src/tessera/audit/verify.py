"""Re-checking the whole audit log: the leaves, the tree and every signed checkpoint.

Each entry row stores its leaf hash and the tree root after it; each checkpoint is
a signed note over (size, root). Walking the rows in order we recompute every leaf
from the row's content and every root from the leaves, and stop at the first
disagreement, naming the entry:

* a row whose content no longer gives its leaf hash was **edited** (also a moved
  or renumbered row: the sequence number is part of the leaf);
* a gap in the sequence numbers is a **deleted** entry;
* a leaf hash edited to match edited content breaks the stored root chain there;
* a rewrite that recomputes every hash and root after it still cannot re-sign: the
  first checkpoint after it fails, naming the first entry it covers that is not
  covered by an earlier, verified checkpoint;
* fewer rows than a checkpoint or the log head count is a **truncation**.

Deleting rows *and* their checkpoints *and* the head together cannot be seen from
inside one database; a checkpoint kept elsewhere (another node, a printout) can
(``tessera audit verify --checkpoint FILE``, ``tessera.app.audit.verify``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tessera.audit.checkpoint import Checkpoint
from tessera.audit.entry import AuditRecord
from tessera.audit.merkle import Frontier
from tessera.audit.note import NoteError, Verifier


@dataclass(frozen=True)
class StoredEntry:
    record: AuditRecord
    leaf_hash: bytes
    root: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Break:
    """The first place the log stops verifying."""

    seq: int
    """The first entry that cannot be trusted (1-based)."""
    kind: str
    """``edited``, ``deleted``, ``reordered``, ``rewritten``, ``truncated``, ``bad-signature``."""
    message: str


@dataclass
class VerifyReport:
    entries: int = 0
    checkpoints: int = 0
    """Checkpoints whose signature and root were verified."""
    last_checkpoint_size: int = 0
    root: bytes = b""
    broken: Break | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_log(
    entries: Iterable[StoredEntry],
    checkpoints: Iterable[StoredCheckpoint],
    verifier: Verifier,
    *,
    origin: str,
    head_size: int | None = None,
) -> VerifyReport:
    """Verify ``entries`` (ordered by seq) against ``checkpoints`` (any order)."""
    report = VerifyReport()
    cps: Iterator[StoredCheckpoint] = iter(sorted(checkpoints, key=lambda c: c.size))
    pending = next(cps, None)
    frontier = Frontier()
    verified_size = 0

    def fail(seq: int, kind: str, message: str) -> VerifyReport:
        report.broken = Break(seq, kind, message)
        report.entries = frontier.size
        report.root = frontier.root()
        return report

    while pending is not None and pending.size == 0:
        pending = next(cps, None)
    for entry in entries:
        expected = frontier.size + 1
        seq = entry.record.seq
        if seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}-{seq - 1}"
            return fail(expected, "deleted", f"entry {missing} is missing (next is {seq})")
        if seq < expected:
            return fail(seq, "reordered", f"entry {seq} appears again after entry {expected - 1}")
        leaf = entry.record.leaf_hash()
        if leaf != entry.leaf_hash:
            return fail(
                seq, "edited", f"entry {seq} was changed: its content no longer hashes to its leaf"
            )
        frontier.append(leaf)
        root = frontier.root()
        if root != entry.root:
            return fail(
                seq, "edited", f"entry {seq}: the tree root after it differs from the stored one"
            )
        while pending is not None and pending.size == frontier.size:
            first = verified_size + 1
            span = f"entry {first}" if first == seq else f"entries {first}-{seq}"
            try:
                cp = Checkpoint.open(pending.note, verifier)
            except NoteError as exc:
                return fail(
                    first, "bad-signature", f"checkpoint at size {pending.size}: {exc.message}"
                )
            if cp.origin != origin or cp.size != pending.size or cp.root != pending.root:
                return fail(
                    first,
                    "bad-signature",
                    f"checkpoint at size {pending.size} does not say what its row says",
                )
            if cp.root != root:
                return fail(
                    first,
                    "rewritten",
                    f"{span} no longer match the checkpoint signed at size {cp.size}: "
                    f"the log was rewritten from entry {first} on at the latest",
                )
            verified_size = frontier.size
            report.checkpoints += 1
            pending = next(cps, None)
    report.entries = frontier.size
    report.root = frontier.root()
    report.last_checkpoint_size = verified_size
    if pending is not None:
        return fail(
            frontier.size + 1,
            "truncated",
            f"the log ends after entry {frontier.size} but a checkpoint was signed at size "
            f"{pending.size}: entries {frontier.size + 1}-{pending.size} were removed",
        )
    if head_size is not None and head_size != frontier.size:
        return fail(
            min(head_size, frontier.size) + 1,
            "truncated",
            f"the log head counts {head_size} entries but {frontier.size} are stored",
        )
    if verified_size < frontier.size:
        report.notes.append(
            f"entries {verified_size + 1}-{frontier.size} are not yet covered by a signed "
            "checkpoint"
        )
    return report


__all__ = ["Break", "StoredCheckpoint", "StoredEntry", "VerifyReport", "verify_log"]

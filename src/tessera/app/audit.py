"""The audit trail: every write and every service call leaves a signed, chained record.

``record`` appends who (user, agency, role), what (action, target, series), a
SHA-256 digest of the parameters, how many results, when and the request id to
the append-only log (``storage.audit_log``), as a leaf of an RFC 9162 Merkle
tree, and signs a C2SP checkpoint of the new tree with the node key
(``HOME/keys/node.key``, made by ``tessera init``). Record inside the
transaction of the change it describes (``record_in``) so both commit or neither.

Checkpoints are signed every ``CHECKPOINT_EVERY`` entries (default: each one, so
``tessera audit verify`` names the exact entry even after a rewrite that
recomputed every hash). A node whose key is missing still records and chains
entries; ``verify`` then reports them as not covered by a signature.
"""

from __future__ import annotations

import os
import pwd
import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from tessera.app.batch_writer import BatchWriter
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.audit import merkle
from tessera.audit.checkpoint import Checkpoint
from tessera.audit.entry import params_digest
from tessera.audit.node_key import create_node_key, key_path, load_node_key
from tessera.audit.note import NoteError, Signer
from tessera.audit.verify import Break, verify_log
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tessera.storage import audit_log
from tessera.storage.db import Session

CHECKPOINT_EVERY = 1
_signers: dict[Path, Signer] = {}


def node_signer(app: App) -> Signer | None:
    """The node key of ``app``'s home (cached per process), or None if there is none."""
    home = app.settings.home.resolve()
    if home not in _signers:
        if not key_path(home).exists():
            return None
        _signers[home] = load_node_key(home)
    return _signers[home]


class NodeKey(Result):
    """The node's public identity (``tessera init``, ``tessera node key``)."""

    verifier_key: str
    """``<name>+<hex id>+<base64 key>``: give it to whoever checks our checkpoints."""
    key_file: Path
    created: bool


def ensure_node_key(app: App, name: str | None = None) -> NodeKey:
    """Create the node key in the home if it has none (``tessera init``)."""
    home = app.settings.home
    if name is None:
        with app.transaction() as s:
            name = f"tessera-node/{audit_log.instance_id(s)[:16]}"
    signer, created = create_node_key(home, name)
    _signers[home.resolve()] = signer
    return NodeKey(verifier_key=signer.verifier.text(), key_file=key_path(home), created=created)


def node_verifier_text(app: App) -> str:
    """The public verifier key; ``ConfigError`` when the node has no key yet."""
    return load_node_key(app.settings.home).verifier.text()


def origin_of(signer: Signer) -> str:
    """The checkpoint origin line: the node's key name and ``/audit``."""
    return f"{signer.name}/audit"


def _local_user() -> str:
    try:
        return f"local:{pwd.getpwuid(os.getuid()).pw_name}"
    except KeyError:
        return f"local:uid-{os.getuid()}"


def actor(caller: Caller) -> str:
    """How the log names the caller: the account's e-mail, else the OS user."""
    return caller.email or _local_user()


class AuditEntryView(Result):
    seq: int
    at: Timestamp
    user: str
    agency: str | None
    role: str
    action: str
    target: str | None
    series: str | None
    params_digest: str
    result_count: int | None
    request_id: str


@dataclass(frozen=True)
class Pending:
    """An entry taken now and appended later with others (``record_batch``)."""

    entry: audit_log.NewEntry


def pending(
    caller: Caller,
    action: str,
    *,
    target: str | None = None,
    series: str | None = None,
    params: Any = None,
    result_count: int | None = None,
) -> Pending:
    """Describe a call now (its time is now); append it later with ``record_batch``."""
    return Pending(
        audit_log.NewEntry(
            at=datetime.now(UTC),
            user=actor(caller),
            agency=caller.agency_code,
            role=str(caller.role),
            action=action,
            target=target,
            series=series,
            params_digest=params_digest(params if params is not None else {}),
            result_count=result_count,
            request_id=caller.request_id,
        )
    )


def _signing(app: App) -> Callable[[int, bytes], str] | None:
    signer = node_signer(app)
    if signer is None:
        return None

    def sign(size: int, root: bytes) -> str:
        return Checkpoint(origin_of(signer), size, root).sign(signer)

    return sign


def record_in(
    s: Session,
    app: App,
    caller: Caller,
    action: str,
    *,
    target: str | None = None,
    series: str | None = None,
    params: Any = None,
    result_count: int | None = None,
) -> AuditEntryView:
    """Append one entry in the open transaction ``s`` (and sign a checkpoint)."""
    p = pending(
        caller, action, target=target, series=series, params=params, result_count=result_count
    )
    rec, _, _ = audit_log.append(s, p.entry, sign=_signing(app), every=CHECKPOINT_EVERY)
    return AuditEntryView(**rec.__dict__)


def record_batch(app: App, entries: Sequence[Pending]) -> list[AuditEntryView]:
    """Append many entries in one transaction with one signed checkpoint after them.

    For a busy service: collect ``pending(...)`` per request and flush every few
    hundred milliseconds; the lock on the log is then held once per batch instead
    of once per request. What is still queued when the process dies is lost, so
    flush before acknowledging anything that must not go unrecorded (writes use
    ``record_in`` in their own transaction instead).
    """
    if not entries:
        return []
    with app.transaction() as s:
        records, _, _ = audit_log.append_many(
            s, [p.entry for p in entries], sign=_signing(app), every=1
        )
    return [AuditEntryView(**r.__dict__) for r in records]


def record(
    app: App,
    caller: Caller,
    action: str,
    *,
    target: str | None = None,
    series: str | None = None,
    params: Any = None,
    result_count: int | None = None,
) -> AuditEntryView:
    """Append one entry in its own transaction (reads, or after a CLI command)."""
    with app.transaction() as s:
        return record_in(
            s,
            app,
            caller,
            action,
            target=target,
            series=series,
            params=params,
            result_count=result_count,
        )


def sign_checkpoint(app: App) -> str | None:
    """Sign the current tree head now (e.g. when a batch of requests ends)."""
    signer = node_signer(app)
    if signer is None:
        return None
    with app.transaction() as s:
        head = audit_log.head(s)
        if head.size == 0:
            return None
        note = Checkpoint(origin_of(signer), head.size, head.root).sign(signer)
        audit_log.add_checkpoint(s, head.size, head.root, note)
        return note


# -- service requests: one entry per call, written in batches -----------------------------


@dataclass
class RequestAudit:
    """The entry one service request will leave, filled in as the request goes.

    The API opens it for every request (``tessera.api.audit_trail``), the token
    check names the caller, the endpoint counts its results, and a use case that
    knows better (a lookup's hashes, its matches) fills ``params`` and
    ``result_count`` through ``note_read``. Written once, after the response.
    """

    request_id: str
    action: str | None = None
    caller: Caller | None = None
    target: str | None = None
    series: str | None = None
    params: Any = None
    result_count: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def pending(self) -> Pending | None:
        """The entry to append; None when no caller was ever authenticated."""
        if self.caller is None:
            return None
        return pending(
            self.caller,
            self.action or "api.unknown",
            target=self.target,
            series=self.series,
            params=self.params if self.params is not None else self.detail,
            result_count=self.result_count,
        )


_request: ContextVar[RequestAudit | None] = ContextVar("tessera_request_audit", default=None)


def begin_request(entry: RequestAudit) -> Token[RequestAudit | None]:
    """Make ``entry`` the current request's (``end_request`` with the token after)."""
    return _request.set(entry)


def end_request(token: Token[RequestAudit | None]) -> None:
    _request.reset(token)


def current_request() -> RequestAudit | None:
    """The service request being served in this context, if any."""
    return _request.get()


def note_read(
    app: App,
    caller: Caller,
    action: str,
    *,
    target: str | None = None,
    series: str | None = None,
    params: Any = None,
    result_count: int | None = None,
) -> None:
    """A read's audit entry: folded into the current service request's one entry,
    else appended now (not for the node's own command line, whose reads are not
    logged)."""
    rec = _request.get()
    if rec is not None:
        if rec.caller is None:  # a route signed in another way (the web UI's session)
            rec.caller = caller
        rec.params = {"use_case": action, "params": params}
        rec.result_count = result_count
        rec.target = target if target is not None else rec.target
        rec.series = series if series is not None else rec.series
        return
    if not caller.is_local_operator:
        record(
            app,
            caller,
            action,
            target=target,
            series=series,
            params=params,
            result_count=result_count,
        )


FLUSH_INTERVAL = 0.2
"""Seconds a read's entry may wait in memory before its batch is appended: the most
a ``kill -9`` of a server process can lose (writes are recorded in their own
transaction and never wait)."""


class AuditQueue(BatchWriter):
    """Entries of one server process, appended in batches by a background thread.

    One transaction and one signed checkpoint per batch instead of per request:
    the log's lock is taken every ``interval`` seconds, not on every lookup.
    ``interval=0`` appends each entry at once (``put`` then blocks until written).
    ``put`` applies back-pressure: past ``max_pending`` queued entries (the
    database is down or slow) it writes them itself before returning.
    """

    def __init__(
        self, app: App, *, interval: float = FLUSH_INTERVAL, max_pending: int = 20_000
    ) -> None:
        super().__init__(interval)
        self.app = app
        self.max_pending = max_pending
        self._items: list[Pending] = []
        self._lock = threading.Lock()
        self._write = threading.Lock()  # one batch at a time, in order
        self.written = 0
        self.batches = 0

    thread_name = "audit-queue"
    failure = "audit entries could not be appended; retrying"

    def would_block(self) -> bool:
        """Whether ``put`` would write to the database itself (call it off the event loop)."""
        return self.writes_at_once or len(self._items) + 1 >= self.max_pending

    def put(self, entry: Pending) -> None:
        with self._lock:
            self._items.append(entry)
            full = len(self._items) >= self.max_pending
        if self.writes_at_once or full:
            self.flush()

    def flush(self) -> int:
        """Append everything queued now; the number of entries written."""
        with self._write:
            with self._lock:
                batch, self._items = self._items, []
            if not batch:
                return 0
            try:
                record_batch(self.app, batch)
            except Exception:
                with self._lock:  # keep them for the next try, in order
                    self._items[:0] = batch
                raise
            self.written += len(batch)
            self.batches += 1
            return len(batch)


# -- reading the trail ------------------------------------------------------------------


def _may_read(caller: Caller) -> str | None:
    """None: every agency's entries; else only that agency's; refuse the rest."""
    if caller.role in (Role.OPERATOR, Role.ADMIN):
        return None
    if caller.role is Role.CURATOR and caller.agency_code:
        return caller.agency_code
    raise PermissionDenied(
        "only curators (their agency's entries) and operators read the audit trail"
    )


def parse_since(value: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 time (UTC unless it says)."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--since {value!r} is not a date (YYYY-MM-DD) or ISO time") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def show(
    app: App,
    caller: Caller,
    *,
    user: str | None = None,
    series: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    before: int | None = None,
    newest_first: bool = False,
    sort: str = "seq",
    offset: int = 0,
) -> list[AuditEntryView]:
    """Entries matching every filter, oldest first (or newest first, paged back with
    ``before`` = the last seq seen; or by another ``AUDIT_SORTS`` key, paged by
    ``offset``); curators see their agency's."""
    if offset < 0 or (limit is not None and limit < 1):
        raise InvalidInput("limit: 1 or more, offset: 0 or more")
    agency = _may_read(caller)
    with app.transaction() as s:
        rows = audit_log.find(
            s,
            user=user.lower() if user and "@" in user else user,
            agency=agency,
            series=series,
            since=since,
            limit=limit,
            before=before,
            newest_first=newest_first,
            sort=sort,
            offset=offset,
        )
        return [AuditEntryView(**r.__dict__) for r in rows]


class AuditVerification(Result):
    """``tessera audit verify``: the tree recomputed, every checkpoint checked."""

    ok: bool
    entries: int
    checkpoints_verified: int
    root: str
    """Hex root of the entries that verified."""
    verifier_key: str | None
    broken_at: int | None = None
    """The first entry that cannot be trusted."""
    problem: str | None = None
    """``edited``, ``deleted``, ``reordered``, ``rewritten``, ``truncated``, ``bad-signature``."""
    message: str | None = None
    notes: tuple[str, ...] = ()


def verify(app: App, caller: Caller, *, trusted: str | None = None) -> AuditVerification:
    """Recompute every leaf and root and check every signed checkpoint.

    ``trusted`` is a signed checkpoint kept outside this database (``tessera audit
    checkpoint`` saved earlier, or received by another node): the log must still
    hold its entries unchanged. This catches what no check inside one database
    can: entries, checkpoints and head all cut back together, or history re-signed
    by someone holding the node key.
    """
    if caller.role not in (Role.OPERATOR, Role.ADMIN):
        raise PermissionDenied("only operators and admins verify the whole audit trail")
    signer = node_signer(app)
    with app.transaction() as s:
        cps = audit_log.checkpoints(s)
        if signer is None:
            if cps:
                load_node_key(app.settings.home)  # raises the clear ConfigError
            verifier = Signer.generate("no-node-key").verifier  # checks nothing signed
            origin = "no-node-key/audit"
        else:
            verifier, origin = signer.verifier, origin_of(signer)
        report = verify_log(
            audit_log.iter_stored(s),
            cps,
            verifier,
            origin=origin,
            head_size=audit_log.head(s).size,
        )
    notes = list(report.notes)
    if trusted is not None and report.broken is None:
        report.broken = _against(app, trusted, report.entries, signer)
    if signer is None:
        notes.append("this node has no key (run `tessera init`): nothing is signed")
    b = report.broken
    return AuditVerification(
        ok=report.ok,
        entries=report.entries,
        checkpoints_verified=report.checkpoints,
        root=report.root.hex(),
        verifier_key=signer.verifier.text() if signer else None,
        broken_at=b.seq if b else None,
        problem=b.kind if b else None,
        message=b.message if b else None,
        notes=tuple(notes),
    )


def _against(app: App, note: str, entries: int, signer: Signer | None) -> Break | None:
    if signer is None:
        load_node_key(app.settings.home)  # raises the clear ConfigError
        return None
    try:
        cp = Checkpoint.open(note, signer.verifier)
    except NoteError as exc:
        raise InvalidInput(f"the trusted checkpoint does not verify: {exc.message}") from None
    if cp.origin != origin_of(signer):
        raise InvalidInput(f"the trusted checkpoint is of another log ({cp.origin})")
    if cp.size > entries:
        return Break(
            entries + 1,
            "truncated",
            f"a checkpoint kept outside says {cp.size} entries; the log holds {entries}: "
            f"entries {entries + 1}-{cp.size} were removed",
        )
    with app.transaction() as s:
        root = merkle.root_of(audit_log.leaf_hashes(s, cp.size))
    if root != cp.root:
        return Break(
            1,
            "rewritten",
            f"the first {cp.size} entries no longer match the checkpoint kept outside: "
            "history was rewritten and re-signed with the node key",
        )
    return None


class SignedCheckpoint(Result):
    size: int
    root: str
    note: str
    """The C2SP signed note (tlog-checkpoint body)."""


def latest_checkpoint(app: App, caller: Caller) -> SignedCheckpoint:
    """The newest signed tree head, for publishing to others (any signed-in caller)."""
    with app.transaction() as s:
        cp = audit_log.latest_checkpoint(s)
        if cp is None:
            raise NotFound("no audit checkpoint has been signed yet")
        return SignedCheckpoint(size=cp.size, root=cp.root.hex(), note=cp.note)


class InclusionProof(Result):
    seq: int
    size: int
    leaf_hash: str
    path: list[str]


class ConsistencyProof(Result):
    first: int
    second: int
    path: list[str]


def prove_inclusion(app: App, caller: Caller, seq: int, size: int) -> InclusionProof:
    """RFC 9162 proof that entry ``seq`` is in the tree of ``size`` entries."""
    _may_read(caller)
    with app.transaction() as s:
        hashes = audit_log.leaf_hashes(s, size)
    if not 1 <= seq <= size <= len(hashes):
        raise NotFound(f"no entry {seq} in a tree of {size} entries")
    path = merkle.inclusion_proof(hashes[:size], seq - 1)
    return InclusionProof(
        seq=seq, size=size, leaf_hash=hashes[seq - 1].hex(), path=[p.hex() for p in path]
    )


def prove_consistency(app: App, caller: Caller, first: int, second: int) -> ConsistencyProof:
    """RFC 9162 proof that the tree of ``first`` entries is a prefix of ``second``."""
    _may_read(caller)
    with app.transaction() as s:
        hashes = audit_log.leaf_hashes(s, second)
    if not 1 <= first <= second <= len(hashes):
        raise NotFound(f"no consistency proof from {first} to {second} entries")
    path = merkle.consistency_proof(hashes[:second], first)
    return ConsistencyProof(first=first, second=second, path=[p.hex() for p in path])


__all__ = [
    "FLUSH_INTERVAL",
    "AuditEntryView",
    "AuditQueue",
    "AuditVerification",
    "ConsistencyProof",
    "InclusionProof",
    "NodeKey",
    "Pending",
    "RequestAudit",
    "SignedCheckpoint",
    "actor",
    "begin_request",
    "current_request",
    "end_request",
    "ensure_node_key",
    "latest_checkpoint",
    "node_signer",
    "node_verifier_text",
    "note_read",
    "parse_since",
    "pending",
    "prove_consistency",
    "prove_inclusion",
    "record",
    "record_batch",
    "record_in",
    "show",
    "sign_checkpoint",
    "verify",
]

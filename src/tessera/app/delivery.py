"""Delivering notifications to agencies' own systems: a signed webhook and e-mail.

**Durable, through an outbox.** The transaction that raises a notification also
writes one ``delivery_outbox`` row per channel the agency configured (``enqueue``),
so a notification committed is a delivery owed, whatever happens to the process
next. Workers (``run_due``: the API server's ``DeliveryWorker``, a one-shot drain
kicked after each use case, or ``tessera outbox --run``) claim due rows with a
conditional update and a lease (two workers never send one row; a worker killed
mid-send leaves the row due again when its lease ends), send **outside** any
transaction (a slow receiver holds no locks), log every attempt
(``delivery_attempt``) and either mark the row ``done`` or schedule the next try
with exponential back-off; after ``ATTEMPTS`` tries it is ``failed`` (kept, listed,
never silently dropped). Pending rows survive a restart and are retried.

Webhook: ``POST`` of the notification's JSON; header ``X-Tessera-Signature:
sha256=<hex>`` is HMAC-SHA256 of the exact body bytes with the agency's secret
(verify it with ``hmac.compare_digest`` before trusting the body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.notifications import render
from tessera.app.results import Result
from tessera.app.visibility import require_role
from tessera.storage import coop as store

ATTEMPTS = 6
"""Tries per notification and channel before the row is ``failed``."""
BACKOFF = 30.0
"""Seconds before the second try; doubled for each next one (capped)."""
MAX_BACKOFF = 6 * 3600.0
LEASE = timedelta(minutes=2)
"""How long a claimed row is a worker's; then it is due again (the worker died)."""
POLL = 5.0
"""The server's worker looks for due rows this often (and when kicked)."""
TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Tessera-Signature"
log = logging.getLogger(__name__)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is ``body``'s signature under ``secret`` (constant time)."""
    return hmac.compare_digest(sign(secret, body), header)


def _post(url: str, body: bytes, signature: str, notification_id: int) -> str:
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            "X-Tessera-Notification": str(notification_id),
        },
    )
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        return f"HTTP {r.status}"


def _mail(host: str, port: int, *, sender: str, to: str, subject: str, text: str) -> str:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
        smtp.send_message(msg)
    return "accepted"


class OutboxRow(Result):
    id: int
    notification_id: int
    channel: str
    state: str
    attempts: int
    next_at: datetime
    last_error: str | None


class DeliveryRun(Result):
    delivered: int
    retrying: int
    failed: int


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _send(app: App, row_id: int) -> tuple[bool, str, str, int]:
    """Send one claimed outbox row; (ok, detail, target, notification id)."""
    with app.transaction() as s:
        row = store.outbox_row(s, row_id)
        assert row is not None
        (n,) = store.notifications_by_ids(s, [row.notification_id])
        cfg = store.delivery_of(s, n.agency_id)
        view = render(s, n)
        channel = row.channel
        url = cfg.webhook_url if cfg else None
        secret = cfg.webhook_secret if cfg else None
        to, host, port, sender = (
            (cfg.email_to, cfg.smtp_host, cfg.smtp_port, cfg.smtp_from) if cfg else (None,) * 4
        )
    body = json.dumps(view.to_json(), sort_keys=True, default=str).encode()
    try:
        if channel == "webhook":
            if not (url and secret):
                return False, "webhook no longer configured", url or "-", n.id
            return True, _post(url, body, sign(secret, body), n.id), url, n.id
        if not (to and host and port and sender):
            return False, "e-mail no longer configured", to or "-", n.id
        detail = _mail(
            host, port, sender=sender, to=to, subject=f"Tessera: {view.title}", text=view.text
        )
        return True, detail, to, n.id
    except (OSError, urllib.error.URLError, smtplib.SMTPException) as exc:
        target = (url if channel == "webhook" else to) or "-"
        return False, f"{type(exc).__name__}: {exc}"[:500], target, n.id


def run_due(
    app: App,
    *,
    now: datetime | None = None,
    limit: int = 50,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
    only: Sequence[int] | None = None,
) -> DeliveryRun:
    """Deliver every outbox row due at ``now`` (``only``: of these notifications)."""
    delivered = retrying = failed = 0
    while True:
        at = now or _now()
        with app.transaction() as s:
            claimed = [r.id for r in store.claim_due(s, at, at + LEASE, limit, only)]
        if not claimed:
            break
        for row_id in claimed:
            ok, detail, target, nid = _send(app, row_id)
            done_at = _now()
            with app.transaction() as s:
                row = store.outbox_row(s, row_id)
                assert row is not None
                row.attempts += 1
                store.log_attempt(
                    s,
                    nid,
                    channel=row.channel,
                    target=target,
                    attempt=row.attempts,
                    ok=ok,
                    detail=detail,
                )
                if ok:
                    row.state, row.done_at, row.last_error = "done", done_at, None
                    delivered += 1
                elif row.attempts >= attempts:
                    row.state, row.done_at, row.last_error = "failed", done_at, detail
                    failed += 1
                else:
                    wait = min(backoff * 2 ** (row.attempts - 1), MAX_BACKOFF)
                    row.next_at = (now or done_at) + timedelta(seconds=wait)
                    row.last_error = detail
                    retrying += 1
        if now is not None:
            break  # a given clock: one pass (tests, ``tessera outbox --run``)
    return DeliveryRun(delivered=delivered, retrying=retrying, failed=failed)


def deliver(
    app: App,
    notification_ids: Sequence[int],
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
) -> dict[int, dict[str, bool]]:
    """Deliver these notifications' outbox rows now, waiting out the back-off between
    tries (for tests and small scripts); per id, channel -> delivered."""
    ids = list(notification_ids)
    while True:
        run_due(app, attempts=attempts, backoff=backoff, only=ids)
        with app.transaction() as s:
            pending = [_aware(r.next_at) for r in store.outbox(s, ["pending"], ids)]
            rows = store.outbox(s, ["done", "failed"], ids)
            out: dict[int, dict[str, bool]] = {}
            for r in rows:
                out.setdefault(r.notification_id, {})[r.channel] = r.state == "done"
        if not pending:
            return out
        time.sleep(max(0.0, min(pending).timestamp() - _now().timestamp()) + 0.001)


def list_outbox(
    app: App, caller: Caller, *, states: Sequence[str] = ("pending", "failed")
) -> list[OutboxRow]:
    """The deliveries still owed or given up (the node's operator)."""
    require_role(caller, Role.OPERATOR)
    with app.transaction() as s:
        return [
            OutboxRow(
                id=r.id,
                notification_id=r.notification_id,
                channel=r.channel,
                state=r.state,
                attempts=r.attempts,
                next_at=_aware(r.next_at),
                last_error=r.last_error,
            )
            for r in store.outbox(s, list(states))
        ]


class DeliveryWorker:
    """Delivers due outbox rows in a background thread until stopped: every ``poll``
    seconds, or at once when kicked. The API server runs one per process."""

    def __init__(self, app: App, *, poll: float = POLL, drain_only: bool = False) -> None:
        self.app = app
        self.poll = poll
        self.drain_only = drain_only
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tessera-delivery", daemon=True)

    def start(self) -> DeliveryWorker:
        self._thread.start()
        return self

    def kick(self) -> None:
        self._kick.set()

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        self._thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.clear()
            try:
                run_due(self.app)
            except Exception:  # the database away for a moment: rows stay due
                log.exception("delivering notifications")
            if self.drain_only:
                return
            self._kick.wait(self.poll)


_workers: weakref.WeakKeyDictionary[App, DeliveryWorker] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def serve(app: App, *, poll: float = POLL) -> DeliveryWorker:
    """Start the long-running worker for ``app`` (the API server's lifespan)."""
    with _lock:
        worker = DeliveryWorker(app, poll=poll).start()
        _workers[app] = worker
        return worker


def dispatch(app: App, notification_ids: Sequence[int]) -> None:
    """After a use case committed notifications (already in the outbox): kick this
    process's worker, or drain what is due in a short-lived thread. Nothing is lost
    if the process ends first: the rows stay pending for the next worker."""
    if not notification_ids:
        return
    with _lock:
        worker = _workers.get(app)
        if worker is None or not worker.alive:
            worker = DeliveryWorker(app, drain_only=True).start()
            _workers[app] = worker
        else:
            worker.kick()


__all__ = [
    "ATTEMPTS",
    "SIGNATURE_HEADER",
    "DeliveryRun",
    "DeliveryWorker",
    "OutboxRow",
    "deliver",
    "dispatch",
    "list_outbox",
    "run_due",
    "serve",
    "sign",
    "verify",
]

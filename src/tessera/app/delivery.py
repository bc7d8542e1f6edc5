"""Delivering notifications to agencies' own systems: a signed webhook and e-mail.

Delivery happens **after** the use case that raised the notifications has
committed, never inside its transaction (a slow or dead receiver must not hold
locks or roll back a lookup), in a background thread by default. Each attempt is
logged (``delivery_attempt``) in its own small transaction; a failed attempt is
retried with exponential back-off.

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
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from tessera.app.context import App
from tessera.app.notifications import render
from tessera.storage import coop as store

ATTEMPTS = 4
"""Tries per notification and channel."""
BACKOFF = 0.5
"""Seconds before the second try; doubled for each next one."""
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


def _with_retries(
    app: App,
    notification_id: int,
    *,
    channel: str,
    target: str,
    send: Any,
    attempts: int,
    backoff: float,
) -> bool:
    for n in range(1, attempts + 1):
        try:
            detail, ok = send(), True
        except (OSError, urllib.error.URLError, smtplib.SMTPException) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}"[:500], False
        with app.transaction() as s:
            store.log_attempt(
                s, notification_id, channel=channel, target=target, attempt=n, ok=ok, detail=detail
            )
        if ok:
            return True
        if n < attempts:
            time.sleep(backoff * 2 ** (n - 1))
    return False


def deliver(
    app: App,
    notification_ids: Sequence[int],
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
) -> dict[int, dict[str, bool]]:
    """Deliver each notification by its agency's channels now; per id, channel -> ok."""
    with app.transaction() as s:
        rows = store.notifications_by_ids(s, notification_ids)
        jobs = []
        for n in rows:
            cfg = store.delivery_of(s, n.agency_id)
            if cfg is None:
                continue
            view = render(s, n)
            jobs.append(
                (
                    n.id,
                    view,
                    cfg.webhook_url,
                    cfg.webhook_secret,
                    cfg.email_to,
                    cfg.smtp_host,
                    cfg.smtp_port,
                    cfg.smtp_from,
                )
            )
    out: dict[int, dict[str, bool]] = {}
    for nid, view, url, secret, to, host, port, sender in jobs:
        done = out.setdefault(nid, {})
        body = json.dumps(view.to_json(), sort_keys=True, default=str).encode()
        if url and secret:
            signature = sign(secret, body)

            def hook(u: str = url, b: bytes = body, g: str = signature, i: int = nid) -> str:
                return _post(u, b, g, i)

            done["webhook"] = _with_retries(
                app,
                nid,
                channel="webhook",
                target=url,
                send=hook,
                attempts=attempts,
                backoff=backoff,
            )
        if to and host and port and sender:
            subject, text = f"Tessera: {view.title}", view.text

            def mail(
                h: str = host,
                p: int = port,
                m: tuple[str, str, str, str] = (sender, to, subject, text),
            ) -> str:
                return _mail(h, p, sender=m[0], to=m[1], subject=m[2], text=m[3])

            done["email"] = _with_retries(
                app,
                nid,
                channel="email",
                target=to,
                send=mail,
                attempts=attempts,
                backoff=backoff,
            )
    return out


def dispatch(app: App, notification_ids: Sequence[int]) -> threading.Thread | None:
    """Deliver in a background thread (after the caller's commit); None if nothing to do."""
    if not notification_ids:
        return None

    def run(ids: list[int]) -> None:
        try:
            deliver(app, ids)
        except Exception:  # a background thread has no caller to raise to: log it
            log.exception("delivering notifications %s failed", ids)

    t = threading.Thread(
        target=run, args=(list(notification_ids),), name="tessera-delivery", daemon=True
    )
    t.start()
    return t


__all__ = ["ATTEMPTS", "SIGNATURE_HEADER", "deliver", "dispatch", "sign", "verify"]

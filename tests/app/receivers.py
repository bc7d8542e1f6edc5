"""Real local receivers for delivery tests: an HTTP webhook endpoint and an SMTP server.

The webhook receiver checks each request's ``X-Tessera-Signature`` with its own
HMAC-SHA256 computation (``hmac`` from the standard library, not Tessera's code),
and can be told to fail its first N requests (to see retries). The SMTP server
is ``aiosmtpd`` on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "webhook-secret-of-nl-a-0123456789"


@dataclass
class Webhook:
    url: str
    secret: str
    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    """Bodies whose signature verified."""
    rejected: int = 0
    """Requests with a missing or wrong signature."""
    requests: int = 0


@contextmanager
def webhook(secret: str = SECRET, fail_first: int = 0, port: int = 0) -> Iterator[Webhook]:
    hook = Webhook(url="", secret=secret, fail_first=fail_first)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                hook.requests += 1
                if hook.requests <= hook.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                got = self.headers.get("X-Tessera-Signature", "")
                if hmac.compare_digest(want, got):
                    hook.received.append(json.loads(body))
                    code = 204
                else:
                    hook.rejected += 1
                    code = 401
            self.send_response(code)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/tessera"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox("127.0.0.1", _free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def wait_for(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``check`` until true (background delivery); False after ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()

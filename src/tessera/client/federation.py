"""``tessera sync``: push this node's signed deltas to its hub and pull the others'.

The order makes a kill at any point harmless: (1) take the hub's checkpoint with a
consistency proof from the one we accepted, refuse it if the hub rewrote history,
and drop from our outbox the deltas it already holds (we were killed before
hearing its answer); (2) prepare what changed and post each outbox delta byte for
byte, checking that its leaf is in the new checkpoint; (3) read feed pages up to
the verified checkpoint, each applied with its cursor in one transaction.
Requests are signed with the node key (``tessera.app.federation.request_signing.sign_request``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from tessera import gcpause
from tessera.app import App, Caller, Result
from tessera.app.federation import hub as fed_hub
from tessera.app.federation import hub_log, peers, request_signing, share
from tessera.app.federation import pull as fed_pull
from tessera.errors import ConfigError, TesseraError, Unauthenticated
from tessera.exchange.delta import DeltaError, SignedBundle, peek_header

PREFIX = "/api/v1/federation"
SIGNATURE_HEADER = "X-Tessera-Signature"
TIMEOUT_S = 300.0


class SyncReport(Result):
    peer: str
    url: str
    checkpoint_size: int
    pushed_deltas: int
    pushed_records: int
    already_accepted: int
    """Outbox deltas the hub already held (a sync killed before its answer)."""
    pages: int
    received: int
    applied: int
    feed_after: int


class _Hub:
    def __init__(self, app: App, url: str) -> None:
        self.app = app
        self.url = url
        # a plain-HTTP hub (loopback, a closed network: requests and pages are signed
        # either way) needs no TLS context: making httpx's default one loads the CA
        # bundle, ~50 ms of CPU at every sync (redirects are not followed)
        tls = not url.lower().startswith("http://")
        self.http = httpx.Client(base_url=url, timeout=TIMEOUT_S, verify=tls)
        # one feed page is fetched, verified and parsed while the one before it is
        # applied: the hub builds and sends it, and this node's fetch thread reads it,
        # while the caller's thread writes (SQLite lets go of the GIL while it works)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-fetch")

    def call(self, method: str, target: str, body: bytes = b"") -> httpx.Response:
        return self._send(method, target, body, self._headers(method, target, body))

    def get_later(
        self, target: str, read: Callable[[bytes], SignedBundle]
    ) -> Future[tuple[bytes, SignedBundle | None]]:
        """``GET target`` on the fetch thread (signed here, in the caller's thread),
        its body then verified and parsed there by ``read``: None when that fails
        (``apply_feed`` reads the page again and says why, in the caller's thread)."""
        headers = self._headers("GET", target, b"")

        def fetch() -> tuple[bytes, SignedBundle | None]:
            body = self._send("GET", target, b"", headers).content
            try:
                return body, read(body)
            except DeltaError:
                return body, None

        return self._pool.submit(fetch)

    def _headers(self, method: str, target: str, body: bytes) -> dict[str, str]:
        headers = {SIGNATURE_HEADER: request_signing.sign_request(self.app, method, target, body)}
        if body:
            headers["Content-Type"] = "application/x-ndjson"
        return headers

    def _send(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        try:
            r = self.http.request(method, target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ConfigError(f"cannot reach hub {self.url}: {type(exc).__name__}: {exc}") from None
        if r.status_code >= 400:
            detail = _detail(r)
            if r.status_code == 401:
                raise Unauthenticated(f"hub {self.url} refused this node: {detail}")
            if r.status_code == 422:
                raise DeltaError(f"hub {self.url} rejected the delta: {detail}")
            err = TesseraError(f"hub {self.url} answered {r.status_code}: {detail}")
            raise err
        return r

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.http.close()


def _page_end(page: bytes) -> int | None:
    try:
        end = peek_header(page).get("end")
    except DeltaError:
        return None
    return end if isinstance(end, int) and not isinstance(end, bool) else None


def _detail(r: httpx.Response) -> str:
    try:
        body: Any = r.json()
        return str(body.get("detail") or body.get("title") or body)
    except ValueError:
        return r.text[:300]


def _pull(
    client: _Hub,
    app: App,
    caller: Caller,
    hub_name: str,
    *,
    after: int,
    size: int,
    page_size: int,
    on_page: Callable[[fed_pull.FeedApplied], None] | None,
) -> tuple[int, int, int, int]:
    """Read feed pages from ``after`` up to the verified checkpoint ``size``, each
    applied with its cursor: (pages, records received, applied, cursor)."""
    pages = received = applied = 0
    reader = fed_pull.feed_reader(app, hub_name)

    def feed(start: int) -> Future[tuple[bytes, SignedBundle | None]]:
        target = f"{PREFIX}/feed?after={start}&upto={size}&limit={page_size}"
        return client.get_later(target, reader)

    coming = feed(after) if after < size else None
    while coming is not None:
        page, read = coming.result()
        # the next page starts where this one ends: ask for it before applying this
        # one (the header is unverified here; a page that is not the one asked for
        # is refused by apply_feed, and a wrong guess is only a page fetched twice)
        end = _page_end(page)
        coming = feed(end) if end is not None and after < end < size else None
        res = fed_pull.apply_feed(app, caller, hub_name, page, read=read)
        pages += 1
        received += res.records
        applied += res.applied
        if on_page is not None:
            on_page(res)
        if res.end <= after:
            break
        after = res.end
        if coming is not None and end != after:
            coming.cancel()
            coming = None
        if coming is None and after < size:
            coming = feed(after)
    return pages, received, applied, after


def sync(
    app: App,
    caller: Caller,
    peer: str | None = None,
    *,
    page_size: int = fed_hub.FEED_PAGE_RECORDS,
    delta_size: int = share.MAX_DELTA_RECORDS,
    on_page: Callable[[fed_pull.FeedApplied], None] | None = None,
) -> SyncReport:
    hub = peers.hub_peer(app, peer)
    if not hub.url:
        raise ConfigError(f"peer {hub.name} has no URL: sync with it by --export / --import")
    client = _Hub(app, hub.url)
    try:
        _, size = fed_pull.feed_position(app, hub.name)
        r = client.call("GET", f"{PREFIX}/checkpoint?since={size}").json()
        hub_log.accept_checkpoint(app, hub.name, r["checkpoint"], r["consistency"])
        already = hub_log.delta_already_accepted(app, hub.name, int(r["last_delta"]))
        share.prepare(app, caller, max_records=delta_size)
        pushed = records = 0
        for _no, body in share.outbox(app):
            _, size = fed_pull.feed_position(app, hub.name)
            answer = client.call("POST", f"{PREFIX}/deltas?since={size}", body).json()
            hub_log.delta_acknowledged(app, hub.name, body, fed_hub.DeltaAccepted(**answer))
            pushed += 1
            records += int(answer["records"])
        after, size = fed_pull.feed_position(app, hub.name)
        # the collector stays off for the whole pull, not page by page: re-enabled
        # between two pages, its first young-generation pass walked every object of
        # the page just applied and of the next one, already read (~0.13 s of the
        # applying thread per 50,000-record page); the pages are freed by reference
        # counting, the few cycles a page's session leaves wait for the end
        with gcpause.paused():
            pages, received, applied, after = _pull(
                client,
                app,
                caller,
                hub.name,
                after=after,
                size=size,
                page_size=page_size,
                on_page=on_page,
            )
        fed_pull.settle(app)  # indexes a bulk load cut short left missing
        return SyncReport(
            peer=hub.name,
            url=hub.url,
            checkpoint_size=size,
            pushed_deltas=pushed,
            pushed_records=records,
            already_accepted=already,
            pages=pages,
            received=received,
            applied=applied,
            feed_after=after,
        )
    finally:
        client.close()


__all__ = ["SyncReport", "sync"]

"""``RemoteTessera``: the REST API seen as use cases (lookups), errors as Tessera errors."""

from __future__ import annotations

import base64
import ipaddress
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from tessera.app.lookup import MAX_QUERIES, HashQuery, LookupAnswer, LookupResult
from tessera.app.media import MediaDetail, MediaPage
from tessera.app.series import SeriesDetail, SeriesSummary
from tessera.app.similar import FileQuery, SimilarResult
from tessera.app.text import TextSearchResult
from tessera.errors import (
    ConfigError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TesseraError,
    Unauthenticated,
)

_BY_STATUS: dict[int, type[TesseraError]] = {
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: InvalidInput,
    422: InvalidInput,
}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_server_url(url: str) -> str:
    """``https://`` anywhere, ``http://`` on loopback only; ``ConfigError`` otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--server must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError("--server: use https:// (http:// only on this machine's loopback)")
    return url.strip().rstrip("/")


class RemoteTessera:
    """A Tessera server reached with a bearer token."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise ConfigError("--server needs a token in TESSERA_TOKEN (tessera token create)")
        self.url = check_server_url(url)
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "tessera-cli"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteTessera:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConfigError(f"cannot reach {self.url}: {type(exc).__name__}") from None
        if r.status_code in (200, 202):
            return r.json()
        try:
            detail = str(r.json().get("detail") or r.reason_phrase)
        except ValueError:
            detail = r.reason_phrase
        cls = _BY_STATUS.get(r.status_code)
        if cls is None:
            raise ConfigError(f"{self.url} answered {r.status_code}: {detail}")
        raise cls(f"{detail} (server {self.url})")

    def lookup(self, queries: Sequence[HashQuery], *, radius: int = 31) -> LookupResult:
        """``tessera.app.lookup.lookup`` on the server, in batches of 10,000."""
        answers: list[LookupAnswer] = []
        series: dict[int, SeriesSummary] = {}
        for lo in range(0, len(queries), MAX_QUERIES):
            chunk = queries[lo : lo + MAX_QUERIES]
            body = {"queries": [q.model_dump() for q in chunk], "radius": radius}
            part = LookupResult.model_validate(self._call("POST", "/api/v1/lookup", json=body))
            answers += [a.model_copy(update={"index": a.index + lo}) for a in part.results]
            series.update((s.series_id, s) for s in part.series)
        return LookupResult(
            results=tuple(answers),
            series=tuple(sorted(series.values(), key=lambda s: s.name)),
            matched=sum(1 for a in answers if a.matches),
        )

    def series_list(self) -> list[SeriesSummary]:
        """The series the caller's token may see (``GET /api/v1/series``)."""
        rows = self._call("GET", "/api/v1/series")
        return [SeriesSummary.model_validate(r) for r in rows]

    def series_show(self, name: str) -> SeriesDetail:
        """One series as the sharing rules show it to the token's agency."""
        path = f"/api/v1/series/{quote(name, safe='')}"
        return SeriesDetail.model_validate(self._call("GET", path))

    def media_show(self, ref: str) -> MediaDetail:
        """One media item by id, SHA-256, SHA-1 or MD5."""
        path = f"/api/v1/media/{quote(ref, safe='')}"
        return MediaDetail.model_validate(self._call("GET", path))

    def media_list(
        self,
        *,
        series: str | None = None,
        case: str | None = None,
        agency: str | None = None,
        limit: int = 50,
        after: int = 0,
    ) -> MediaPage:
        """One page of media in id order (the server answers at most 500 per page)."""
        params: dict[str, Any] = {"limit": limit, "after": after}
        params.update(
            {k: v for k, v in (("series", series), ("case", case), ("agency", agency)) if v}
        )
        return MediaPage.model_validate(self._call("GET", "/api/v1/media", params=params))

    def search_text(self, query: str, *, limit: int = 50) -> TextSearchResult:
        """Media whose OCR text has every word of ``query``."""
        params = {"q": query, "limit": limit}
        return TextSearchResult.model_validate(
            self._call("GET", "/api/v1/search-text", params=params)
        )

    def similar_to_media(
        self, media_id: int, *, box: tuple[int, int, int, int] | None = None, limit: int = 10
    ) -> SimilarResult:
        """Stored media showing the same scene or object as stored media item ``media_id``."""
        params: dict[str, Any] = {"limit": limit}
        if box is not None:
            params["box"] = ",".join(str(v) for v in box)
        path = f"/api/v1/media/{media_id}/similar"
        return SimilarResult.model_validate(self._call("GET", path, params=params))

    def similar_to_file(self, query: FileQuery, *, limit: int = 10) -> SimilarResult:
        """Stored media similar to a local picture: only its keypoints (exact full
        form) and SHA-256 travel; the answer names the local path as asked."""
        body = {
            "features": [base64.b64encode(f.to_bytes_full()).decode() for f in query.features],
            "sha256": query.sha256,
            "box": list(query.box) if query.box is not None else None,
            "limit": limit,
        }
        r = SimilarResult.model_validate(self._call("POST", "/api/v1/similar", json=body))
        asked = r.query.model_copy(update={"path": query.path, "sha256": query.sha256})
        return r.model_copy(update={"query": asked})

    def triage(
        self,
        results: Sequence[dict[str, Any]],
        *,
        radius: int = 31,
        min_quality: int = 50,
        on_progress: Callable[[int, int], None] | None = None,
        poll: float = 0.5,
    ) -> dict[str, Any]:
        """A triage job of ``results`` (``tessera hash --json``'s) on the server: the
        ``tessera triage --json`` document it returns. Interrupted (Ctrl-C), the job
        is cancelled on the server; a failed or cancelled job raises ``ConfigError``."""
        body = {"results": list(results), "radius": radius, "min_quality": min_quality}
        job = self._call("POST", "/api/v1/triage/jobs", json=body)
        path = f"/api/v1/triage/jobs/{job['id']}"
        try:
            while job["state"] in ("queued", "running"):
                time.sleep(poll)
                job = self._call("GET", path)
                if on_progress is not None:
                    on_progress(int(job["done"]), int(job["total"]))
        except KeyboardInterrupt:
            self._call("POST", f"{path}/cancel")
            raise
        if job["state"] != "done":
            reason = job.get("error") or job["state"]
            raise ConfigError(f"triage job {job['id']} on {self.url}: {reason}")
        result: dict[str, Any] = job["result"]
        return result


__all__ = ["RemoteTessera", "check_server_url"]

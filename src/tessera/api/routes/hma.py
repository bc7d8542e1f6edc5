"""Meta HMA-compatible routes, so HMA's clients work against Tessera unchanged.

Shapes follow HMA 2.x's OpenMediaMatch blueprints (``hashing``, ``matching``,
``curation``):

* ``POST /h/hash`` (multipart file ``photo`` or ``video``) -> ``{"pdq": "<hex>"}``
  (``{"video_md5": "<hex>"}`` for a video); ``types=`` picks signal types.
* ``GET /m/lookup?signal_type=pdq&signal=<hex>[&banks=A,B]`` ->
  ``{"<BANK>": [{"bank_content_id": 1, "distance": "0"}]}`` (with a signal type
  given, HMA elides the outer signal-type level; distance is a string).
* ``POST /m/lookup`` (file upload) -> ``{"pdq": {"<BANK>": [...]}}``.
* ``GET /m/raw_lookup?signal=&signal_type=[&include_distance=true][&banks=]`` ->
  ``{"matches": [1, 2]}`` or ``{"matches": [{"bank_content_id": 1, "distance": "3"}]}``.
* ``GET /m/index/status`` -> ``{"pdq": {"built_to": <unix s>, "present": true, "size": n}}``.
* ``GET /c/banks`` -> ``[{"name": "...", "matching_enabled_ratio": 1.0}]``.

Mapping: a *bank* is a series the caller may see (its name), *bank content* a
media item in it (its id). Unlike HMA, every route needs a bearer token, sharing
rules apply, and the server never fetches a URL (``url=`` is refused: files are
hashed where they are, and only hashes travel).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile

from tessera.api.audit_trail import CountedRoute
from tessera.api.auth import current_caller
from tessera.api.state import state_of
from tessera.app import App, Caller
from tessera.app import lookup as lookup_uc
from tessera.app import series as series_uc
from tessera.errors import InvalidInput
from tessera.fingerprints.pdq import QUALITY_THRESHOLD
from tessera.matching.pdq_search import PdqSearcher

router = APIRouter(dependencies=[Depends(current_caller)], route_class=CountedRoute)
CallerDep = Annotated[Caller, Depends(current_caller)]

SIGNAL_TYPES: dict[str, lookup_uc.HashType] = {
    "pdq": "pdq",
    "video_md5": "md5",
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
}
"""HMA signal type -> Tessera hash type (``md5``, ``sha1``, ``sha256`` are ours)."""
CONTENT_SIGNALS = {"photo": ("pdq",), "video": ("video_md5",)}
"""Signal types ``/h/hash`` returns by default per content type, as HMA's defaults."""
EXTRA_SIGNALS = ("md5", "sha1", "sha256")

MatchesByBank = dict[str, list[dict[str, Any]]]
SIGNAL_LENGTH = 200
SIGNAL_TYPE_LENGTH = 50


def _query(signal_type: str, signal: str, where: str) -> lookup_uc.HashQuery:
    kind = SIGNAL_TYPES.get(signal_type)
    if kind is None:
        raise InvalidInput(f"signal_type: no such signal type {signal_type!r}")
    value = signal.strip().lower()
    lookup_uc.parse_hash(kind, value, where)
    return lookup_uc.HashQuery(type=kind, hash=value)


def _banks(banks: str | None) -> set[str] | None:
    return {b.strip() for b in banks.split(",") if b.strip()} if banks else None


def lookup_signal(
    app: App,
    index: PdqSearcher,
    caller: Caller,
    signal_type: str,
    signal: str,
    banks: str | None,
) -> MatchesByBank:
    """``GET /m/lookup``'s answer: banks whose content matches one signal."""
    query = _query(signal_type, signal, "signal")
    result = lookup_uc.lookup(app, caller, [query], pdq=index)
    return _by_bank(result, 0, _banks(banks))


def _lookup(
    request: Request, caller: Caller, queries: list[lookup_uc.HashQuery]
) -> lookup_uc.LookupResult:
    st = state_of(request)
    return lookup_uc.lookup(st.app, caller, queries, pdq=st.index)


def _by_bank(result: lookup_uc.LookupResult, index: int, banks: set[str] | None) -> MatchesByBank:
    names = {s.series_id: s.name for s in result.series}
    out: MatchesByBank = {}
    for m in result.results[index].matches:
        for sid in m.series:
            name = names.get(sid)
            if name is None or (banks is not None and name not in banks):
                continue
            out.setdefault(name, []).append(
                {"bank_content_id": m.media_id, "distance": str(m.distance)}
            )
    return out


def _upload(photo: UploadFile | None, video: UploadFile | None) -> tuple[str, bytes]:
    if (photo is None) == (video is None):
        raise InvalidInput("send exactly one multipart file, named photo or video")
    field, upload = ("photo", photo) if photo is not None else ("video", video)
    assert upload is not None
    return field, upload.file.read()


def _hash_upload(
    request: Request, caller: Caller, field: str, data: bytes, types: str | None
) -> dict[str, str]:
    wanted = tuple(t.strip() for t in types.split(",") if t.strip()) if types else None
    allowed = CONTENT_SIGNALS[field] + EXTRA_SIGNALS
    if wanted is not None:
        bad = [t for t in wanted if t not in allowed]
        if bad or not wanted:
            raise InvalidInput(f"types: signal types for {field} are {', '.join(allowed)}")
    h = lookup_uc.hash_content(state_of(request).app, caller, data)
    values = {
        "pdq": h.pdq if h.pdq and (h.quality or 0) >= QUALITY_THRESHOLD else "",
        "video_md5": h.md5 or "",
        "md5": h.md5 or "",
        "sha1": h.sha1 or "",
        "sha256": h.sha256 or "",
    }
    return {t: values[t] for t in (wanted or CONTENT_SIGNALS[field])}


# -- hashing ---------------------------------------------------------------------------


@router.post("/h/hash", tags=["hma"])
def hash_media(
    request: Request,
    caller: CallerDep,
    photo: Annotated[UploadFile | None, File()] = None,
    video: Annotated[UploadFile | None, File()] = None,
    types: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, str]:
    """Hash one uploaded file: ``{"pdq": "<hex>"}`` for a photo (empty below quality 50)."""
    field, data = _upload(photo, video)
    return _hash_upload(request, caller, field, data, types)


@router.get("/h/hash", tags=["hma"])
def hash_url(caller: CallerDep, url: Annotated[str | None, Query()] = None) -> dict[str, str]:
    """Refused: this server never fetches media; hash the file locally instead."""
    raise InvalidInput("url: this server does not fetch media; POST the file or send its hash")


# -- matching --------------------------------------------------------------------------


@router.get("/m/lookup", tags=["hma"])
def lookup_get(
    request: Request,
    caller: CallerDep,
    signal: Annotated[str | None, Query(max_length=SIGNAL_LENGTH)] = None,
    signal_type: Annotated[str | None, Query(max_length=SIGNAL_TYPE_LENGTH)] = None,
    banks: Annotated[str | None, Query(max_length=10_000)] = None,
    url: Annotated[str | None, Query()] = None,
    seed: Annotated[str | None, Query()] = None,
    bypass_coinflip: bool = False,
) -> MatchesByBank:
    """Banks (series) whose content matches one signal, with content ids and distances."""
    if url:
        raise InvalidInput("url: this server does not fetch media; send signal and signal_type")
    if not signal or not signal_type:
        raise InvalidInput("signal, signal_type: both are required")
    st = state_of(request)
    return lookup_signal(st.app, st.index, caller, signal_type, signal, banks)


@router.post("/m/lookup", tags=["hma"])
def lookup_post(
    request: Request,
    caller: CallerDep,
    photo: Annotated[UploadFile | None, File()] = None,
    video: Annotated[UploadFile | None, File()] = None,
    banks: Annotated[str | None, Query(max_length=10_000)] = None,
    seed: Annotated[str | None, Query()] = None,
    bypass_coinflip: bool = False,
) -> dict[str, MatchesByBank]:
    """Hash an uploaded file and look each signal up: ``{"pdq": {"<BANK>": [...]}}``."""
    field, data = _upload(photo, video)
    signals = {k: v for k, v in _hash_upload(request, caller, field, data, None).items() if v}
    queries = [_query(t, v, f"{field}.{t}") for t, v in signals.items()]
    result = _lookup(request, caller, queries) if queries else None
    out: dict[str, MatchesByBank] = {t: {} for t in CONTENT_SIGNALS[field]}
    for i, t in enumerate(signals):
        assert result is not None
        out[t] = _by_bank(result, i, _banks(banks))
    return out


@router.get("/m/raw_lookup", tags=["hma"])
def raw_lookup(
    request: Request,
    caller: CallerDep,
    signal: Annotated[str, Query(max_length=200)],
    signal_type: Annotated[str, Query(max_length=50)],
    include_distance: bool = False,
    banks: Annotated[str | None, Query(max_length=10_000)] = None,
) -> dict[str, list[Any]]:
    """Matching bank content ids (``include_distance``: with distances as strings)."""
    result = _lookup(request, caller, [_query(signal_type, signal, "signal")])
    wanted = _banks(banks)
    names = {s.series_id: s.name for s in result.series}
    matches: list[Any] = []
    for m in result.results[0].matches:
        in_banks = {names[s] for s in m.series if s in names}
        if not in_banks or (wanted is not None and not in_banks & wanted):
            continue
        if include_distance:
            matches.append({"bank_content_id": m.media_id, "distance": str(m.distance)})
        else:
            matches.append(m.media_id)
    return {"matches": matches}


@router.get("/m/index/status", tags=["hma"])
def index_status(
    request: Request,
    caller: CallerDep,
    signal_type: Annotated[str | None, Query(max_length=50)] = None,
) -> dict[str, dict[str, Any]]:
    """Per signal type: ``built_to`` (Unix time the index reflects), ``present``, ``size``."""
    if signal_type is not None and signal_type != "pdq":
        raise InvalidInput(f"signal_type: no index for {signal_type!r} (exact hashes need none)")
    st = state_of(request).index.status()
    built_to = int(st.last_poll_unix) if st.last_poll_unix is not None else -1
    return {
        "pdq": {"built_to": built_to, "present": st.last_poll_unix is not None, "size": st.size}
    }


# -- curation (read-only) --------------------------------------------------------------


@router.get("/c/banks", tags=["hma"])
def banks_index(request: Request, caller: CallerDep) -> list[dict[str, Any]]:
    """Banks: the series this caller may see."""
    return [
        {"name": s.name, "matching_enabled_ratio": 1.0}
        for s in series_uc.list_series(state_of(request).app, caller)
    ]


__all__ = ["router"]

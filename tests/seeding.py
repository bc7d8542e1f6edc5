"""Test helper: put agencies, series and media with known hashes in a database.

Rows go in through the ingest writer (``write_batch``), the same path real
ingests take, so the fingerprint rows look exactly as they do in production.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from tessera.app import App, Caller
from tessera.app import ingest as ingest_uc
from tessera.ingest.writer import write_batch
from tessera.pipeline.result import FileResult
from tessera.storage import repo
from tessera.storage.db import Database
from tessera.storage.models import IngestRun


@dataclass(frozen=True)
class Seeded:
    content: bytes
    pdq: str | None
    md5: str
    sha1: str
    sha256: str
    media_id: int


def random_pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def flip_bits(hex_hash: str, bits: list[int]) -> str:
    value = int(hex_hash, 16)
    for b in bits:
        value ^= 1 << b
    return f"{value:064x}"


def ensure_agency(db: Database, code: str, country: str = "NL") -> None:
    with db.session() as s:
        try:
            repo.get_agency(s, code)
        except Exception:
            repo.create_agency(s, code, country, f"Unit {code}", f"{code.lower()}@example.org")


def ensure_series(db: Database, name: str, agency: str) -> None:
    ensure_agency(db, agency)
    with db.session() as s:
        try:
            repo.get_series(s, name)
        except Exception:
            repo.create_series(s, name, repo.get_agency(s, agency))


def seed(
    db: Database,
    items: list[tuple[bytes, str | None]],
    *,
    agency: str = "NL-NPU",
    series: str | None = "Series Amber",
    case: str = "2026-001",
    quality: int = 100,
) -> list[Seeded]:
    """Store ``(content, pdq hex or None)`` items; returns them with their media ids."""
    ensure_agency(db, agency)
    if series:
        ensure_series(db, series, agency)
    results = []
    for i, (content, pdq) in enumerate(items):
        results.append(
            FileResult(
                path=f"/{case}/{i}-{hashlib.sha256(content).hexdigest()[:8]}.jpg",
                status="ok",
                size=len(content),
                md5=hashlib.md5(content).hexdigest(),
                sha1=hashlib.sha1(content).hexdigest(),
                sha256=hashlib.sha256(content).hexdigest(),
                pdq=pdq,
                quality=quality if pdq else None,
                format="jpeg" if pdq else None,
                kind="image",
            )
        )
    with db.session() as s:
        a = repo.get_agency(s, agency)
        c = repo.get_or_create_case(s, a, case)
        sid = repo.get_series(s, series).id if series else None
        run = IngestRun(agency_id=a.id, case_id=c.id, series_id=sid, root=f"/{case}")
        s.add(run)
        s.flush()
        write_batch(s, run, results)
        found = repo.media_by_sha256(s, [bytes.fromhex(r.sha256 or "") for r in results])
        return [
            Seeded(
                content,
                pdq,
                r.md5 or "",
                r.sha1 or "",
                r.sha256 or "",
                found[bytes.fromhex(r.sha256 or "")].id,
            )
            for (content, pdq), r in zip(items, results, strict=True)
        ]


def ingest_known(app: App, known: Path) -> None:
    """Ingest the pictures under ``known`` with local features as agency NL-A, case
    NL-1, series S-1 (created here), as the local operator: the known side of the
    triage tests."""
    ensure_agency(app.db, "NL-A", "NL")
    ensure_series(app.db, "S-1", "NL-A")
    ingest_uc.run(
        app,
        Caller.local_operator(),
        known,
        agency_code="NL-A",
        case_number="NL-1",
        series_name="S-1",
        features=True,
        workers=1,
    )

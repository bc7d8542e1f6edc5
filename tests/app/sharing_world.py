"""A database world for the sharing tests: one series per sharing situation.

Agencies ``NL-A`` (NL, owns most series), ``NL-B`` (NL, the caller of the tests)
and ``DE-C`` (DE). Every resource is a series with one media item (sighted in its
owner's case), a marker, a linked victim, offender and location, OCR text and
camera metadata, each carrying the resource's name, so a leak is a string search.
``EXPECTED`` is what ``NL-B`` must see of each, written out by hand from the rules
(never computed by the code under test).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tessera.features.local import LocalFeatures
from tessera.storage import markers, repo, sharing
from tessera.storage.db import Database
from tessera.storage.models import Media, MediaMetadataModel, MediaText, Sighting
from tests.storage.conftest import PG_URL, drop_schema

CALLER_AGENCY = "NL-B"
CONTACT = "a@example.org"

# resource -> (owner, [(scope, grantee, level)], level NL-B must get)
RESOURCES: dict[str, tuple[str, list[tuple[str, str, str]], str]] = {
    "own": ("NL-B", [("network", "*", "none")], "full"),
    "default": ("NL-A", [], "status"),
    "unshared": ("NL-A", [("network", "*", "none")], "none"),
    **{
        f"network-{lv}": ("NL-A", [("network", "*", lv)], lv)
        for lv in ("none", "hash", "status", "full")
    },
    **{
        f"country-{lv}": (
            "NL-A",
            [("network", "*", "none" if lv != "none" else "full"), ("country", "NL", lv)],
            lv,
        )
        for lv in ("none", "hash", "status", "full")
    },
    **{
        f"agency-{lv}": (
            "NL-A",
            [
                ("network", "*", "none" if lv != "none" else "full"),
                ("country", "NL", "none" if lv != "none" else "full"),
                ("agency", "NL-B", lv),
            ],
            lv,
        )
        for lv in ("none", "hash", "status", "full")
    },
    "other-country-full": ("NL-A", [("network", "*", "none"), ("country", "DE", "full")], "none"),
    "other-agency-full": ("NL-A", [("network", "*", "none"), ("agency", "DE-C", "full")], "none"),
}
EXPECTED = {name: spec[2] for name, spec in RESOURCES.items()}
RANK = {"none": 0, "hash": 1, "status": 2, "full": 3}


def series_name(res: str) -> str:
    return f"S-{res}"


def secrets(res: str) -> dict[str, list[str]]:
    """Strings that may appear only from a level up, per level, for resource ``res``."""
    return {
        "status": [series_name(res)],
        "full": [f"marker-{res}", f"V-{res}", f"O-{res}", f"L-{res}", f"text-{res}"],
    }


def word(res: str) -> str:
    """A one-token word of the resource's OCR text, for text search."""
    return "txt" + res.replace("-", "")


EMPTY_FEATURES = LocalFeatures(
    xy=np.zeros((0, 2), np.float32),
    desc=np.zeros((0, 128), np.uint8),
    size=np.zeros(0, np.float16),
    angle=np.zeros(0, np.float16),
    width=1,
    height=1,
).to_bytes()


def digest(res: str) -> bytes:
    return hashlib.sha256(res.encode()).digest()


def build(s: Session) -> dict[str, dict[str, int]]:
    """Create the world (as the table owner); resource -> ids of its rows."""
    agencies = {
        "NL-A": repo.create_agency(s, "NL-A", "NL", "Unit A", CONTACT),
        "NL-B": repo.create_agency(s, "NL-B", "NL", "Unit B", "b@example.org"),
        "DE-C": repo.create_agency(s, "DE-C", "DE", "Unit C", "c@example.org"),
    }
    ids: dict[str, dict[str, int]] = {}
    for res, (owner, grants, _) in RESOURCES.items():
        agency = agencies[owner]
        series = repo.create_series(s, series_name(res), agency, category=1)
        for scope, grantee, level in grants:
            sharing.set_grant(
                s,
                "series",
                series.id,
                scope=scope,
                grantee=grantee,
                level=level,  # type: ignore[arg-type]
            )
        case = repo.get_or_create_case(s, agency, f"C-{res}")
        d = digest(res)
        media = Media(sha256=d, md5=d[:16], sha1=d[:20], kind="image", byte_size=1, submissions=1)
        s.add(media)
        s.flush()
        s.add(
            Sighting(
                media_id=media.id,
                case_id=case.id,
                agency_id=agency.id,
                original_path=f"/evidence/path-{res}.jpg",
            )
        )
        s.add(
            MediaText(
                media_id=media.id,
                engine="tesseract",
                language="eng",
                text=f"text-{res} {word(res)}",
                boxes=[],
            )
        )
        s.add(MediaMetadataModel(media_id=media.id, make=f"Make-{res}", data={}))
        repo.link(s, "series", series.id, "media", media.id)
        repo.link(s, "series", series.id, "victim", repo.get_or_create_victim(s, f"V-{res}").id)
        repo.link(s, "series", series.id, "offender", repo.get_or_create_offender(s, f"O-{res}").id)
        loc = repo.create_location(s, f"L-{res}", "NL")
        repo.link(s, "series", series.id, "location", loc.id)
        m = markers.create_marker(
            s, media, (0, 0, 1, 1), "poster", EMPTY_FEATURES, note=f"marker-{res}", series=series
        )
        s.flush()
        ids[res] = {"series": series.id, "media": media.id, "case": case.id, "marker": m.id}
    return ids


def pg_service_world() -> Iterator[tuple[Database, Database, dict[str, dict[str, int]]]]:
    """A migrated world in a fresh PostgreSQL schema: (owner database, database of a
    login role that neither owns the tables nor has BYPASSRLS, ids). Skips without
    ``TESSERA_TEST_POSTGRES_URL``; drops the schema and the role afterwards."""
    if not PG_URL:
        pytest.skip("TESSERA_TEST_POSTGRES_URL not set (CI starts PostgreSQL and sets it)")
    tag = uuid.uuid4().hex[:10]
    schema, role = f"t_rls_{tag}", f"tessera_svc_{tag}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    opts = f"{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    owner = Database(f"{PG_URL}{opts}")
    service: Database | None = None
    try:
        owner.migrate()
        with owner.session() as s:
            ids = build(s)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'svc-{tag}' NOBYPASSRLS"))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
            conn.execute(
                text(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "
                    f'"{schema}" TO {role}'
                )
            )
            conn.execute(text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}'))
        url = make_url(PG_URL).set(username=role, password=f"svc-{tag}")
        service = Database(url.render_as_string(hide_password=False) + opts)
        yield owner, service, ids
    finally:
        if service is not None:
            service.dispose()
        owner.dispose()
        drop_schema(admin, schema)
        with admin.begin() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()

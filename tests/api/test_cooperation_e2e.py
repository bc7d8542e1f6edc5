"""Issue 12 end to end through the API: three agencies in three countries.

NL-A (NL) owns series S-Secret, shared with nobody (``none``); DE-B (DE) and
FR-C (FR) work new cases. Real accounts and tokens, a real local webhook receiver
checking the HMAC signature itself, a real SMTP server (aiosmtpd) on loopback.
Runs on SQLite and on PostgreSQL (TESSERA_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tessera.api import create_app
from tessera.app import App, Caller, Settings, accounts, coop
from tessera.app.sharing import share_case, share_series
from tests.app.receivers import SECRET, smtp_server, wait_for, webhook
from tests.seeding import ensure_agency, flip_bits, random_pdq, seed
from tests.storage.conftest import _pg_database

OP = Caller.local_operator()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        s = Settings.for_home(tmp_path)
        with App(s) as app:
            app.migrate()
        yield s
    else:
        for db in _pg_database():
            s = Settings.for_home(tmp_path, database_url=db.url)
            with App(s) as app:
                app.migrate()
            yield s


def _token(app: App, email: str, agency: str, role: str) -> dict[str, str]:
    accounts.create_user(app, OP, email, agency=agency, role=role, password=None)
    t = accounts.create_token(app, OP, email).token
    return {"Authorization": f"Bearer {t}"}


def _last_run(app: App) -> int:
    with app.transaction() as s:
        return int(s.execute(text("SELECT max(id) FROM ingest_run")).scalar_one())


def test_three_agencies_three_countries(settings: Settings) -> None:
    rng = random.Random(12)
    with App(settings) as app:
        for code, country in (("NL-A", "NL"), ("DE-B", "DE"), ("FR-C", "FR")):
            ensure_agency(app.db, code, country)
        secret = seed(
            app.db,
            [(b"s-1", random_pdq(rng)), (b"s-2", random_pdq(rng))],
            agency="NL-A",
            series="S-Secret",
            case="NL-1",
        )
        share_series(app, OP, "S-Secret", "none", network=True)
        (shared,) = seed(
            app.db, [(b"o-1", random_pdq(rng))], agency="NL-A", series="S-Open", case="NL-2"
        )
        (logo,) = seed(
            app.db, [(b"logo", random_pdq(rng))], agency="NL-A", series="S-Open", case="NL-2"
        )
        nl = _token(app, "admin@nl-a.example", "NL-A", "admin")
        de = _token(app, "analyst@de-b.example", "DE-B", "analyst")
        fr = _token(app, "analyst@fr-c.example", "FR-C", "analyst")
        op = _token(app, "operator@node.example", "NL-A", "operator")
        # two new cases with the same unclassified material, as their ingests store them
        new = [(f"new-{i}".encode(), random_pdq(rng)) for i in range(4)]
        seed(app.db, new, agency="FR-C", series=None, case="FR-77")
        coop.notice_run(app, OP, _last_run(app), "FR-C")
        seed(app.db, new[:3], agency="DE-B", series=None, case="DE-9")
        share_case(app, OP, "DE-9", "status", agency="DE-B", agencies=["FR-C"])
        coop.notice_run(app, OP, _last_run(app), "DE-B")

    api = create_app(settings, poll_interval=0.05)
    with webhook() as hook, smtp_server() as box, TestClient(api) as client:
        r = client.put(
            "/api/v1/agencies/NL-A/delivery",
            headers=nl,
            json={
                "webhook_url": hook.url,
                "webhook_secret": SECRET,
                "email_to": "vid@nl-a.example",
                "smtp_host": box.host,
                "smtp_port": box.port,
                "smtp_from": "tessera@node.example",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["webhook_secret_set"] is True and "webhook_secret" not in r.json()
        # the network's operator lowers the flood thresholds for this test (> 5 hashes, 3
        # agencies); an agency's admin may not
        flood = {"files": 5, "agencies": 3}
        assert client.put("/api/v1/network/flood", headers=nl, json=flood).status_code == 403
        r = client.put("/api/v1/network/flood", headers=op, json=flood)
        assert r.status_code == 200, r.text
        assert r.json()["files"] == 5 and r.json()["window_hours"] == 24.0
        assert client.get("/api/v1/network/flood", headers=de).json()["agencies"] == 3
        # another agency's delivery does not exist for NL-A's admin
        assert client.put("/api/v1/agencies/DE-B/delivery", headers=nl, json={}).status_code == 404
        assert client.put("/api/v1/agencies/NL-A/delivery", headers=de, json={}).status_code == 404

        # 1. blind hit: DE-B looks the secret series' files up and is told nothing
        r = client.post(
            "/api/v1/lookup",
            headers=de,
            json={"queries": [{"type": "sha256", "hash": x.sha256} for x in secret]},
        )
        assert r.status_code == 200
        assert r.json()["matched"] == 0 and "S-Secret" not in r.text and "nl-a" not in r.text
        # ... while NL-A is told who, from where, how many
        notes = client.get("/api/v1/notifications", headers=nl).json()
        (hit,) = [n for n in notes if n["kind"] == "series-hit"]
        assert hit["payload"]["finder_agency"] == "DE-B"
        assert hit["payload"]["finder_country"] == "DE" and hit["payload"]["files"] == 2
        assert hit["read"] is False and hit["count"] == 1
        # the same lookup again: the same notice, counted (no second notice)
        client.post(
            "/api/v1/lookup",
            headers=de,
            json={"queries": [{"type": "sha256", "hash": x.sha256} for x in secret]},
        )
        again = [n for n in client.get("/api/v1/notifications", headers=nl).json()]
        (hit2,) = [n for n in again if n["kind"] == "series-hit"]
        assert hit2["id"] == hit["id"] and hit2["count"] == 2
        assert client.get("/api/v1/overlaps", headers=de).json() == [
            o for o in client.get("/api/v1/overlaps", headers=de).json() if o["kind"] == "case"
        ]
        assert "S-Secret" not in client.get("/api/v1/notifications", headers=de).text

        # 2. the webhook arrived signed (checked by the receiver), the e-mail too
        assert wait_for(lambda: len(hook.received) >= 1 and len(box.messages) >= 1)
        assert hook.rejected == 0
        assert hook.received[0]["id"] == hit["id"]
        assert hook.received[0]["payload"]["finder_agency"] == "DE-B"
        assert "DE-B (DE)" in box.messages[0]["Subject"]

        # 3. the overlap between the two new cases, found on both sides
        (nd,) = [
            n
            for n in client.get("/api/v1/notifications", headers=de).json()
            if n["kind"] == "case-overlap"
        ]
        (nf,) = [
            n
            for n in client.get("/api/v1/notifications", headers=fr).json()
            if n["kind"] == "case-overlap"
        ]
        assert nd["payload"]["files"] == nf["payload"]["files"] == 3
        assert nf["payload"]["other"]["agency"] == "DE-B"  # DE-9 is shared with FR-C
        assert nf["payload"]["other"]["case"] == "DE-9"
        assert nd["payload"]["other"]["agency"] is None  # FR-77 is not shared with DE-B
        assert "FR-77" not in client.get("/api/v1/notifications", headers=de).text

        # 4. marks on both sides of that overlap
        ov = nd["payload"]["overlap"]
        r = client.post(
            f"/api/v1/overlaps/{ov}/mark",
            headers=de,
            json={"mark": "same-investigation", "note": "joint op?"},
        )
        assert r.status_code == 200 and r.json()["my_mark"] == "same-investigation"
        (seen_by_fr,) = [
            o for o in client.get("/api/v1/overlaps", headers=fr).json() if o["id"] == ov
        ]
        assert seen_by_fr["other_mark"] == "same-investigation"
        assert (
            client.post(
                f"/api/v1/overlaps/{ov}/mark", headers=nl, json={"mark": "related"}
            ).status_code
            == 404
        )
        assert (
            client.post(
                f"/api/v1/overlaps/{ov}/mark", headers=fr, json={"mark": "maybe"}
            ).status_code
            == 422
        )

        # 5. read / unread
        assert client.post(f"/api/v1/notifications/{hit['id']}/read", headers=fr).status_code == 404
        r = client.post(f"/api/v1/notifications/{hit['id']}/read", headers=nl)
        assert r.json() == {"marked": 1}
        assert client.get("/api/v1/notifications?unread=true", headers=nl).json() == []
        assert client.get("/api/v1/notifications").status_code == 401

        # 6. a dispute shown on the next match, and hidden on request
        r = client.post(
            f"/api/v1/media/{shared.media_id}/dispute",
            headers=fr,
            json={"reason": "adult", "note": "age verified"},
        )
        assert r.status_code == 200, r.text
        look = {"queries": [{"type": "sha256", "hash": shared.sha256}]}
        (m,) = client.post("/api/v1/lookup", headers=de, json=look).json()["results"][0]["matches"]
        assert m["verdicts"]["disputed_agencies"] == 1
        assert m["verdicts"]["dispute_reasons"] == ["adult"]
        r = client.post("/api/v1/lookup", headers=de, json={**look, "hide_disputed": True})
        assert r.json()["results"][0]["matches"] == []

        # 7. a negative-listed hash is suppressed (shown with explain)
        r = client.post(
            "/api/v1/negative-list",
            headers=nl,
            json={"type": "sha256", "hash": logo.sha256, "reason": "unit logo"},
        )
        assert r.status_code == 201, r.text
        look = {"queries": [{"type": "sha256", "hash": logo.sha256}]}
        (a,) = client.post("/api/v1/lookup", headers=nl, json=look).json()["results"]
        assert a["suppressed"] == "unit logo" and a["matches"] == []
        (a,) = client.post("/api/v1/lookup", headers=nl, json={**look, "explain": True}).json()[
            "results"
        ]
        assert a["suppressed"] == "unit logo" and len(a["matches"]) == 1

        # 8. a flooding hash is quarantined (test thresholds: > 5 hashes, 3 agencies)
        variants = [flip_bits(shared.pdq or "", [b]) for b in range(6)]
        for i, who in enumerate((de, fr, nl)):
            r = client.post(
                "/api/v1/lookup",
                headers=who,
                json={"queries": [{"type": "pdq", "hash": h} for h in variants[i * 2 : i * 2 + 2]]},
            )
            flags = [x["quarantined"] for a in r.json()["results"] for x in a["matches"]]
            assert flags and all(flags) == (who is nl), (i, r.json())
        assert [x["media_id"] for x in client.get("/api/v1/quarantine", headers=de).json()] == [
            shared.media_id
        ]
        assert any(
            n["kind"] == "quarantine"
            for n in client.get("/api/v1/notifications", headers=nl).json()
        )
        assert client.post(
            f"/api/v1/quarantine/{shared.media_id}/release", headers=fr, json={}
        ).status_code in (403, 404)
        r = client.post(f"/api/v1/quarantine/{shared.media_id}/release", headers=nl, json={})
        assert r.status_code == 200
        assert client.get("/api/v1/quarantine", headers=de).json() == []

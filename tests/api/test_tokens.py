"""Real accounts: a token made with ``create_token`` works; revoked or expired, it is 401."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tessera.api import create_app
from tessera.app import App, Caller, Settings, audit
from tessera.app.accounts import create_token, create_user, now, revoke_token
from tessera.storage import accounts as accounts_store
from tests.seeding import ensure_agency


def _token(settings: Settings, email: str, role: str) -> tuple[str, str]:
    with App(settings) as app:
        ensure_agency(app.db, "NL-NPU")
        op = Caller.local_operator()
        create_user(app, op, email, agency="NL-NPU", role=role, password=None)
        made = create_token(app, op, email, expires_days=30)
        return made.token, made.summary.id


def test_created_revoked_and_expired_tokens(settings: Settings) -> None:
    good, _ = _token(settings, "analyst@example.org", "analyst")
    revoked, revoked_id = _token(settings, "other@example.org", "analyst")
    expired, expired_id = _token(settings, "late@example.org", "analyst")
    with App(settings) as app:
        revoke_token(app, Caller.local_operator(), revoked_id)
        with app.transaction() as s:  # move the expiry into the past
            token = accounts_store.token_by_public_id(s, expired_id)
            assert token is not None
            token.expires_at = now() - timedelta(seconds=1)
    with TestClient(create_app(settings)) as client:
        ok = client.get("/api/v1/series", headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200 and ok.json() == []
        bodies = []
        for token in (revoked, expired, good + "x", good.rsplit("_", 1)[0]):
            r = client.get("/api/v1/series", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401
            bodies.append(r.json())
        assert all(b == bodies[0] for b in bodies)  # no way to tell why
        r = client.get(
            "/api/v1/lookup",
            params={"type": "md5", "hash": "0" * 32},
            headers={"Authorization": f"Bearer {good}"},
        )
        assert r.status_code == 200
    with App(settings) as app:  # the lookup is in the audit trail, by whom, with its count
        log = audit.show(app, Caller.local_operator())
        entries = [e for e in log if e.action == "api.lookup_one"]
    assert [(e.user, e.agency, e.role, e.result_count) for e in entries] == [
        ("analyst@example.org", "NL-NPU", "analyst", 0)
    ]

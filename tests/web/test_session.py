"""Browser sessions and page rules over HTTP (no browser): cookies, CSRF, redirects,
404 for what a caller may not see or do, and headers that keep pages self-contained.

A FastAPI TestClient on ``https://`` (as behind the TLS proxy a node must sit
behind) so the Secure flag can be checked; the browser tests cover loopback http.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tessera.app import App, Caller, Settings, agencies
from tessera.app.accounts import create_user
from tessera.web import create_app

PW = "a long enough password"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.for_home(tmp_path / "home")
    op = Caller.local_operator()
    with App(settings) as app:
        app.migrate()
        agencies.create(app, op, "NL-NPU", country="NL", name="VIT")
        create_user(app, op, "v@nl.example.org", agency="NL-NPU", role="viewer", password=PW)
        create_user(app, op, "c@nl.example.org", agency="NL-NPU", role="curator", password=PW)
    with TestClient(
        create_app(settings, poll_interval=0.05, run_jobs=False),
        base_url="https://node.example",
        follow_redirects=False,
    ) as c:
        yield c


def _form_token(c: TestClient) -> str:
    m = re.search(r'name="token" value="([^"]+)"', c.get("/login").text)
    assert m
    return m.group(1)


def _sign_in(c: TestClient, nxt: str = "/", who: str = "v@nl.example.org") -> str:
    r = c.post(
        "/login",
        data={
            "email": who,
            "password": PW,
            "token": _form_token(c),
            "next": nxt,
        },
    )
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def _csrf(c: TestClient) -> str:
    m = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', c.get("/").text)
    assert m
    return m.group(1)


def test_sign_in_cookie_is_httponly_strict_and_secure_over_https(client: TestClient) -> None:
    r = client.post(
        "/login", data={"email": "v@nl.example.org", "password": PW, "token": _form_token(client)}
    )
    session = [
        v for k, v in r.headers.multi_items() if k == "set-cookie" and "tessera_session=" in v
    ]
    assert len(session) == 1
    flags = session[0].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "secure" in flags
    client.cookies.clear()
    _form_token(client)
    bad = client.post("/login", data={"email": "v@nl.example.org", "password": PW, "token": "x"})
    assert bad.status_code == 400  # the sign-in form's own double-submit token
    assert "tessera_session" not in bad.headers.get("set-cookie", "")


def test_redirects_headers_csrf_and_sign_out(client: TestClient) -> None:
    r = client.get("/series?sort=owner")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fseries%3Fsort%3Downer"
    assert _sign_in(client, "//evil.example/") == "/"  # no open redirect
    home = client.get("/")
    assert home.status_code == 200
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert header in home.headers
    assert "default-src 'self'" in home.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//', home.text)  # nothing from elsewhere
    csrf = _csrf(client)
    assert client.post("/settings", data={"greyscale": "true"}).status_code == 422
    assert client.post("/settings", data={"csrf": "0" * 64, "greyscale": "true"}).status_code == 422
    ok = client.post("/settings", data={"csrf": csrf, "greyscale": "true"})
    assert ok.status_code == 200 and "wellness-grey" in ok.text
    by_header = client.post(
        "/reveal/999999", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
    )
    assert by_header.status_code == 404  # no such media: 404, never 403
    assert client.post("/logout").status_code == 422  # no CSRF token: still signed in
    assert client.get("/").status_code == 200
    out = client.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/").status_code == 303


def test_what_a_caller_may_not_see_or_do_is_404(client: TestClient) -> None:
    _sign_in(client)
    csrf = _csrf(client)
    assert client.get("/series/No%20such%20series").status_code == 404
    assert client.get("/triage/jobs/" + "0" * 32).status_code == 404
    # a viewer may not triage: the page says "not found", not "forbidden"
    r = client.post("/triage/folder", data={"csrf": csrf, "folder": "/tmp"})
    assert r.status_code == 404 and "Not found" in r.text
    assert client.get("/admin").status_code == 200  # own tokens; no users, no audit
    assert "Audit log" not in client.get("/admin").text


def test_a_curator_manages_users_and_tokens(client: TestClient) -> None:
    _sign_in(client, who="c@nl.example.org")
    csrf = _csrf(client)
    new = {"csrf": csrf, "email": "new@nl.example.org", "role": "analyst", "password": PW}
    assert client.post("/admin/users", data=new).status_code == 303
    admin = client.get("/admin").text
    assert "new@nl.example.org" in admin
    too_high = {**new, "email": "boss@nl.example.org", "role": "admin"}
    assert client.post("/admin/users", data=too_high).status_code == 404  # not theirs to make
    r = client.post("/admin/users/new%40nl.example.org/disable", data={"csrf": csrf})
    assert r.status_code == 303
    assert re.search(
        r"new@nl\.example\.org</td>.*?<td>disabled</td>", client.get("/admin").text, re.S
    )
    made = client.post("/admin/tokens", data={"csrf": csrf, "name": "script", "days": "7"})
    token = re.search(r'data-testid="new-token">([^<]+)<', made.text)
    assert token
    auth = {"Authorization": f"Bearer {token.group(1)}"}
    assert client.get("/api/v1/series", headers=auth).status_code == 200
    public = token.group(1)[: len("tsr_") + 16]
    assert client.post(f"/admin/tokens/{public}/revoke", data={"csrf": csrf}).status_code == 303
    assert client.get("/api/v1/series", headers=auth).status_code == 401

"""Every list page sorts and pages through URL parameters (HTTP, no browser): the
column headers link to the other order, an unknown sort key is a 422 page naming
the keys, and a sorted page is a URL a colleague can open."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tessera.app import App, Caller, Settings, agencies
from tessera.app.accounts import create_user
from tessera.web import create_app

PW = "a long enough password"
EMAILS = ["c@nl.example.org", "a@nl.example.org", "b@nl.example.org"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One node and one signed-in curator for the module (the tests only read, but for
    the sharing-defaults form, whose changes no other test here looks at)."""
    settings = Settings.for_home(tmp_path_factory.mktemp("lists") / "home")
    op = Caller.local_operator()
    with App(settings) as app:
        app.migrate()
        agencies.create(app, op, "NL-NPU", country="NL", name="VIT")
        for email, role in zip(EMAILS, ["curator", "viewer", "analyst"], strict=True):
            create_user(app, op, email, agency="NL-NPU", role=role, password=PW)
    with TestClient(
        create_app(settings, poll_interval=0.05, run_jobs=False),
        base_url="https://node.example",
        follow_redirects=False,
    ) as c:
        m = re.search(r'name="token" value="([^"]+)"', c.get("/login").text)
        assert m
        data = {"email": EMAILS[0], "password": PW, "token": m.group(1), "next": "/"}
        assert c.post("/login", data=data).status_code == 303
        yield c


def _users_column(html: str) -> list[str]:
    return re.findall(r"<tr><td>([a-c]@nl\.example\.org)</td>", html)


def test_admin_users_sort_by_header_links_both_ways(client: TestClient) -> None:
    page = client.get("/admin").text
    assert _users_column(page) == sorted(EMAILS)
    assert 'aria-sort="ascending"' in page
    link = re.search(r'<a href="([^"]*users_sort=role[^"]*)">Role', page)
    assert link, "the Role header links to the list sorted by role"
    by_role = client.get(link.group(1).replace("&amp;", "&")).text
    assert _users_column(by_role) == [
        "b@nl.example.org",  # analyst
        "c@nl.example.org",  # curator
        "a@nl.example.org",  # viewer
    ]
    down = client.get("/admin?users_sort=role&users_desc=true").text
    assert _users_column(down) == ["a@nl.example.org", "c@nl.example.org", "b@nl.example.org"]
    assert re.search(r'<th scope="col" aria-sort="descending"><a [^>]*>Role', down)


@pytest.mark.parametrize(
    "url",
    [
        "/admin?users_sort=password_hash",
        "/admin?tokens_sort=secret",
        "/admin?audit_sort=leaf_hash",
        "/triage?sort=result",
        "/notifications?sort=payload",
        "/series?sort=nope",
        "/admin?users_desc=maybe",
        "/triage?page=0",
        "/search?marker=any&order=random",
        "/triage/jobs/" + "0" * 32 + "?sort=item",
        "/search?text=harbour&sort=text",
        "/search?lat=52&lon=4&radius=100&sort=latitude",
    ],
)
def test_an_unknown_sort_key_or_bad_page_is_a_422_page(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 422, (url, r.status_code)
    assert "Traceback" not in r.text


def test_list_pages_render_sorted(client: TestClient) -> None:
    for url in (
        "/triage?sort=state&desc=false",
        "/notifications?sort=kind",
        "/admin?audit_sort=action&audit_desc=false&audit_page=2",
        "/admin?tokens_sort=name",
        "/search?text=harbour&sort=media&desc=true&offset=0",
        "/search?lat=52&lon=4&radius=100&sort=distance&desc=true",
    ):
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:500])
    audit = client.get("/admin?audit_sort=action&audit_desc=false").text
    actions = re.findall(r"<td>(web\.view|user\.login|[a-z.\-]+)</td><td class=\"path\">", audit)
    assert actions == sorted(actions) and actions


def test_sharing_defaults_form_needs_csrf_and_the_right_role(client: TestClient) -> None:
    page = client.get("/admin").text
    assert 'action="/admin/sharing-defaults"' in page  # a curator: the form
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', page)
    assert token
    form = {"agency": "NL-NPU", "series_level": "full", "case_level": "node"}
    assert client.post("/admin/sharing-defaults", data=form).status_code == 422  # no CSRF
    ok = client.post("/admin/sharing-defaults", data={**form, "csrf": token.group(1)})
    assert ok.status_code == 303
    assert 'new series at <span class="badge">full</span>' in client.get("/admin").text
    bad = {**form, "series_level": "everything", "csrf": token.group(1)}
    assert client.post("/admin/sharing-defaults", data=bad).status_code == 422
    other = {**form, "agency": "DE-BKA", "csrf": token.group(1)}
    assert client.post("/admin/sharing-defaults", data=other).status_code == 404

"""User-chosen sorting of the lists the web UI shows, done in SQL on SQLite and
PostgreSQL: a whitelisted key, a stable tie-break (pages never repeat or skip a
row), and an unknown key refused with ``InvalidInput`` (a 422, never a 500)."""

from __future__ import annotations

import pytest

from tessera.app import App, Caller, agencies
from tessera.app import accounts as accounts_uc
from tessera.app import audit as audit_uc
from tessera.app import coop as coop_uc
from tessera.app import triage_jobs as jobs_uc
from tessera.errors import InvalidInput

PW = "a long enough password"
ROLES = {"b@nl.example.org": "viewer", "a@nl.example.org": "curator", "c@nl.example.org": "analyst"}


def _users(app: App, op: Caller) -> None:
    agencies.create(app, op, "NL-NPU", country="NL", name="VIT")
    for email, role in ROLES.items():
        accounts_uc.create_user(app, op, email, agency="NL-NPU", role=role, password=PW)


def test_users_sort_by_each_key_both_ways_and_page_without_overlap(
    app: App, caller: Caller
) -> None:
    _users(app, caller)
    by_email = [u.email for u in accounts_uc.list_users(app, caller)]
    assert by_email == sorted(ROLES)
    by_role = [u.role for u in accounts_uc.list_users(app, caller, sort="role", descending=True)]
    assert by_role == ["viewer", "curator", "analyst"]
    same_agency = accounts_uc.list_users(app, caller, sort="agency")
    assert [u.email for u in same_agency] == sorted(ROLES)  # ties broken by e-mail
    pages = [
        u.email
        for off in (0, 1, 2)
        for u in accounts_uc.list_users(app, caller, sort="agency", limit=1, offset=off)
    ]
    assert pages == sorted(ROLES)
    with pytest.raises(InvalidInput, match="sort 'password_hash' is not one of"):
        accounts_uc.list_users(app, caller, sort="password_hash")


def test_tokens_audit_jobs_and_notifications_sort_in_sql(app: App, caller: Caller) -> None:
    _users(app, caller)
    for name in ("zeta", "alpha", "mid"):
        accounts_uc.create_token(app, caller, "a@nl.example.org", name=name)
    names = [t.name for t in accounts_uc.list_tokens(app, caller, "a@nl.example.org", sort="name")]
    assert names == ["alpha", "mid", "zeta"]
    newest = accounts_uc.list_tokens(
        app, caller, "a@nl.example.org", sort="created", descending=True, limit=1
    )
    assert [t.name for t in newest] == ["mid"]
    with pytest.raises(InvalidInput):
        accounts_uc.list_tokens(app, caller, "a@nl.example.org", sort="secret_sha256")

    entries = audit_uc.show(app, caller, sort="action")
    actions = [e.action for e in entries]
    assert actions == sorted(actions) and len(set(actions)) > 1
    seqs = [e.seq for e in entries if e.action == actions[0]]
    assert seqs == sorted(seqs)  # tie-break by seq
    back = audit_uc.show(app, caller, sort="action", newest_first=True, limit=2, offset=1)
    assert [e.action for e in back] == sorted(actions, reverse=True)[1:3]
    with pytest.raises(InvalidInput):
        audit_uc.show(app, caller, sort="leaf_hash")

    curator = accounts_uc.verify_password(app, "a@nl.example.org", PW)
    assert jobs_uc.list_jobs(app, curator, sort="state") == []
    with pytest.raises(InvalidInput):
        jobs_uc.list_jobs(app, curator, sort="result")
    assert coop_uc.list_notifications(app, curator, sort="kind", descending=False) == []
    with pytest.raises(InvalidInput):
        coop_uc.list_notifications(app, curator, sort="payload")


def test_media_grid_sorts_by_size_with_ties_by_id_and_pages_by_offset(
    app: App, caller: Caller
) -> None:
    from sqlalchemy import insert, select

    from tessera.app import media as media_uc
    from tessera.app import series as series_uc
    from tessera.storage.models import Media, Series, series_media

    agencies.create(app, caller, "NL-NPU", country="NL", name="VIT")
    series_uc.create(app, caller, "Amber", "NL-NPU")
    sizes = [300, 100, 200, 100, 500, 200]
    with app.transaction() as s:
        sid = s.scalar(select(Series.id).where(Series.name == "Amber"))
        assert sid is not None
        ids = []
        for n, size in enumerate(sizes):
            m = Media(sha256=bytes([n]) * 32, kind="image", byte_size=size, submissions=1)
            s.add(m)
            s.flush()
            ids.append(m.id)
        s.execute(insert(series_media), [{"series_id": sid, "media_id": i} for i in ids])
    # the oracle: Python's sort of (size, id)
    want = [i for _, i in sorted(zip(sizes, ids, strict=True))]
    got = [
        it.id
        for off in (0, 2, 4)
        for it in media_uc.list_media(
            app, caller, series="Amber", sort="size", limit=2, offset=off
        ).items
    ]
    assert got == want
    down = media_uc.list_media(app, caller, series="Amber", sort="size", descending=True)
    assert [it.id for it in down.items] == want[::-1]
    with pytest.raises(InvalidInput):
        media_uc.list_media(app, caller, series="Amber", sort="sha256")

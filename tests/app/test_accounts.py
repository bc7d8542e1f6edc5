"""Accounts on both backends: argon2id passwords with lock-out, tokens shown once and
stored hashed, one generic error for every authentication failure, role rules."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from tessera.app import App, Caller, Role, accounts, agencies
from tessera.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from tessera.storage.models import ApiToken, User

PW = "correct horse battery staple"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with small parameters: the suite stays fast; the production profile is
    checked once in ``test_production_profile``."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def test_production_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real hasher
    stored = accounts.hash_password("a long enough password")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # RFC 9106 low-memory
    assert PasswordHasher().verify(stored, "a long enough password")


@pytest.fixture
def node(app: App, caller: Caller) -> App:
    agencies.create(app, caller, "NL-NPU", country="NL", name="VIT")
    agencies.create(app, caller, "DE-BKA", country="DE", name="BKA")
    accounts.create_user(
        app, caller, "Admin@Example.org", agency="NL-NPU", role="admin", password=PW
    )
    return app


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
        monkeypatch.setattr(accounts, "now", lambda: self.at)

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


def test_password_stored_as_argon2id_and_verifies(node: App) -> None:
    with node.transaction() as s:
        stored = s.scalar(select(User.password_hash).where(User.email == "admin@example.org"))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PW not in stored
    assert PasswordHasher().verify(stored, PW)  # an independent argon2 verifier agrees
    who = accounts.verify_password(node, "ADMIN@example.org", PW)
    assert (who.email, who.role, who.agency_code) == ("admin@example.org", Role.ADMIN, "NL-NPU")


def test_wrong_password_unknown_user_and_garbage_are_the_same_error(node: App) -> None:
    messages = set()
    for email, pw in [
        ("admin@example.org", "wrong password!!"),
        ("nobody@example.org", PW),
        ("not an email", PW),
    ]:
        with pytest.raises(Unauthenticated) as err:
            accounts.verify_password(node, email, pw)
        messages.add(err.value.message)
    assert len(messages) == 1


def test_lockout_after_repeated_failures(node: App, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(Unauthenticated):
            accounts.verify_password(node, "admin@example.org", "wrong password!!")
    with pytest.raises(Unauthenticated):  # locked: even the right password is refused
        accounts.verify_password(node, "admin@example.org", PW)
    clock.advance(minutes=16)
    assert accounts.verify_password(node, "admin@example.org", PW).email == "admin@example.org"


def test_lockout_per_client_address(
    node: App, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch)
    accounts.create_user(node, caller, "b@example.org", agency="NL-NPU", role="viewer", password=PW)
    for i in range(accounts.MAX_FAILURES):
        with pytest.raises(Unauthenticated):
            accounts.verify_password(node, f"u{i}@example.org", PW, client="10.0.0.9")
    with pytest.raises(Unauthenticated):
        accounts.verify_password(node, "b@example.org", PW, client="10.0.0.9")
    assert accounts.verify_password(node, "b@example.org", PW, client="10.0.0.10").email


def test_failures_spread_over_time_do_not_lock(node: App, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    for _ in range(accounts.MAX_FAILURES * 2):
        with pytest.raises(Unauthenticated):
            accounts.verify_password(node, "admin@example.org", "wrong password!!")
        clock.advance(minutes=8)
    assert accounts.verify_password(node, "admin@example.org", PW)


def test_disabled_user_cannot_log_in(node: App, caller: Caller) -> None:
    accounts.disable_user(node, caller, "admin@example.org")
    with pytest.raises(Unauthenticated):
        accounts.verify_password(node, "admin@example.org", PW)


def test_token_shown_once_stored_hashed_and_authenticates(node: App, caller: Caller) -> None:
    made = accounts.create_token(node, caller, "admin@example.org", name="ci", expires_days=30)
    assert made.token.startswith(made.summary.id + "_")
    secret = made.token[len(made.summary.id) + 1 :]
    with node.transaction() as s:
        row = s.scalar(select(ApiToken))
        assert row is not None
        assert row.secret_sha256 == hashlib.sha256(secret.encode()).digest()
        assert secret not in (row.public_id, row.name)
    who = accounts.authenticate_token(node, made.token, request_id="req-1")
    assert (who.email, who.role, who.agency_code, who.request_id) == (
        "admin@example.org",
        Role.ADMIN,
        "NL-NPU",
        "req-1",
    )
    assert made.summary.expires_at is not None
    listed = accounts.list_tokens(node, caller, "admin@example.org")
    assert [t.id for t in listed] == [made.summary.id]
    assert listed[0].last_used_at is not None


def test_every_token_failure_is_one_generic_error(
    node: App, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    good = accounts.create_token(node, caller, "admin@example.org", expires_days=1).token
    revoked = accounts.create_token(node, caller, "admin@example.org").token
    accounts.revoke_token(node, caller, revoked)  # a whole pasted token names its id
    public, secret = good[:20], good[21:]
    wrong_secret = public + "_" + ("A" if secret[0] != "A" else "B") + secret[1:]
    unknown = "tsr_aaaaaaaaaaaaaaaa_" + secret
    cases = {
        "revoked": revoked,
        "wrong secret": wrong_secret,
        "unknown": unknown,
        "garbage": "Bearer nonsense",
        "empty": "",
    }
    messages = set()
    for token in cases.values():
        with pytest.raises(Unauthenticated) as err:
            accounts.authenticate_token(node, token)
        messages.add((type(err.value), err.value.message))
    accounts.authenticate_token(node, good)  # still fine
    clock.advance(days=1, seconds=1)
    with pytest.raises(Unauthenticated) as err:
        accounts.authenticate_token(node, good)
    messages.add((type(err.value), err.value.message))
    assert len(messages) == 1


def test_disabling_a_user_kills_their_tokens(node: App, caller: Caller) -> None:
    token = accounts.create_token(node, caller, "admin@example.org").token
    accounts.disable_user(node, caller, "admin@example.org")
    with pytest.raises(Unauthenticated):
        accounts.authenticate_token(node, token)
    with pytest.raises(Conflict):
        accounts.create_token(node, caller, "admin@example.org")


def test_token_scope_never_exceeds_the_user(node: App, caller: Caller) -> None:
    scoped = accounts.create_token(node, caller, "admin@example.org", role="viewer").token
    assert accounts.authenticate_token(node, scoped).role is Role.VIEWER
    accounts.create_user(node, caller, "v@example.org", agency="NL-NPU", role="viewer", password=PW)
    with pytest.raises(InvalidInput):
        accounts.create_token(node, caller, "v@example.org", role="admin")


def test_roles_and_agencies_limit_who_manages_whom(node: App, caller: Caller) -> None:
    accounts.create_user(
        node, caller, "cur@example.org", agency="NL-NPU", role="curator", password=PW
    )
    curator = accounts.verify_password(node, "cur@example.org", PW)
    accounts.create_user(
        node, curator, "an@example.org", agency="NL-NPU", role="analyst", password=PW
    )
    with pytest.raises(PermissionDenied):
        accounts.create_user(
            node, curator, "x@example.org", agency="DE-BKA", role="viewer", password=PW
        )
    with pytest.raises(PermissionDenied):
        accounts.create_user(
            node, curator, "y@example.org", agency="NL-NPU", role="admin", password=PW
        )
    assert {u.email for u in accounts.list_users(node, curator)} == {
        "admin@example.org",
        "cur@example.org",
        "an@example.org",
    }
    analyst = accounts.verify_password(node, "an@example.org", PW)
    with pytest.raises(PermissionDenied):
        accounts.list_users(node, analyst)
    # An analyst makes tokens for themself, not for others (whose tokens do not exist for them).
    assert accounts.create_token(node, analyst, "an@example.org").summary.role == "analyst"
    with pytest.raises(PermissionDenied):
        accounts.create_token(node, analyst, "cur@example.org")
    other = accounts.create_token(node, caller, "cur@example.org").summary.id
    with pytest.raises(NotFound):
        accounts.revoke_token(node, analyst, other)


@pytest.mark.parametrize(
    ("email", "role", "password"),
    [
        ("bad", "viewer", PW),
        ("a@example.org", "superuser", PW),
        ("a@example.org", "viewer", "short"),
    ],
)
def test_bad_account_input(node: App, caller: Caller, email: str, role: str, password: str) -> None:
    with pytest.raises(InvalidInput):
        accounts.create_user(node, caller, email, agency="NL-NPU", role=role, password=password)


def test_duplicates_and_unknowns(node: App, caller: Caller) -> None:
    with pytest.raises(Conflict):
        accounts.create_user(
            node, caller, "ADMIN@example.org", agency="NL-NPU", role="viewer", password=PW
        )
    with pytest.raises(NotFound):
        accounts.create_user(
            node, caller, "n@example.org", agency="XX-NONE", role="viewer", password=PW
        )
    with pytest.raises(NotFound):
        accounts.disable_user(node, caller, "ghost@example.org")
    with pytest.raises(NotFound):
        accounts.revoke_token(node, caller, "tsr_aaaaaaaaaaaaaaaa")


def test_browser_session_login_csrf_and_logout(
    node: App, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    with pytest.raises(Unauthenticated):
        accounts.login(node, "admin@example.org", "wrong password!!")
    sess = accounts.login(node, "admin@example.org", PW, client="10.0.0.1")
    assert sess.expires_at == clock.at + accounts.SESSION_LIFETIME
    assert sess.summary.name == accounts.SESSION_NAME
    # Safe requests need only the cookie; unsafe ones the matching CSRF token too.
    who = accounts.authenticate_session(node, sess.cookie, csrf=None, unsafe=False)
    assert who.email == "admin@example.org"
    assert accounts.authenticate_session(node, sess.cookie, csrf=sess.csrf, unsafe=True).email
    other = accounts.login(node, "admin@example.org", PW)
    for bad in (None, "", other.csrf, sess.csrf[:-1] + "0"):
        if bad == sess.csrf:
            continue
        with pytest.raises(PermissionDenied):
            accounts.authenticate_session(node, sess.cookie, csrf=bad, unsafe=True)
    clock.advance(hours=12, seconds=1)
    with pytest.raises(Unauthenticated):
        accounts.authenticate_session(node, sess.cookie, csrf=sess.csrf, unsafe=False)
    accounts.logout(node, sess.cookie)  # already expired: no error
    fresh = accounts.login(node, "admin@example.org", PW)
    accounts.logout(node, fresh.cookie)
    with pytest.raises(Unauthenticated):
        accounts.authenticate_session(node, fresh.cookie, csrf=fresh.csrf, unsafe=False)
    accounts.logout(node, "garbage")

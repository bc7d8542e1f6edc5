"""Users, roles, API tokens and password checks: who a caller is.

There is no default account and no default secret: the first admin is made on
the node's own machine with ``tessera user create`` (the command line acts as the
node's local operator). Passwords are stored as argon2id hashes (argon2-cffi's
RFC 9106 low-memory profile); failed logins are counted per account and, when
given, per client address, and lock the key out for a while after too many.
API tokens are 256-bit random secrets shown once (``tsr_<id>_<secret>``); only
the SHA-256 of the secret is stored, with the token's role scope (never above the
user's), expiry, revocation and last use. Every failure to authenticate is the
same ``Unauthenticated`` error, so a caller never learns whether a token was
unknown, expired, revoked or its user disabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.retry import retried
from tessera.audit.entry import as_utc
from tessera.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from tessera.storage import accounts, repo
from tessera.storage.db import Session
from tessera.storage.models import ApiToken, User

ROLE_ORDER = (Role.VIEWER, Role.ANALYST, Role.CURATOR, Role.ADMIN, Role.OPERATOR)
TOKEN_PREFIX = "tsr"
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_FAILURES = 5
"""Failed logins per key within ``FAILURE_WINDOW`` before it is locked."""
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
LAST_USED_RESOLUTION = timedelta(seconds=60)
"""``last_used_at`` is written at most this often per token (no write per request)."""

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_TOKEN = re.compile(rf"^{TOKEN_PREFIX}_([a-z2-7]{{16}})_([A-Za-z0-9_-]{{43}})$")
_PUBLIC_ID = re.compile(rf"^({TOKEN_PREFIX}_[a-z2-7]{{16}})(?:_.*)?$")
_hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
_dummy: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash to verify against for unknown accounts (same cost, made once)."""
    key = str(_hasher.memory_cost)
    if key not in _dummy:
        _dummy[key] = _hasher.hash("tessera: equalises the time of unknown accounts")
    return _dummy[key]


_GENERIC = "invalid credentials"


def now() -> datetime:
    """The clock (tests replace it)."""
    return datetime.now(UTC)


def rank(role: Role | str) -> int:
    return ROLE_ORDER.index(Role(role))


def parse_role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError:
        names = ", ".join(r.value for r in ROLE_ORDER)
        raise InvalidInput(f"role {value!r} is not one of {names}") from None


def normalise_email(email: str) -> str:
    e = email.strip().lower()
    if len(e) > 254 or not _EMAIL.match(e):
        raise InvalidInput(f"{email!r} is not an e-mail address")
    return e


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD} characters")


def hash_password(password: str) -> str:
    """argon2id (PHC string with its parameters and salt)."""
    return _hasher.hash(password)


# -- results ---------------------------------------------------------------------------


class UserSummary(Result):
    email: str
    agency: str
    role: str
    disabled: bool
    created_at: Timestamp
    has_password: bool

    @classmethod
    def of(cls, u: User) -> UserSummary:
        return cls(
            email=u.email,
            agency=u.agency.code,
            role=u.role,
            disabled=u.disabled,
            created_at=as_utc(u.created_at),
            has_password=u.password_hash is not None,
        )


class TokenSummary(Result):
    id: str
    """The public part (``tsr_<id>``): safe to show, log and pass to ``token revoke``."""
    user: str
    role: str
    name: str | None
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None

    @classmethod
    def of(cls, t: ApiToken) -> TokenSummary:
        def aware(d: datetime | None) -> datetime | None:
            return as_utc(d) if d is not None else None

        return cls(
            id=t.public_id,
            user=t.user.email,
            role=t.role,
            name=t.name,
            created_at=as_utc(t.created_at),
            expires_at=aware(t.expires_at),
            revoked_at=aware(t.revoked_at),
            last_used_at=aware(t.last_used_at),
        )


class CreatedToken(Result):
    """A new token: ``token`` is the secret, shown this once and never stored."""

    token: str
    summary: TokenSummary


# -- permissions -----------------------------------------------------------------------


def _may_manage(caller: Caller, agency_code: str, role: Role) -> None:
    """Operators and admins manage everyone below operator (operators: all); curators
    manage their own agency's viewers, analysts and curators."""
    if caller.role is Role.OPERATOR:
        return
    if caller.role is Role.ADMIN and role is not Role.OPERATOR:
        return
    if (
        caller.role is Role.CURATOR
        and caller.agency_code == agency_code
        and rank(role) <= rank(Role.CURATOR)
    ):
        return
    raise PermissionDenied("your role may not manage this account")


# -- users -----------------------------------------------------------------------------


@retried
def create_user(
    app: App, caller: Caller, email: str, *, agency: str, role: str, password: str | None
) -> UserSummary:
    """A new account of ``agency`` with ``role`` (``password`` None: tokens only)."""
    email = normalise_email(email)
    r = parse_role(role)
    _may_manage(caller, agency, r)
    if password is not None:
        check_password_policy(password)
    pw_hash = hash_password(password) if password is not None else None
    with app.transaction() as s:
        ag = repo.get_agency(s, agency)
        user = accounts.create_user(s, email, ag, r.value, pw_hash)
        audit.record_in(
            s,
            app,
            caller,
            "user.create",
            target=f"user:{email}",
            params={"email": email, "agency": agency, "role": r.value},
        )
        return UserSummary.of(user)


def list_users(
    app: App,
    caller: Caller,
    *,
    limit: int | None = None,
    offset: int = 0,
    sort: str = "email",
    descending: bool = False,
) -> list[UserSummary]:
    """Every account (curators: their agency's), by e-mail or another
    ``accounts.USER_SORTS`` key (sorted in SQL); one page with ``limit``."""
    if (limit is not None and not 1 <= limit <= 1000) or offset < 0:
        raise InvalidInput("limit: 1..1000, offset: 0 or more")
    if rank(caller.role) < rank(Role.CURATOR):
        raise PermissionDenied("your role may not list accounts")
    with app.transaction() as s:
        agency = None
        if caller.role is Role.CURATOR:
            if not caller.agency_code:
                raise PermissionDenied("your role may not list accounts")
            agency = repo.get_agency(s, caller.agency_code)
        rows = accounts.list_users(
            s, agency, limit=limit, offset=offset, sort=sort, descending=descending
        )
        return [UserSummary.of(u) for u in rows]


@retried
def disable_user(app: App, caller: Caller, email: str) -> UserSummary:
    """Disable an account: its password and every token stop working at once."""
    email = normalise_email(email)
    with app.transaction() as s:
        user = accounts.get_user(s, email)
        _may_manage(caller, user.agency.code, Role(user.role))
        changed = accounts.disable_user(s, user, now())
        audit.record_in(
            s,
            app,
            caller,
            "user.disable",
            target=f"user:{email}",
            params={"email": email},
            result_count=int(changed),
        )
        return UserSummary.of(user)


@retried
def set_password(app: App, caller: Caller, email: str, password: str) -> UserSummary:
    """Set (or reset) an account's password."""
    email = normalise_email(email)
    check_password_policy(password)
    with app.transaction() as s:
        user = accounts.get_user(s, email)
        if caller.user_id != user.id:
            _may_manage(caller, user.agency.code, Role(user.role))
        user.password_hash = hash_password(password)
        accounts.clear_failures(s, f"user:{email}")
        audit.record_in(s, app, caller, "user.password", target=f"user:{email}")
        return UserSummary.of(user)


# -- passwords -------------------------------------------------------------------------


def _locked(app: App, keys: list[str], at: datetime) -> bool:
    with app.transaction() as s:
        for key in keys:
            row = accounts.throttle(s, key)
            if row and row.locked_until and as_utc(row.locked_until) > at:
                return True
    return False


@retried
def _fail(app: App, keys: list[str], at: datetime) -> None:
    with app.transaction() as s:
        for key in keys:
            row = accounts.record_failure(s, key, at, int(FAILURE_WINDOW.total_seconds()))
            if row.failures >= MAX_FAILURES:
                row.locked_until = at + LOCKOUT


def verify_password(
    app: App, email: str, password: str, *, client: str | None = None, request_id: str | None = None
) -> Caller:
    """The caller behind ``email`` and ``password``; ``Unauthenticated`` otherwise.

    After ``MAX_FAILURES`` failures within ``FAILURE_WINDOW`` for the account (or
    for ``client``, e.g. the remote address) the key is locked for ``LOCKOUT``,
    even for the right password. Unknown accounts cost the same argon2 time.
    """
    at = now()
    try:
        email = normalise_email(email)
    except InvalidInput:
        raise Unauthenticated(_GENERIC) from None
    keys = [f"user:{email}"] + ([f"client:{client}"] if client else [])
    if _locked(app, keys, at):
        raise Unauthenticated(_GENERIC)
    with app.transaction() as s:
        user = accounts.find_user(s, email)
        stored = user.password_hash if user is not None else None
    ok = False
    try:
        ok = _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        _fail(app, keys, at)
        raise Unauthenticated(_GENERIC)
    _succeeded(
        app, keys, email, password if stored and _hasher.check_needs_rehash(stored) else None
    )
    return _caller(user, Role(user.role), request_id)


@retried  # its own transaction: the reads before it committed already
def _succeeded(app: App, keys: list[str], email: str, rehash: str | None) -> None:
    """A right password: its failures forgotten, its hash renewed where ``rehash``."""
    with app.transaction() as s:
        for key in keys:
            accounts.clear_failures(s, key)
        if rehash is not None:
            accounts.get_user(s, email).password_hash = hash_password(rehash)


# -- tokens ----------------------------------------------------------------------------


def _caller(user: User, role: Role, request_id: str | None) -> Caller:
    extra = {"request_id": request_id} if request_id else {}
    return Caller(
        role=role, user_id=user.id, email=user.email, agency_code=user.agency.code, **extra
    )


def _new_public_id() -> str:
    # 16 base32 characters (80 bits): unique, safe in URLs, logs and shells.
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


@retried
def create_token(
    app: App,
    caller: Caller,
    email: str,
    *,
    expires_days: int = DEFAULT_TOKEN_DAYS,
    name: str | None = None,
    role: str | None = None,
) -> CreatedToken:
    """A new bearer token for ``email``, scoped to ``role`` (default: the user's).

    Every token expires (1 to ``MAX_TOKEN_DAYS`` days).
    """
    email = normalise_email(email)
    if not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"--expires-days must be 1..{MAX_TOKEN_DAYS}")
    if name is not None and (len(name) > 200 or not name.isprintable()):
        raise InvalidInput("a token name has at most 200 printable characters")
    with app.transaction() as s:
        user = accounts.get_user(s, email)
        if caller.user_id != user.id:
            _may_manage(caller, user.agency.code, Role(user.role))
        if user.disabled:
            raise Conflict(f"user {email!r} is disabled")
        scope = parse_role(role) if role else Role(user.role)
        if rank(scope) > rank(user.role):
            raise InvalidInput(f"a token's role cannot exceed its user's ({user.role})")
        token, secret = _issue(s, user, scope, name, timedelta(days=expires_days))
        audit.record_in(
            s,
            app,
            caller,
            "token.create",
            target=f"token:{token.public_id}",
            params={"user": email, "role": scope.value, "expires_days": expires_days, "name": name},
        )
        return CreatedToken(token=secret, summary=TokenSummary.of(token))


def _issue(
    s: Session, user: User, scope: Role, name: str | None, lifetime: timedelta
) -> tuple[ApiToken, str]:
    """Store a new token (hash only) and return it with its whole secret text."""
    public = f"{TOKEN_PREFIX}_{_new_public_id()}"
    secret = secrets.token_urlsafe(32)
    created = now()
    token = accounts.add_token(
        s,
        user,
        public_id=public,
        secret_sha256=hashlib.sha256(secret.encode()).digest(),
        role=scope.value,
        name=name,
        expires_at=created + lifetime,
    )
    token.created_at = created
    return token, f"{public}_{secret}"


@retried
def revoke_token(app: App, caller: Caller, token_id: str) -> TokenSummary:
    """Revoke token ``tsr_<id>`` (the id ``token create`` printed); idempotent."""
    m = _PUBLIC_ID.match(token_id.strip())  # the id, or a whole token pasted
    if m is None:
        raise NotFound(f"no token {token_id.strip()[:24]!r}")
    public_id = m.group(1)
    with app.transaction() as s:
        token = accounts.token_by_public_id(s, public_id)
        if token is None:
            raise NotFound(f"no token {public_id!r}")
        if caller.user_id != token.user_id:
            try:
                _may_manage(caller, token.user.agency.code, Role(token.user.role))
            except PermissionDenied:
                raise NotFound(f"no token {public_id!r}") from None
        if token.revoked_at is None:
            token.revoked_at = now()
        audit.record_in(s, app, caller, "token.revoke", target=f"token:{public_id}")
        return TokenSummary.of(token)


def list_tokens(
    app: App,
    caller: Caller,
    email: str,
    *,
    sort: str = "created",
    descending: bool = False,
    limit: int | None = None,
    offset: int = 0,
    sessions: bool = True,
) -> list[TokenSummary]:
    """The user's API tokens, oldest first or in another ``accounts.TOKEN_SORTS``
    order (sorted in SQL); one page with ``limit``; without web sessions when
    ``sessions`` is False."""
    if (limit is not None and not 1 <= limit <= 1000) or offset < 0:
        raise InvalidInput("limit: 1..1000, offset: 0 or more")
    email = normalise_email(email)
    with app.transaction() as s:
        user = accounts.get_user(s, email)
        if caller.user_id != user.id:
            _may_manage(caller, user.agency.code, Role(user.role))
        rows = accounts.tokens_of(
            s,
            user,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
            exclude_name=None if sessions else SESSION_NAME,
        )
        return [TokenSummary.of(t) for t in rows]


@retried  # it may write the token's last use
def authenticate_token(app: App, token: str, *, request_id: str | None = None) -> Caller:
    """The caller a bearer token stands for; ``Unauthenticated`` for any failure.

    Malformed, unknown, wrong secret, expired, revoked, user disabled: one generic
    error, never which. The caller's role is the token's scope (never above the
    user's current role, in case it was lowered since).
    """
    m = _TOKEN.match(token.strip())
    if m is None:
        raise Unauthenticated(_GENERIC)
    public_id = f"{TOKEN_PREFIX}_{m.group(1)}"
    digest = hashlib.sha256(m.group(2).encode()).digest()
    at = now()
    with app.transaction() as s:
        t = accounts.token_by_public_id(s, public_id)
        if (
            t is None
            or not hmac.compare_digest(t.secret_sha256, digest)
            or t.revoked_at is not None
            or (t.expires_at is not None and as_utc(t.expires_at) <= at)
            or t.user.disabled
        ):
            raise Unauthenticated(_GENERIC)
        if t.last_used_at is None or at - as_utc(t.last_used_at) >= LAST_USED_RESOLUTION:
            t.last_used_at = at
        role = min(Role(t.role), Role(t.user.role), key=rank)
        return _caller(t.user, role, request_id)


# -- browser sessions -------------------------------------------------------------------

SESSION_LIFETIME = timedelta(hours=12)
SESSION_NAME = "browser session"
_CSRF_CONTEXT = b"tessera csrf v1"


class BrowserSession(Result):
    """A signed-in browser: ``cookie`` goes in an HttpOnly, Secure, SameSite=Strict
    cookie; ``csrf`` is given to the page and must come back (header or form field)
    with every unsafe request. Both are shown this once."""

    cookie: str
    csrf: str
    expires_at: Timestamp
    summary: TokenSummary


def csrf_token(cookie: str) -> str:
    """The CSRF token bound to a session cookie (HMAC-SHA256 keyed by its secret):
    nothing to store, and a page of another origin cannot compute it."""
    return hmac.new(cookie.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def login(
    app: App, email: str, password: str, *, client: str | None = None, request_id: str | None = None
) -> BrowserSession:
    """Password sign-in (rate-limited as ``verify_password``) -> a 12-hour session."""
    caller = verify_password(app, email, password, client=client, request_id=request_id)
    summary, cookie = _open_session(app, caller)
    assert summary.expires_at is not None
    return BrowserSession(
        cookie=cookie, csrf=csrf_token(cookie), expires_at=summary.expires_at, summary=summary
    )


@retried  # its own transaction: the password's check committed before it
def _open_session(app: App, caller: Caller) -> tuple[TokenSummary, str]:
    with app.transaction() as s:
        user = accounts.get_user(s, caller.email or "")
        token, cookie = _issue(s, user, Role(user.role), SESSION_NAME, SESSION_LIFETIME)
        audit.record_in(s, app, caller, "session.create", target=f"token:{token.public_id}")
        return TokenSummary.of(token), cookie


def authenticate_session(
    app: App,
    cookie: str,
    *,
    csrf: str | None,
    unsafe: bool,
    request_id: str | None = None,
) -> Caller:
    """The caller of a session cookie; for unsafe methods (POST, PUT, PATCH, DELETE)
    the CSRF token must match too (``PermissionDenied`` when it does not)."""
    caller = authenticate_token(app, cookie, request_id=request_id)
    if unsafe and (csrf is None or not hmac.compare_digest(csrf, csrf_token(cookie))):
        raise PermissionDenied("missing or wrong CSRF token")
    return caller


def logout(app: App, cookie: str) -> None:
    """End a session (revoke its token); an unknown or ended session is no error."""
    try:
        caller = authenticate_token(app, cookie)
    except Unauthenticated:
        return
    revoke_token(app, caller, cookie)


__all__ = [
    "ROLE_ORDER",
    "BrowserSession",
    "CreatedToken",
    "TokenSummary",
    "UserSummary",
    "authenticate_session",
    "authenticate_token",
    "create_token",
    "create_user",
    "csrf_token",
    "disable_user",
    "hash_password",
    "list_tokens",
    "list_users",
    "login",
    "logout",
    "parse_role",
    "rank",
    "revoke_token",
    "set_password",
    "verify_password",
]

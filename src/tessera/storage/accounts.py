"""Users, API tokens and failed-login counters: the rows behind accounts.

Only hashes of secrets are stored: argon2id strings for passwords (computed in
``tessera.app.accounts``) and SHA-256 of token secrets (a token is 256 random
bits, so a fast hash is enough and lookups stay O(1) by ``public_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, joinedload

from tessera.audit.entry import as_utc
from tessera.errors import Conflict, NotFound
from tessera.storage.models import Agency, ApiToken, LoginThrottle, User, utcnow
from tessera.storage.sorting import ordered


def create_user(
    s: Session, email: str, agency: Agency, role: str, password_hash: str | None
) -> User:
    if s.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"user {email!r} already exists")
    user = User(
        email=email, agency_id=agency.id, role=role, password_hash=password_hash, disabled=False
    )
    user.agency = agency
    s.add(user)
    s.flush()
    return user


def find_user(s: Session, email: str) -> User | None:
    return s.scalar(select(User).options(joinedload(User.agency)).where(User.email == email))


def get_user(s: Session, email: str) -> User:
    user = find_user(s, email)
    if user is None:
        raise NotFound(f"no user {email!r}")
    return user


USER_SORTS = ("email", "role", "agency", "created", "disabled")
TOKEN_SORTS = ("created", "name", "expires", "last-used", "revoked")


def list_users(
    s: Session,
    agency: Agency | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
    sort: str = "email",
    descending: bool = False,
) -> Sequence[User]:
    """Users of one agency (or all) in ``sort`` order (``USER_SORTS``), one page when
    ``limit`` is given."""
    q = select(User).join(Agency, Agency.id == User.agency_id).options(joinedload(User.agency))
    keys = {
        "email": User.email,
        "role": User.role,
        "agency": Agency.code,
        "created": User.created_at,
        "disabled": User.disabled,
    }
    q = ordered(q, keys, sort, descending=descending, tie=User.email, what="users")
    if agency is not None:
        q = q.where(User.agency_id == agency.id)
    if limit is not None:
        q = q.limit(limit).offset(offset)
    return s.scalars(q).all()


def count_users(s: Session) -> int:
    return len(s.scalars(select(User.id)).all())


def disable_user(s: Session, user: User, at: datetime | None = None) -> bool:
    """Disable ``user``; False when already disabled."""
    if user.disabled:
        return False
    user.disabled = True
    user.disabled_at = at or utcnow()
    s.flush()
    return True


def add_token(
    s: Session,
    user: User,
    *,
    public_id: str,
    secret_sha256: bytes,
    role: str,
    name: str | None,
    expires_at: datetime | None,
) -> ApiToken:
    token = ApiToken(
        public_id=public_id,
        secret_sha256=secret_sha256,
        user_id=user.id,
        role=role,
        name=name,
        expires_at=expires_at,
    )
    token.user = user
    s.add(token)
    s.flush()
    return token


def token_by_public_id(s: Session, public_id: str) -> ApiToken | None:
    return s.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.user).joinedload(User.agency))
        .where(ApiToken.public_id == public_id)
    )


def tokens_of(
    s: Session,
    user: User,
    *,
    sort: str = "created",
    descending: bool = False,
    limit: int | None = None,
    offset: int = 0,
    exclude_name: str | None = None,
) -> Sequence[ApiToken]:
    """The user's tokens in ``sort`` order (``TOKEN_SORTS``; oldest first by default),
    one page when ``limit`` is given, without those named ``exclude_name``."""
    keys = {
        "created": ApiToken.created_at,
        "name": ApiToken.name,
        "expires": ApiToken.expires_at,
        "last-used": ApiToken.last_used_at,
        "revoked": ApiToken.revoked_at,
    }
    q = select(ApiToken).where(ApiToken.user_id == user.id)
    if exclude_name is not None:
        q = q.where(or_(ApiToken.name.is_(None), ApiToken.name != exclude_name))
    q = ordered(q, keys, sort, descending=descending, tie=ApiToken.id, what="tokens")
    if limit is not None:
        q = q.limit(limit).offset(offset)
    return s.scalars(q).all()


def throttle(s: Session, key: str) -> LoginThrottle | None:
    return s.get(LoginThrottle, key, with_for_update=True)


def record_failure(s: Session, key: str, now: datetime, window_seconds: int) -> LoginThrottle:
    """Count one failed login for ``key`` within a sliding-start window."""
    row = throttle(s, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, window_start=now)
        s.add(row)
    elif (now - as_utc(row.window_start)).total_seconds() > window_seconds:
        row.failures = 0
        row.window_start = now
        row.locked_until = None
    row.failures += 1
    s.flush()
    return row


def clear_failures(s: Session, key: str) -> None:
    s.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


__all__ = [
    "TOKEN_SORTS",
    "USER_SORTS",
    "add_token",
    "clear_failures",
    "count_users",
    "create_user",
    "disable_user",
    "find_user",
    "get_user",
    "list_users",
    "record_failure",
    "throttle",
    "token_by_public_id",
    "tokens_of",
]

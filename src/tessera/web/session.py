"""Browser sessions: the cookie, the CSRF token, and who the caller of a page is.

The session is the accounts' browser session (``tessera.app.accounts.login``):
a token in an HttpOnly, SameSite=Strict cookie (Secure when the page came over
https; plain http is only for loopback), and a CSRF token derived from it that
every form (hidden field ``csrf``) and every unsafe fetch (header
``X-CSRF-Token``) sends back. The sign-in form itself is protected by a
double-submit token in a short-lived cookie (no session exists yet).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response

from tessera.api.auth import TokenCache
from tessera.api.state import state_of
from tessera.app import App, Caller
from tessera.app.accounts import authenticate_session, csrf_token
from tessera.errors import InvalidInput, PermissionDenied, Unauthenticated

COOKIE = "tessera_session"
LOGIN_COOKIE = "tessera_signin"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def app_of(request: Request) -> App:
    """The request's ``App``: while a page's unit of work is open (``render.WebRoute``),
    that unit (one transaction for the page's use cases), else the process's."""
    unit: App | None = getattr(request.state, "unit", None)
    return unit if unit is not None else state_of(request).app


def forget_tokens(request: Request) -> None:
    """After a revocation, sign-out or disabled account: this process checks every
    token again at its next use (other workers within ``TOKEN_CACHE_SECONDS``)."""
    authenticate = state_of(request).authenticate
    if isinstance(authenticate, TokenCache):
        authenticate.forget_all()


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="strict", secure=is_https(request)
    )


def new_signin_token() -> str:
    return secrets.token_urlsafe(24)


def check_signin_token(request: Request, sent: str | None) -> None:
    """The sign-in form's double-submit check (cookie == hidden field)."""
    kept = request.cookies.get(LOGIN_COOKIE)
    if not kept or not sent or not hmac.compare_digest(kept, sent):
        raise InvalidInput("the sign-in form expired: reload the page and sign in again")


async def _csrf_sent(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(_FORMS):
        form = await request.form()  # cached: the route's Form() fields read the same
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def web_caller(request: Request) -> Caller:
    """The signed-in caller of this request; ``Unauthenticated`` without a session.

    Unsafe methods must carry the session's CSRF token (else ``InvalidInput``:
    the page is stale or the request came from elsewhere).
    """
    cookie = request.cookies.get(COOKIE)
    if not cookie or len(cookie) > 512:
        raise Unauthenticated("sign in first")
    unsafe = request.method in UNSAFE
    csrf = await _csrf_sent(request) if unsafe else None
    request_id = request.headers.get("x-request-id")
    try:
        caller = authenticate_session(
            app_of(request),
            cookie,
            csrf=csrf,
            unsafe=unsafe,
            request_id=request_id[:64] if request_id else None,
        )
    except PermissionDenied:
        raise InvalidInput(
            "this form is out of date (missing or wrong CSRF token): reload the page"
        ) from None
    request.state.csrf = csrf_token(cookie)
    return caller


WebCaller = Annotated[Caller, Depends(web_caller)]


__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "WebCaller",
    "app_of",
    "check_signin_token",
    "clear_cookie",
    "forget_tokens",
    "new_signin_token",
    "set_cookie",
    "web_caller",
]

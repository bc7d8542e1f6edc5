"""Sign-in and sign-out (``/login``, ``/logout``).

Sign-in is the accounts' rate-limited password check (``accounts.login``); the
session cookie it sets is HttpOnly and SameSite=Strict (Secure over https).
Every failure says the same thing. Sign-out revokes the session's token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tessera.app.accounts import SESSION_LIFETIME, login, logout
from tessera.errors import InvalidInput, Unauthenticated
from tessera.web.render import WebRoute, bare_page, redirect, safe_next
from tessera.web.session import (
    COOKIE,
    LOGIN_COOKIE,
    WebCaller,
    app_of,
    check_signin_token,
    clear_cookie,
    forget_tokens,
    new_signin_token,
    set_cookie,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
SIGNIN_FORM_SECONDS = 30 * 60


def _form(request: Request, *, next_url: str, error: str | None, status: int) -> HTMLResponse:
    token = new_signin_token()
    resp = bare_page(
        "login.html", status=status, title="Sign in", next_url=next_url, error=error, token=token
    )
    set_cookie(request, resp, LOGIN_COOKIE, token, SIGNIN_FORM_SECONDS)
    return resp


@router.get("/login")
def signin_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _form(request, next_url=safe_next(next), error=None, status=200)


@router.post("/login", response_model=None)
def signin(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    token: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> HTMLResponse | RedirectResponse:
    target = safe_next(next)
    try:
        check_signin_token(request, token)
    except InvalidInput as e:
        return _form(request, next_url=target, error=str(e.message), status=400)
    client = request.client.host if request.client else None
    try:
        session = login(app_of(request), email, password, client=client)
    except Unauthenticated:
        return _form(
            request,
            next_url=target,
            error="Wrong e-mail or password, or too many attempts: wait and try again.",
            status=401,
        )
    resp = redirect(target)
    set_cookie(request, resp, COOKIE, session.cookie, int(SESSION_LIFETIME.total_seconds()))
    clear_cookie(request, resp, LOGIN_COOKIE)
    return resp


@router.post("/logout")
def signout(request: Request, caller: WebCaller) -> RedirectResponse:
    cookie = request.cookies.get(COOKIE, "")
    logout(app_of(request), cookie)
    forget_tokens(request)
    resp = redirect("/login")
    clear_cookie(request, resp, COOKIE)
    return resp

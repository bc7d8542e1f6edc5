"""Admin (``/admin``): users, API tokens, the sharing defaults, the audit log.

Everyone sees and manages their own API tokens here; curators also their
agency's users and audit entries; admins and operators every user and entry.
A new token is shown once, on the page that created it. The audit log pages
back from the newest entry in the database; "verify" recomputes the Merkle tree
and checks every signed checkpoint (``tessera audit verify``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tessera.app import Caller
from tessera.app import accounts as accounts_uc
from tessera.app import audit as audit_uc
from tessera.app.accounts import rank
from tessera.app.caller import Role
from tessera.app.visibility import DEFAULT_CASE_LEVEL, DEFAULT_SERIES_LEVEL
from tessera.web.render import WebRoute, page, redirect
from tessera.web.session import WebCaller, app_of, forget_tokens

router = APIRouter(route_class=WebRoute, include_in_schema=False)
AUDIT_PAGE = 50
USERS_PAGE = 50


def _admin_page(
    request: Request,
    caller: Caller,
    *,
    before: int | None = None,
    verify: bool = False,
    new_token: accounts_uc.CreatedToken | None = None,
    users_page: int = 1,
) -> HTMLResponse:
    app = app_of(request)
    curator = rank(caller.role) >= rank(Role.CURATOR)
    users = (
        accounts_uc.list_users(
            app, caller, limit=USERS_PAGE + 1, offset=(users_page - 1) * USERS_PAGE
        )
        if curator
        else []
    )
    tokens = accounts_uc.list_tokens(app, caller, caller.email) if caller.email else []
    entries = (
        audit_uc.show(app, caller, limit=AUDIT_PAGE, before=before, newest_first=True)
        if curator
        else []
    )
    may_verify = caller.role in (Role.ADMIN, Role.OPERATOR)
    verification = audit_uc.verify(app, caller) if verify and may_verify else None
    return page(
        request,
        caller,
        "admin.html",
        title="Admin",
        curator=curator,
        may_verify=may_verify,
        users=users[:USERS_PAGE],
        users_page=users_page,
        more_users=len(users) > USERS_PAGE,
        tokens=[t for t in tokens if t.name != accounts_uc.SESSION_NAME],
        entries=entries,
        next_before=entries[-1].seq if len(entries) == AUDIT_PAGE else None,
        verification=verification,
        new_token=new_token,
        defaults={"series": DEFAULT_SERIES_LEVEL.label, "case": DEFAULT_CASE_LEVEL.label},
        roles=[r.value for r in accounts_uc.ROLE_ORDER if rank(r) <= rank(caller.role)],
    )


@router.get("/admin")
def admin(
    request: Request,
    caller: WebCaller,
    before: Annotated[int | None, Query(ge=1)] = None,
    verify: Annotated[bool, Query()] = False,
    users_page: Annotated[int, Query(alias="users", ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    return _admin_page(request, caller, before=before, verify=verify, users_page=users_page)


@router.post("/admin/tokens")
def create_token(
    request: Request,
    caller: WebCaller,
    name: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[int, Form(ge=1, le=accounts_uc.MAX_TOKEN_DAYS)] = 90,
) -> HTMLResponse:
    created = accounts_uc.create_token(
        app_of(request), caller, caller.email or "", expires_days=days, name=name.strip() or None
    )
    return _admin_page(request, caller, new_token=created)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(request: Request, caller: WebCaller, token_id: str) -> RedirectResponse:
    accounts_uc.revoke_token(app_of(request), caller, token_id)
    forget_tokens(request)
    return redirect("/admin")


@router.post("/admin/users")
def create_user(
    request: Request,
    caller: WebCaller,
    email: Annotated[str, Form(max_length=254)],
    role: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=1024)],
    agency: Annotated[str, Form(max_length=32)] = "",
) -> RedirectResponse:
    accounts_uc.create_user(
        app_of(request),
        caller,
        email,
        agency=agency.strip() or caller.agency_code or "",
        role=role,
        password=password,
    )
    return redirect("/admin")


@router.post("/admin/users/{email}/disable")
def disable_user(request: Request, caller: WebCaller, email: str) -> RedirectResponse:
    accounts_uc.disable_user(app_of(request), caller, email)
    forget_tokens(request)
    return redirect("/admin")

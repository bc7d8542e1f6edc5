"""Admin (``/admin``): users, API tokens, the sharing defaults, the audit log.

Everyone sees and manages their own API tokens here; curators also their
agency's users and audit entries; admins and operators every user and entry.
A new token is shown once, on the page that created it. The audit log pages
back from the newest entry in the database; "verify" recomputes the Merkle tree
and checks every signed checkpoint (``tessera audit verify``).
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tessera.app import Caller
from tessera.app import accounts as accounts_uc
from tessera.app import audit as audit_uc
from tessera.app import sharing_defaults as defaults_uc
from tessera.app.accounts import rank
from tessera.app.caller import Role
from tessera.app.visibility import DEFAULT_CASE_LEVEL, DEFAULT_SERIES_LEVEL
from tessera.web.render import WebRoute, page, redirect
from tessera.web.session import WebCaller, app_of, forget_tokens
from tessera.web.sorting import list_sort

router = APIRouter(route_class=WebRoute, include_in_schema=False)
AUDIT_PAGE = 50
USERS_PAGE = 50
TOKENS_PAGE = 25


def _admin_page(
    request: Request,
    caller: Caller,
    *,
    before: int | None = None,
    verify: bool = False,
    new_token: accounts_uc.CreatedToken | None = None,
) -> HTMLResponse:
    app = app_of(request)
    curator = rank(caller.role) >= rank(Role.CURATOR)
    users_sort = list_sort(request, prefix="users_", default="email")
    tokens_sort = list_sort(request, prefix="tokens_", default="created")
    audit_sort = list_sort(request, prefix="audit_", default="seq", default_desc=True)
    users = (
        accounts_uc.list_users(
            app,
            caller,
            limit=USERS_PAGE + 1,
            offset=users_sort.offset(USERS_PAGE),
            sort=users_sort.key,
            descending=users_sort.desc,
        )
        if curator
        else []
    )
    tokens = (
        accounts_uc.list_tokens(
            app,
            caller,
            caller.email,
            sort=tokens_sort.key,
            descending=tokens_sort.desc,
            limit=TOKENS_PAGE + 1,
            offset=tokens_sort.offset(TOKENS_PAGE),
            sessions=False,
        )
        if caller.email
        else []
    )
    # newest first pages back by seq (``before``); another order pages by offset
    keyset = audit_sort.key == "seq" and audit_sort.desc and audit_sort.page_no == 1
    entries = (
        audit_uc.show(
            app,
            caller,
            limit=AUDIT_PAGE + 1,
            before=before if keyset else None,
            newest_first=audit_sort.desc,
            sort=audit_sort.key,
            offset=0 if keyset else audit_sort.offset(AUDIT_PAGE),
        )
        if curator
        else []
    )
    more_entries = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    may_verify = caller.role in (Role.ADMIN, Role.OPERATOR)
    node_admin = caller.role in (Role.ADMIN, Role.OPERATOR)
    wanted = request.query_params.get("defaults_agency", "").strip()[:32]
    defaults_code = (wanted if node_admin else "") or caller.agency_code
    defaults = defaults_uc.show(app, caller, defaults_code) if curator and defaults_code else None
    verification = audit_uc.verify(app, caller) if verify and may_verify else None
    return page(
        request,
        caller,
        "admin.html",
        title="Admin",
        curator=curator,
        may_verify=may_verify,
        users=users[:USERS_PAGE],
        users_sort=users_sort,
        more_users=len(users) > USERS_PAGE,
        tokens=tokens[:TOKENS_PAGE],
        tokens_sort=tokens_sort,
        more_tokens=len(tokens) > TOKENS_PAGE,
        entries=entries,
        audit_sort=audit_sort,
        audit_keyset=keyset,
        more_entries=more_entries,
        next_before=entries[-1].seq if keyset and more_entries else None,
        verification=verification,
        new_token=new_token,
        node_defaults={"series": DEFAULT_SERIES_LEVEL.label, "case": DEFAULT_CASE_LEVEL.label},
        defaults=defaults,
        node_admin=node_admin,
        roles=[r.value for r in accounts_uc.ROLE_ORDER if rank(r) <= rank(caller.role)],
    )


@router.get("/admin")
def admin(
    request: Request,
    caller: WebCaller,
    before: Annotated[int | None, Query(ge=1)] = None,
    verify: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    return _admin_page(request, caller, before=before, verify=verify)


Choice = Literal["node", "none", "hash", "status", "full"]


@router.post("/admin/sharing-defaults")
def set_sharing_defaults(
    request: Request,
    caller: WebCaller,
    agency: Annotated[str, Form(max_length=32)],
    series_level: Annotated[Choice, Form()],
    case_level: Annotated[Choice, Form()],
) -> RedirectResponse:
    """A curator sets their agency's defaults for new series and cases; an admin any agency's."""
    defaults_uc.set_defaults(
        app_of(request),
        caller,
        agency.strip(),
        series_level=None if series_level == "node" else series_level,
        case_level=None if case_level == "node" else case_level,
    )
    return redirect(f"/admin?defaults_agency={quote(agency.strip(), safe='')}#h-defaults")


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

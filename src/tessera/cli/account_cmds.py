"""``tessera user ...`` and ``tessera token ...``: accounts, made on the node itself.

The command line acts as the node's local operator, so the first admin of a new
node is created here (there is no default account). Passwords come from a
prompt (typed twice, not echoed) or, for scripts, one line on stdin with
``--password-stdin``; never from an argument, where ``ps`` and shell history
would keep them.
"""

from __future__ import annotations

import sys

import click

from tessera.app import accounts
from tessera.cli.context import CliContext, emit, pass_app


@click.group("user")
def user_group() -> None:
    """Accounts: people of agencies with a role (viewer, analyst, curator, admin, operator)."""


@user_group.command("create")
@click.argument("email")
@click.option("--agency", "agency_code", required=True, help="The user's agency code.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in accounts.ROLE_ORDER], case_sensitive=False),
    help="What the user may do.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def user_create(
    cli: CliContext, email: str, agency_code: str, role: str, password_stdin: bool, as_json: bool
) -> None:
    """Create account EMAIL of agency CODE with ROLE (asks for its password)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"Password for {email}", hide_input=True, confirmation_prompt=True, err=True
        )
    u = accounts.create_user(
        cli.app, cli.caller, email, agency=agency_code, role=role, password=password
    )
    emit(u, as_json, f"user {u.email} ({u.role}, {u.agency}) created")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def user_list(cli: CliContext, as_json: bool) -> None:
    """List accounts."""
    rows = accounts.list_users(cli.app, cli.caller)
    text = "\n".join(
        f"{u.email:32s} {u.agency:16s} {u.role:9s} {'disabled' if u.disabled else 'active'}"
        for u in rows
    )
    emit(rows, as_json, text or "(no users)")


@user_group.command("disable")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def user_disable(cli: CliContext, email: str, as_json: bool) -> None:
    """Disable account EMAIL: its password and tokens stop working at once."""
    u = accounts.disable_user(cli.app, cli.caller, email)
    emit(u, as_json, f"user {u.email} disabled")


@click.group("token")
def token_group() -> None:
    """API tokens (``Authorization: Bearer TOKEN``): shown once, stored hashed."""


@token_group.command("create")
@click.option("--user", "email", required=True, help="The account the token acts for.")
@click.option(
    "--expires-days",
    type=int,
    default=accounts.DEFAULT_TOKEN_DAYS,
    show_default=True,
    help="Days until the token expires.",
)
@click.option("--name", help="What the token is for (shown in listings).")
@click.option(
    "--role",
    type=click.Choice([r.value for r in accounts.ROLE_ORDER], case_sensitive=False),
    help="Scope the token to a lower role than its user's.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def token_create(
    cli: CliContext,
    email: str,
    expires_days: int,
    name: str | None,
    role: str | None,
    as_json: bool,
) -> None:
    """Create a token for --user and print it (this is the only time it is shown)."""
    t = accounts.create_token(
        cli.app, cli.caller, email, expires_days=expires_days, name=name, role=role
    )
    s = t.summary
    expires = s.expires_at.date().isoformat() if s.expires_at else "never"
    emit(
        t,
        as_json,
        f"{t.token}\n"
        f"token {s.id} for {s.user} ({s.role}), expires {expires}. "
        "Store it now: it cannot be shown again.",
    )


@token_group.command("revoke")
@click.argument("token_id")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def token_revoke(cli: CliContext, token_id: str, as_json: bool) -> None:
    """Revoke token ID (``tsr_...`` as ``token create`` printed it)."""
    s = accounts.revoke_token(cli.app, cli.caller, token_id)
    emit(s, as_json, f"token {s.id} of {s.user} revoked")


@token_group.command("list")
@click.option("--user", "email", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def token_list(cli: CliContext, email: str, as_json: bool) -> None:
    """List a user's tokens (ids, scope, expiry, revocation, last use; never secrets)."""
    rows = accounts.list_tokens(cli.app, cli.caller, email)

    def when(d: object) -> str:
        return d.isoformat(timespec="seconds") if d is not None else "-"  # type: ignore[attr-defined]

    text = "\n".join(
        f"{t.id:22s} {t.role:9s} expires {when(t.expires_at):25s} "
        f"{'revoked' if t.revoked_at else 'active':8s} last used {when(t.last_used_at)}"
        f"{'  ' + t.name if t.name else ''}"
        for t in rows
    )
    emit(rows, as_json, text or "(no tokens)")


__all__ = ["token_group", "user_group"]

"""The caller type and the one error -> HTTP mapping."""

from __future__ import annotations

import pytest

from tessera.app import Caller, Role
from tessera.app.problems import problem_for
from tessera.errors import (
    ConfigError,
    Conflict,
    Contention,
    CorruptMedia,
    InvalidFingerprint,
    NotFound,
    PermissionDenied,
    TesseraError,
    Unauthenticated,
)


def test_local_operator_is_an_operator_without_account() -> None:
    a, b = Caller.local_operator(), Caller.local_operator()
    assert a.role is Role.OPERATOR and a.user_id is None and a.is_local_operator
    assert a.request_id != b.request_id
    user = Caller(role=Role.ANALYST, user_id=7, email="a@example.org", agency_code="NL-NPU")
    assert not user.is_local_operator
    assert [r.value for r in Role] == ["viewer", "analyst", "curator", "admin", "operator"]


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [
        (NotFound("no series 'x'"), 404, "/problems/not-found"),
        (Unauthenticated("bad token"), 401, "/problems/unauthenticated"),
        (PermissionDenied("viewer"), 403, "/problems/forbidden"),
        (Conflict("exists"), 409, "/problems/conflict"),
        (Contention("another writer; try again"), 409, "/problems/conflict"),
        (InvalidFingerprint("bad hex"), 422, "/problems/invalid-input"),
        (CorruptMedia("truncated"), 422, "/problems/unprocessable-media"),
        (ConfigError("no database at sqlite:///secret/path"), 503, "/problems/unavailable"),
        (TesseraError("odd"), 500, "/problems/internal"),
    ],
)
def test_problem_mapping(exc: TesseraError, status: int, kind: str) -> None:
    p = problem_for(exc)
    assert (p.status, p.type) == (status, kind)
    assert p.reason == exc.reason
    if status in (503, 500):
        assert "secret" not in p.detail and "odd" not in p.detail
    if status == 401:  # never says why: missing, unknown, expired and revoked look alike
        assert p.detail == "a valid bearer token is required"


def test_contention_is_a_conflict_for_scripts_too() -> None:
    """A lost race exits 5 like any conflict (the exit codes are a contract), and its
    reason tells a script it may simply run the same command again."""
    from tessera.cli.exit_codes import ExitCode, exit_code_for

    exc = Contention("another writer held what this change needed; try again")
    assert exit_code_for(exc) is ExitCode.CONFLICT
    assert problem_for(exc).reason == "contention"

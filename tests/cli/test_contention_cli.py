"""Contention retried, seen from the command line: ``tessera token create`` whose write
meets another writer's SQLite write lock.

Released while the retry waits, the command exits 0 having written one token and one
``token.create`` audit entry; never released, it exits 5 (``ExitCode.CONFLICT``, the
exit code of ``Conflict`` and so of ``Contention``) after ``retry.ATTEMPTS`` runs,
saying ``[contention]``, with nothing written. The node's busy timeout is 50 ms here
(30 s in service); the retries' waits are taken without sleeping.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tessera.app import App, Caller, Settings, retry
from tessera.app.accounts import create_user
from tessera.cli.exit_codes import ExitCode
from tessera.cli.main import cli, main
from tessera.storage import db as db_module
from tessera.storage.models import ApiToken, AuditEntry


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A node with agency NL-NPU and its analyst a@example.org (no password); its SQLite
    connections wait 50 ms for a lock."""
    home = tmp_path / "home"
    runner = CliRunner()
    for args in (
        ["init", "--node-name", "test.example/nl"],
        ["agency", "create", "NL-NPU", "--country", "NL", "--name", "VIT"],
    ):
        r = runner.invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
    with App(Settings.for_home(home)) as app:
        create_user(
            app, Caller.local_operator(), "a@example.org", agency="NL-NPU", role="analyst",
            password=None,
        )  # fmt: skip
    pragmas = db_module._sqlite_pragmas

    def brief(conn: Any, record: Any) -> None:
        pragmas(conn, record)
        conn.execute("PRAGMA busy_timeout=50")

    monkeypatch.setattr(db_module, "_sqlite_pragmas", brief)
    return home


def _hold(home: Path) -> sqlite3.Connection:
    url = Settings.for_home(home).database_url
    conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def _token_create(home: Path) -> int:
    with pytest.raises(SystemExit) as done:
        main(["--home", str(home), "token", "create", "--user", "a@example.org", "--json"])
    return int(done.value.code or 0)


def _written(home: Path) -> tuple[int, int]:
    with App(Settings.for_home(home)) as app, app.transaction() as s:
        entries = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "token.create")
        )
        tokens = s.scalar(select(func.count()).select_from(ApiToken))
        return int(entries or 0), int(tokens or 0)


def test_released_during_the_backoff_the_command_succeeds_once(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = _hold(home)
    waits: list[float] = []

    def release(seconds: float) -> None:  # the other writer commits while we wait
        waits.append(seconds)
        if holder.in_transaction:
            holder.execute("COMMIT")

    monkeypatch.setattr(retry, "sleep", release)
    assert _token_create(home) == ExitCode.OK
    assert '"token": "tsr_' in capsys.readouterr().out
    assert len(waits) == 1
    assert _written(home) == (1, 1)


def test_never_released_the_command_exits_5_and_writes_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(retry, "sleep", waits.append)
    holder = _hold(home)
    try:
        code = _token_create(home)
    finally:
        holder.execute("ROLLBACK")
    assert code == ExitCode.CONFLICT == 5
    assert "[contention]" in capsys.readouterr().err
    assert len(waits) == retry.ATTEMPTS - 1
    assert _written(home) == (0, 0)

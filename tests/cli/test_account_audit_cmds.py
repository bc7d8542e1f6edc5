"""``tessera user|token|audit|node`` end to end, and ``audit verify`` against raw-SQL
tampering on SQLite and PostgreSQL: each kind is detected, the entry named, exit 1."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from tessera.app import accounts
from tessera.audit.note import Verifier
from tessera.cli.main import cli
from tessera.errors import NotFound
from tests.storage.conftest import _pg_database

PW = "correct horse battery staple\n"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """Global options of a fresh node: ``--home`` (and ``--db`` on PostgreSQL)."""
    home = ["--home", str(tmp_path / "home")]
    if request.param == "sqlite":
        yield home
    else:
        for db in _pg_database():
            db.dispose()
            yield [*home, "--db", db.url]


def run(node: list[str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, [*node, *args], input=stdin, catch_exceptions=False)


def _url(node: list[str], tmp: Path) -> str:
    return node[node.index("--db") + 1] if "--db" in node else f"sqlite:///{tmp}"


def _setup(node: list[str]) -> str:
    r = run(node, "init", "--node-name", "test.example/nl")
    assert r.exit_code == 0, r.output
    assert "node verifier key: test.example/nl+" in r.output
    assert (
        run(node, "agency", "create", "NL-NPU", "--country", "NL", "--name", "VIT").exit_code == 0
    )
    r = run(node, "user", "create", "Admin@Example.org", "--agency", "NL-NPU", "--role", "admin",
            "--password-stdin", stdin=PW)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run(node, "token", "create", "--user", "admin@example.org", "--name", "ci", "--json")
    assert r.exit_code == 0, r.output
    return str(json.loads(r.output)["token"])


def test_accounts_and_audit_commands(node: list[str], tmp_path: Path) -> None:
    token = _setup(node)
    key = tmp_path / "home" / "keys" / "node.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    verifier = run(node, "node", "key").output.strip()
    assert Verifier.parse(verifier).name == "test.example/nl"

    users = json.loads(run(node, "user", "list", "--json").output)
    assert [(u["email"], u["role"], u["agency"]) for u in users] == [
        ("admin@example.org", "admin", "NL-NPU")
    ]
    assert run(node, "user", "disable", "admin@example.org").exit_code == 0
    assert json.loads(run(node, "user", "list", "--json").output)[0]["disabled"] is True
    r = run(node, "token", "revoke", token[:20])
    assert r.exit_code == 0 and "revoked" in r.output
    with pytest.raises(NotFound):  # exit 4 through main()
        run(node, "token", "revoke", "tsr_aaaaaaaaaaaaaaaa")

    shown = json.loads(run(node, "audit", "show", "--json").output)
    actions = [e["action"] for e in shown]
    assert actions[0] == "init"
    assert {"user.create", "token.create", "user.disable", "token.revoke"} <= set(actions)
    assert token not in json.dumps(shown)  # the secret never reaches the log
    only = json.loads(run(node, "audit", "show", "--since", "2000-01-01", "--json").output)
    assert len(only) == len(shown)
    assert json.loads(run(node, "audit", "show", "--user", "x@example.org", "--json").output) == []

    r = run(node, "audit", "verify")
    assert r.exit_code == 0, r.output
    assert f"{len(shown)} entries, {len(shown)} signed checkpoints verified" in r.output
    note = run(node, "audit", "checkpoint").output
    assert note.startswith("test.example/nl/audit\n")


def test_password_prompt_and_bad_input(tmp_path: Path) -> None:
    node = ["--home", str(tmp_path / "home")]
    _setup(node)
    r = run(node, "user", "create", "v@example.org", "--agency", "NL-NPU", "--role", "viewer",
            stdin="another long password\nanother long password\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, [*node, "user", "create", "w@example.org", "--agency", "NL-NPU",
                                 "--role", "root", "--password-stdin"], input=PW)  # fmt: skip
    assert r.exit_code == 2
    from tessera.cli.main import main

    with pytest.raises(SystemExit) as done:
        main([*node, "user", "create", "x@example.org", "--agency", "NL-NPU", "--role", "viewer"])
    assert done.value.code != 0


TAMPER = {
    "edit": ("UPDATE audit_entry SET action = 'nothing' WHERE seq = 3", 3, "edited"),
    "delete": ("DELETE FROM audit_entry WHERE seq = 2", 2, "deleted"),
    "reorder": (
        "UPDATE audit_entry SET seq = -1 WHERE seq = 2;"
        "UPDATE audit_entry SET seq = 2 WHERE seq = 4;"
        "UPDATE audit_entry SET seq = 4 WHERE seq = -1",
        2,
        "edited",
    ),
    "truncate": ("DELETE FROM audit_entry WHERE seq >= 4", 4, "truncated"),
}


@pytest.mark.parametrize("kind", sorted(TAMPER))
def test_audit_verify_names_the_tampered_entry(node: list[str], tmp_path: Path, kind: str) -> None:
    _setup(node)  # init, agency create (maybe), user create, token create: >= 4 entries
    run(node, "user", "disable", "admin@example.org")
    sql, seq, problem = TAMPER[kind]
    engine = create_engine(_url(node, tmp_path / "home" / "tessera.sqlite"))
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(text("DROP TRIGGER audit_entry_append_only ON audit_entry"))
        else:
            c.execute(text("DROP TRIGGER audit_entry_no_update"))
            c.execute(text("DROP TRIGGER audit_entry_no_delete"))
        for statement in sql.split(";"):
            c.execute(text(statement))
    engine.dispose()
    r = run(node, "audit", "verify", "--json")
    assert r.exit_code == 1, r.output
    report = json.loads(r.output)
    assert (report["ok"], report["broken_at"], report["problem"]) == (False, seq, problem)
    text_out = run(node, "audit", "verify").output
    assert f"BROKEN at entry {seq}" in text_out


def test_every_write_command_is_audited(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    node = ["--home", str(tmp_path / "home")]
    rng = np.random.default_rng(7)
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(pics / f"{i}.png")
    steps = [
        ["init"],
        ["agency", "create", "NL-NPU", "--country", "NL", "--name", "VIT"],
        ["series", "create", "Amber", "--agency", "NL-NPU"],
        ["ingest", str(pics), "--agency", "NL-NPU", "--case", "C-1", "--series", "Amber",
         "--no-features", "--workers", "1", "--no-progress"],
        ["series", "set", "Amber", "--victim-identified", "--by", "NL-NPU"],
        ["link", "victim", "V-0001", "--series", "Amber", "--identified", "--by", "NL-NPU"],
        ["triage", str(pics), "--no-scenes", "--workers", "1", "--no-progress", "--json"],
    ]  # fmt: skip
    for args in steps:
        r = run(node, *args)
        assert r.exit_code in (0, 10), (args, r.output)
    entries = json.loads(run(node, "audit", "show", "--json").output)
    assert [e["action"] for e in entries] == [
        "init", "agency.create", "series.create", "ingest", "series.set", "link.victim", "triage",
    ]  # fmt: skip
    by_action = {e["action"]: e for e in entries}
    assert by_action["ingest"]["result_count"] == 2  # two new media
    assert by_action["triage"]["result_count"] == 2  # both known
    assert by_action["ingest"]["series"] == "Amber"
    amber = json.loads(run(node, "audit", "show", "--series", "Amber", "--json").output)
    assert {e["action"] for e in amber} == {
        "series.create", "ingest", "series.set", "link.victim",
    }  # fmt: skip
    assert run(node, "audit", "verify").exit_code == 0

"""The ``tessera`` group loads each command on first use (``cli.main._COMMANDS``).

What must not change: every command is there under its name with its help text and
its subcommands (contracts), and what a command does not need stays unimported (the
start-up time itself is measured in ``benchmarks/bench_cli_startup.py``). The
schema check that every command makes reads the head revision without alembic; it
must name the same head as alembic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from tessera.cli.main import _COMMANDS, cli
from tessera.storage.db import MIGRATIONS, _head_from_files, head_revision

HEAVY = (
    "alembic", "sqlalchemy", "faiss", "cv2", "httpx", "av", "numpy", "PIL", "tessera.app.context"
)  # fmt: skip


def _loaded_after(code: str) -> dict[str, bool]:
    probe = (
        f"import json, sys\n{code}\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded: dict[str, bool] = json.loads(out.strip().splitlines()[-1])
    return loaded


def test_help_lists_every_command_with_its_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:", 1)[1]
    for name in _COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.name is not None
        summary = command.get_short_help_str(limit=45)
        line = next(ln for ln in listed.splitlines() if ln.split()[:1] == [name])
        assert summary[:20] in line, (name, line)


def test_commands_keep_their_names_and_subcommands() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(_COMMANDS)
    series = cli.get_command(ctx, "series")
    agency = cli.get_command(ctx, "agency")
    ingest = cli.get_command(ctx, "ingest")
    assert isinstance(series, click.Group) and isinstance(agency, click.Group)
    assert isinstance(ingest, click.Group)
    assert {"run", "undo"} <= set(ingest.list_commands(ctx))
    from tessera.cli.catalog_cmds import AGENCY_COMMANDS, SERIES_COMMANDS

    assert {c.name for c in SERIES_COMMANDS} <= set(series.list_commands(ctx))
    assert {c.name for c in AGENCY_COMMANDS} <= set(agency.list_commands(ctx))
    assert cli.get_command(ctx, "no-such-command") is None


def test_importing_the_cli_loads_no_command_machinery() -> None:
    loaded = _loaded_after("import tessera.cli.main")
    assert not any(loaded.values()), loaded


def test_a_database_command_does_not_load_alembic_or_the_indexes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init = [sys.executable, "-m", "tessera.cli.main", "--home", str(home), "init"]
    subprocess.run(init, capture_output=True, check=True)
    code = (
        "from tessera.cli.main import main\n"
        "try:\n"
        f"    main(['--home', {str(home)!r}, 'user', 'list'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
    )
    loaded = _loaded_after(code)
    assert loaded["sqlalchemy"] and loaded["tessera.app.context"]
    assert not any(loaded[m] for m in ("alembic", "faiss", "cv2", "httpx", "numpy", "PIL")), loaded


def test_head_revision_read_from_the_scripts_is_alembics() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    alembic_head = ScriptDirectory.from_config(cfg).get_current_head()
    assert _head_from_files(MIGRATIONS / "versions") == alembic_head
    assert head_revision() == alembic_head


def test_head_revision_gives_up_on_what_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text('revision = "b"\ndown_revision = "a"\n')
    assert _head_from_files(tmp_path) == "b"
    (tmp_path / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')  # two heads
    assert _head_from_files(tmp_path) is None
    (tmp_path / "c.py").write_text('revision = "c"\ndown_revision = make_it()\n')
    assert _head_from_files(tmp_path) is None


def test_a_command_closes_its_app_when_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine (and on PostgreSQL its connections) is disposed at the command's end,
    not left to the garbage collector: tests call ``main`` hundreds of times."""
    from tessera.app.context import App
    from tessera.cli.main import main

    home = tmp_path / "home"
    closed: list[App] = []
    real_close = App.close

    def close(app: App) -> None:
        closed.append(app)
        real_close(app)

    monkeypatch.setattr(App, "close", close)
    for args in (["init"], ["user", "list"], ["lookup", "ab" * 32]):
        with pytest.raises(SystemExit) as exc:
            main(["--home", str(home), *args])
        assert exc.value.code in (0, 1), args
    assert len(closed) == 3 and all(app._db is None for app in closed)

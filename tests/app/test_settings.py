"""Settings are resolved once: flags over environment over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from tessera.app import Settings
from tessera.errors import ConfigError
from tessera.media.decode import DEFAULT_MAX_PIXELS


def test_defaults_put_everything_under_the_home_folder(tmp_path: Path) -> None:
    s = Settings.resolve(env={})
    assert s.home == Path("tessera-data")
    assert s.database_url == f"sqlite:///{(Path('tessera-data') / 'tessera.sqlite').resolve()}"
    assert s.index_dir == Path("tessera-data/index")
    assert s.scene_index_dir == Path("tessera-data/scene-index")
    assert s.max_pixels == DEFAULT_MAX_PIXELS and s.workers is None


def test_environment_then_flags_win(tmp_path: Path) -> None:
    env = {
        "TESSERA_HOME": str(tmp_path / "envhome"),
        "TESSERA_DATABASE_URL": "postgresql+psycopg://u:secret@h/db",
        "TESSERA_WORKERS": "3",
        "TESSERA_MAX_PIXELS": "1000",
    }
    s = Settings.resolve(env=env)
    assert s.home == tmp_path / "envhome"
    assert s.index_dir == tmp_path / "envhome" / "index"
    assert s.database_url.startswith("postgresql")
    assert s.workers == 3 and s.worker_count == 3
    assert s.decode_limits.max_pixels == 1000
    flagged = Settings.resolve(db="sqlite:///x.sqlite", home=tmp_path / "flag", workers=1, env=env)
    assert flagged.database_url == "sqlite:///x.sqlite"
    assert flagged.scene_index_dir == tmp_path / "flag" / "scene-index"
    assert flagged.workers == 1


def test_password_never_shown() -> None:
    s = Settings.resolve(db="postgresql+psycopg://user:p@ss@host/db", env={})
    assert "p@ss" not in s.safe_database_url and s.safe_database_url.endswith("@host/db")


@pytest.mark.parametrize("raw", ["many", "0", "-2"])
def test_bad_numbers_are_configuration_errors(raw: str) -> None:
    with pytest.raises(ConfigError, match="TESSERA_WORKERS"):
        Settings.resolve(env={"TESSERA_WORKERS": raw})


def test_settings_are_frozen() -> None:
    s = Settings.resolve(env={})
    with pytest.raises(AttributeError):
        s.home = Path("elsewhere")  # type: ignore[misc]


def test_flood_thresholds_and_node_agency_from_the_environment(tmp_path: Path) -> None:
    from datetime import timedelta

    from tessera.app.settings import FloodRule

    s = Settings.resolve(home=tmp_path, env={})
    assert s.flood == FloodRule(
        files=100, agencies=3, window=timedelta(hours=24), triage_share=0.05, triage_min=10
    )
    assert s.node_agency is None
    env = {
        "TESSERA_FLOOD_FILES": "7",
        "TESSERA_FLOOD_AGENCIES": "2",
        "TESSERA_FLOOD_WINDOW_HOURS": "1.5",
        "TESSERA_FLOOD_TRIAGE_SHARE": "0.25",
        "TESSERA_FLOOD_TRIAGE_MIN": "4",
        "TESSERA_NODE_AGENCY": "NL-A",
    }
    s = Settings.resolve(home=tmp_path, env=env)
    assert s.flood == FloodRule(
        files=7, agencies=2, window=timedelta(minutes=90), triage_share=0.25, triage_min=4
    )
    assert s.node_agency == "NL-A"
    assert Settings.resolve(home=tmp_path, env=env, node_agency="DE-B").node_agency == "DE-B"
    for bad in ({"TESSERA_FLOOD_TRIAGE_SHARE": "2"}, {"TESSERA_FLOOD_FILES": "x"},
                {"TESSERA_FLOOD_WINDOW_HOURS": "0.001"}):  # fmt: skip
        with pytest.raises(ConfigError):
            Settings.resolve(home=tmp_path, env=bad)


@pytest.mark.parametrize(
    ("raw", "resident"), [("", True), ("0", False), ("off", False), ("YES", True), ("1", True)]
)
def test_index_residency_from_the_environment(raw: str, resident: bool) -> None:
    assert Settings.resolve(env={"TESSERA_INDEX_RESIDENT": raw}).index_resident is resident
    assert Settings.resolve(env={}).index_resident is True


def test_bad_residency_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="TESSERA_INDEX_RESIDENT"):
        Settings.resolve(env={"TESSERA_INDEX_RESIDENT": "maybe"})

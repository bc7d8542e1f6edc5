"""Settings: resolved once per process from flags and the environment.

Every interface (CLI today, the API and web later) builds one ``Settings`` with
``Settings.resolve(...)`` at start-up and hands it to ``App``; nothing below the
application layer reads ``TESSERA_*`` variables or guesses folders. A deployment
keeps everything under one *home* folder: the embedded SQLite file, the PDQ index
(``HOME/index``) and the same-scene index (``HOME/scene-index``); a PostgreSQL URL
replaces only the SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tessera.errors import ConfigError
from tessera.media.limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from tessera.pipeline.pool import default_workers

if TYPE_CHECKING:
    from tessera.media.decode import DecodeLimits

DEFAULT_HOME = Path("tessera-data")
DB_FILE = "tessera.sqlite"
INDEX_DIR = "index"
SCENE_INDEX_DIR = "scene-index"

ENV_HOME = "TESSERA_HOME"
ENV_DATABASE_URL = "TESSERA_DATABASE_URL"
ENV_WORKERS = "TESSERA_WORKERS"
ENV_MAX_PIXELS = "TESSERA_MAX_PIXELS"
ENV_MAX_BYTES = "TESSERA_MAX_BYTES"
ENV_NODE_AGENCY = "TESSERA_NODE_AGENCY"
ENV_TRIAGE_ROOTS = "TESSERA_TRIAGE_ROOTS"
ENV_NOTICE_WINDOW_HOURS = "TESSERA_NOTICE_WINDOW_HOURS"
ENV_FLOOD_FILES = "TESSERA_FLOOD_FILES"
ENV_FLOOD_AGENCIES = "TESSERA_FLOOD_AGENCIES"
ENV_FLOOD_WINDOW_HOURS = "TESSERA_FLOOD_WINDOW_HOURS"
ENV_FLOOD_TRIAGE_SHARE = "TESSERA_FLOOD_TRIAGE_SHARE"
ENV_FLOOD_TRIAGE_MIN = "TESSERA_FLOOD_TRIAGE_MIN"
ENV_JOB_STALE_SECONDS = "TESSERA_JOB_STALE_SECONDS"
ENV_INDEX_RESIDENT = "TESSERA_INDEX_RESIDENT"


@dataclass(frozen=True)
class FloodRule:
    """When a stored item's matches look like a flood (issue 12's defaults).

    A deployment sets them with ``TESSERA_FLOOD_*`` (resolved here, once); the
    network's operator overrides them for the whole network at run time
    (``tessera.app.trust.set_flood_rule``)."""

    files: int = 100
    """More than this many distinct files (query hashes) matching one item..."""
    agencies: int = 3
    """... from at least this many agencies..."""
    window: timedelta = timedelta(hours=24)
    """... within this window."""
    triage_share: float = 0.05
    """Or: a triage whose files match one stored item more often than this share..."""
    triage_min: int = 10
    """... and at least this many times (a small triage proves nothing)."""

    def __post_init__(self) -> None:
        if self.files < 1 or self.agencies < 1 or self.triage_min < 1:
            raise ConfigError("flood thresholds: files, agencies and triage minimum must be >= 1")
        if not timedelta(minutes=1) <= self.window <= timedelta(days=365):
            raise ConfigError("flood window: between 1 minute and 365 days")
        if not 0.0 < self.triage_share <= 1.0:
            raise ConfigError(f"flood triage share must be in (0, 1], not {self.triage_share}")


def _env_float(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def _notice_window(env: Mapping[str, str]) -> timedelta:
    hours = _env_float(env, ENV_NOTICE_WINDOW_HOURS)
    if hours is None:
        return timedelta(hours=24)
    if not 0 <= hours <= 24 * 365:
        raise ConfigError(f"{ENV_NOTICE_WINDOW_HOURS} must be 0..8760 hours, not {hours}")
    return timedelta(hours=hours)


def flood_from_env(env: Mapping[str, str]) -> FloodRule:
    """The flood rule from ``TESSERA_FLOOD_*`` (each unset one keeps its default)."""
    d = FloodRule()
    hours = _env_float(env, ENV_FLOOD_WINDOW_HOURS)
    return FloodRule(
        files=_env_int(env, ENV_FLOOD_FILES) or d.files,
        agencies=_env_int(env, ENV_FLOOD_AGENCIES) or d.agencies,
        window=timedelta(hours=hours) if hours is not None else d.window,
        triage_share=_env_float(env, ENV_FLOOD_TRIAGE_SHARE) or d.triage_share,
        triage_min=_env_int(env, ENV_FLOOD_TRIAGE_MIN) or d.triage_min,
    )


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not one of 1/0, true/false, yes/no, on/off")


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """Where a deployment keeps its data and the limits it works within."""

    home: Path
    database_url: str
    index_dir: Path
    """The PDQ index folder (``HOME/index``)."""
    scene_index_dir: Path
    """The same-scene (local features) index folder (``HOME/scene-index``)."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES
    workers: int | None = None
    """Processes for hashing and matching; None means every core this process may use."""
    node_agency: str | None = None
    """The agency the node's command line acts for (``--agency`` / ``TESSERA_NODE_AGENCY``):
    its triages and lookups then notify owners and count for the flood guard."""
    notice_window: timedelta = timedelta(hours=24)
    """The same notice (same hit, same agency, same case) raised again within this
    window updates the first one's count instead of raising another
    (``TESSERA_NOTICE_WINDOW_HOURS``)."""
    flood: FloodRule = field(default_factory=FloodRule)
    """The flood guard's thresholds (``TESSERA_FLOOD_*``; the network's operator may
    override them for the network)."""
    triage_roots: tuple[Path, ...] = ()
    """Folders of this server whose files network users may triage in place
    (``TESSERA_TRIAGE_ROOTS``, separated by ``os.pathsep``), e.g. a mounted evidence
    share. None by default: server-folder triage is off (it would list and hash any
    folder the server can read)."""
    job_stale: timedelta = timedelta(seconds=30)
    """A running triage job whose heartbeat is older was left by a dead server worker
    and is resumed by another (``TESSERA_JOB_STALE_SECONDS``); heartbeats come six
    times as often."""
    index_resident: bool = True
    """Each server worker searches its own copy of the PDQ index (huge pages: up to
    ~40 % less CPU a search at 10M) instead of the shared memory-mapped files, at the
    index's size in memory per worker (``TESSERA_INDEX_RESIDENT=0`` to share)."""

    @classmethod
    def resolve(
        cls,
        *,
        db: str | None = None,
        home: str | Path | None = None,
        workers: int | None = None,
        max_pixels: int | None = None,
        max_bytes: int | None = None,
        node_agency: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Flags win over the environment, the environment over defaults.

        ``db``: ``--db`` or ``TESSERA_DATABASE_URL``, else ``HOME/tessera.sqlite``;
        ``home``: ``--home`` or ``TESSERA_HOME``, else ``./tessera-data``.
        """
        env = os.environ if env is None else env
        home_dir = Path(home or env.get(ENV_HOME) or DEFAULT_HOME)
        settings = cls.for_home(home_dir, database_url=db or env.get(ENV_DATABASE_URL) or None)
        return replace(
            settings,
            max_pixels=max_pixels or _env_int(env, ENV_MAX_PIXELS) or DEFAULT_MAX_PIXELS,
            max_bytes=max_bytes or _env_int(env, ENV_MAX_BYTES) or DEFAULT_MAX_BYTES,
            workers=workers or _env_int(env, ENV_WORKERS),
            node_agency=node_agency or env.get(ENV_NODE_AGENCY) or None,
            flood=flood_from_env(env),
            notice_window=_notice_window(env),
            triage_roots=tuple(
                Path(p).resolve() for p in env.get(ENV_TRIAGE_ROOTS, "").split(os.pathsep) if p
            ),
            job_stale=timedelta(seconds=_env_int(env, ENV_JOB_STALE_SECONDS) or 30),
            index_resident=_env_bool(env, ENV_INDEX_RESIDENT, True),
        )

    @classmethod
    def for_home(cls, home: Path, *, database_url: str | None = None) -> Settings:
        """Everything under ``home`` (SQLite unless ``database_url`` says otherwise)."""
        url = database_url or f"sqlite:///{(home / DB_FILE).resolve()}"
        return cls(
            home=home,
            database_url=url,
            index_dir=home / INDEX_DIR,
            scene_index_dir=home / SCENE_INDEX_DIR,
        )

    @property
    def decode_limits(self) -> DecodeLimits:
        from tessera.media.decode import DecodeLimits  # noqa: PLC0415 (NumPy, Pillow: on use)

        return DecodeLimits(max_pixels=self.max_pixels, max_bytes=self.max_bytes)

    @property
    def worker_count(self) -> int:
        return self.workers or default_workers()

    @property
    def safe_database_url(self) -> str:
        """The database URL with any password removed, for messages and logs."""
        url = self.database_url
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return url


__all__ = ["FloodRule", "Settings", "flood_from_env"]

"""The demo scenario: a database of generated pictures owned by three agencies.

``build`` makes it in a fresh folder (a deployment of its own: SQLite and both
indexes under the folder); the demo command then triages a generated seizure
against it with ``tessera.app.triage.run``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.settings import Settings
from tessera.demo.scenario import AGENCIES, SERIES, write_known, write_seizure
from tessera.errors import InvalidInput
from tessera.ingest.runner import ingest
from tessera.pipeline.options import ExpandOptions, HashOptions
from tessera.storage import repo

MARKER_FILE = ".tessera-demo"
"""Only a folder holding this file is ever deleted and rebuilt."""


class DemoSeries(Result):
    name: str
    owner: str
    pictures: int


class DemoBuilt(Result):
    folder: Path
    series: tuple[DemoSeries, ...]
    seizure: Path
    """A generated seizure to triage: copies, edits, new pictures, damaged files."""


def prepare(folder: Path) -> Settings:
    """An empty demo folder (a previous demo there is deleted) and its settings."""
    if folder.exists():
        if not (folder / MARKER_FILE).exists():
            raise InvalidInput(f"{folder} exists and is not a Tessera demo folder; choose --dir")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER_FILE).write_text("created by `tessera demo`; safe to delete\n")
    return Settings.for_home(folder)


def build(app: App, caller: Caller, *, workers: int | None = None) -> DemoBuilt:
    """Agencies, series with their status, the known pictures ingested, a seizure written."""
    folder = app.settings.home
    n = workers or app.settings.worker_count
    db = app.migrate()
    with app.transaction() as s:
        agencies = {
            code: repo.create_agency(s, code, c, name, contact)
            for code, c, name, contact in AGENCIES
        }
        for name, owner, victim_by, offender_by, _seeds in SERIES:
            series = repo.create_series(s, name, agencies[owner])
            if victim_by:
                repo.set_identified(s, series, "victim", True, by=agencies[victim_by])
            if offender_by:
                repo.set_identified(s, series, "offender", True, by=agencies[offender_by])
    store = app.pdq_store()
    scene = app.scene_store()
    known = write_known(folder / "known")
    built = []
    for name, owner, *_ in SERIES:
        sub = known[name][0].parent
        summary = ingest(
            db,
            store,
            sub,
            agency_code=owner,
            case_number=f"{owner}-2026-001",
            series_name=name,
            options=ExpandOptions(hash=HashOptions(features=True, metadata=True)),
            workers=n,
            scene=scene,
        )
        built.append(DemoSeries(name=name, owner=owner, pictures=summary.new_media))
    seizure = folder / "seizure"
    write_seizure(seizure)
    return DemoBuilt(folder=folder, series=tuple(built), seizure=seizure)


__all__ = ["MARKER_FILE", "DemoBuilt", "DemoSeries", "build", "prepare"]

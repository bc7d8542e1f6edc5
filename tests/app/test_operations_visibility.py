"""Issue 9's operations apply the sharing rules and roles for callers other than the
local operator: what another agency may not see does not exist for it (NotFound),
what it sees but does not own it may not change (PermissionDenied), and what it sees
at ``status`` comes without the ``full`` fields (paths, fingerprints...)."""

from __future__ import annotations

import hashlib

import pytest

from tessera.app import App, Caller, Role, agencies, cases, media, runs, series
from tessera.errors import NotFound, PermissionDenied
from tessera.ingest.writer import write_batch
from tessera.storage import repo
from tessera.storage.models import IngestRun
from tests.storage.test_repo_contract import _file


def _world(app: App) -> tuple[int, int]:
    """NL-A owns series S-A and ingested one file into case c1 (run id, media id)."""
    with app.transaction() as s:
        a = repo.create_agency(s, "NL-A", "NL", "a", "a@example.org")
        repo.create_agency(s, "NL-B", "NL", "b")
        sa = repo.create_series(s, "S-A", a)
        case = repo.get_or_create_case(s, a, "c1")
        run = IngestRun(agency_id=a.id, case_id=case.id, series_id=sa.id, root="/a")
        s.add(run)
        s.flush()
        write_batch(s, run, [_file("/a/secret-path.jpg", b"x", "ab" * 32)])
        run_id = run.id
    with app.transaction() as s:
        media_id = repo.media_by_digest(s, "sha256", [hashlib.sha256(b"x").digest()])[
            hashlib.sha256(b"x").digest()
        ].id
    return run_id, media_id


def _of(agency: str, role: Role) -> Caller:
    return Caller(role=role, user_id=7, email=f"{role.value}@{agency}.example", agency_code=agency)


def test_another_agency_sees_at_status_and_changes_nothing(app: App) -> None:
    run_id, media_id = _world(app)
    b = _of("NL-B", Role.ADMIN)
    shown = media.show(app, b, str(media_id))  # series S-A is shared at status by default
    assert shown.level == "status" and shown.media.series == ("S-A",)
    assert shown.sightings == () and shown.fingerprints == ()  # full-level fields withheld
    assert "secret-path" not in shown.model_dump_json()
    for change in (
        lambda: series.edit(app, b, "S-A", notes="mine now"),
        lambda: series.remove_media(app, b, "S-A", [media_id]),
        lambda: series.delete(app, b, "S-A"),
        lambda: agencies.edit(app, b, "NL-A", contact="b@example.org"),
    ):
        with pytest.raises(PermissionDenied):
            change()
    with pytest.raises(NotFound):
        runs.undo(app, b, run_id)  # another agency's run does not exist for B
    assert runs.list_runs(app, b) == []
    assert cases.list_cases(app, b) == []  # cases are shared at hash by default
    with pytest.raises(NotFound):
        cases.show(app, b, "c1")
    a_seen_by_b = agencies.show(app, b, "NL-A")
    assert a_seen_by_b.contact == "a@example.org" and a_seen_by_b.sightings is None
    assert series.show(app, b, "S-A").media_count == 1  # nothing changed


def test_owner_roles_decide_who_changes(app: App) -> None:
    run_id, media_id = _world(app)
    viewer, curator = _of("NL-A", Role.VIEWER), _of("NL-A", Role.CURATOR)
    with pytest.raises(PermissionDenied):
        series.delete(app, viewer, "S-A")
    with pytest.raises(PermissionDenied):
        runs.undo(app, viewer, run_id)
    assert [r.id for r in runs.list_runs(app, viewer)] == [run_id]
    assert (
        media.show(app, viewer, str(media_id))
        .sightings[0]
        .original_path.endswith("secret-path.jpg")
    )
    undone = runs.undo(app, curator, run_id)
    assert undone.media_removed == (media_id,) and undone.undone_by == curator.email
    with pytest.raises(NotFound):
        media.show(app, viewer, str(media_id))
    removal = series.delete(app, curator, "S-A")
    assert removal.deleted and removal.removed_by == curator.email
    with pytest.raises(NotFound):
        series.show(app, viewer, "S-A")

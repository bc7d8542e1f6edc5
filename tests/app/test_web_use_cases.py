"""Use cases the web UI stands on, on SQLite and PostgreSQL: the paged series list,
reviewer preferences, thumbnails with their sharing rule, series activity."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tessera.app import App, Caller, Role, agencies, series, sharing, trust
from tessera.app import ingest as ingest_uc
from tessera.app import media as media_uc
from tessera.app import preferences as prefs_uc
from tessera.app import series_activity as activity_uc
from tessera.app import thumbnails as thumbs_uc
from tessera.app.accounts import create_user, verify_password
from tessera.app.audit import show as audit_show
from tessera.errors import InvalidInput, NotFound, PermissionDenied

NL = Caller(role=Role.CURATOR, user_id=None, email="c@nl.example.org", agency_code="NL-NPU")
DE = Caller(role=Role.ANALYST, user_id=None, email="a@de.example.org", agency_code="DE-BKA")


def _agencies(app: App, op: Caller) -> None:
    agencies.create(app, op, "NL-NPU", country="NL", name="VIT", contact="vit@example.org")
    agencies.create(app, op, "DE-BKA", country="DE", name="BKA")


def test_series_page_orders_counts_and_hides_in_the_database(app: App, caller: Caller) -> None:
    _agencies(app, caller)
    for name, owner in (("Cherry", "NL-NPU"), ("Amber", "NL-NPU"), ("Birch", "DE-BKA")):
        series.create(app, caller, name, owner)
    series.create(app, caller, "Hidden", "NL-NPU")
    sharing.share_series(app, NL, "Hidden", "none")
    page = series.list_page(app, DE, sort="name")
    assert [s.name for s in page.items] == ["Amber", "Birch", "Cherry"]  # not Hidden
    assert page.total == 3
    second = series.list_page(app, DE, sort="name", descending=True, limit=1, offset=1)
    assert [s.name for s in second.items] == ["Birch"] and second.total == 3
    by_owner = series.list_page(app, DE, sort="owner")
    assert [s.owner_code for s in by_owner.items] == ["DE-BKA", "NL-NPU", "NL-NPU"]
    series.set_status(app, caller, "Amber", victim_identified=True, by_code="NL-NPU")
    changed = series.list_page(app, DE, sort="changed", descending=True)
    assert changed.items[0].name == "Amber"  # its status changed after every creation
    assert series.list_page(app, NL).total == 4  # the owner sees its own unshared series
    with pytest.raises(InvalidInput):
        series.list_page(app, DE, sort="nonsense")
    with pytest.raises(InvalidInput):
        series.list_page(app, DE, limit=0)


def test_preferences_default_to_protection_and_are_per_user(app: App, caller: Caller) -> None:
    _agencies(app, caller)
    pw = "a long enough password"
    for email in ("a@nl.example.org", "b@nl.example.org"):
        create_user(app, caller, email, agency="NL-NPU", role="viewer", password=pw)
    me = verify_password(app, "a@nl.example.org", pw)
    other = verify_password(app, "b@nl.example.org", pw)
    assert prefs_uc.get(app, me) == prefs_uc.ReviewerPreferences(
        blur=True, greyscale=False, dedup=True
    )
    saved = prefs_uc.put(app, me, blur=True, greyscale=True, dedup=False)
    assert prefs_uc.get(app, me) == saved
    assert saved.greyscale and not saved.dedup
    assert prefs_uc.get(app, other).greyscale is False
    assert [e.action for e in audit_show(app, caller, user=me.email)][-1] == "preferences.set"


def _picture(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(np.kron(blocks, np.ones((30, 30, 1), dtype=np.uint8))).save(path, quality=92)


def test_thumbnails_follow_sharing_and_never_exceed_256_px(
    app: App, caller: Caller, tmp_path: Path
) -> None:
    _agencies(app, caller)
    series.create(app, caller, "Amber", "NL-NPU")
    folder = tmp_path / "seized"
    folder.mkdir()
    _picture(folder / "one.jpg", 1)  # 1200 x 900
    ingest_uc.run(
        app,
        caller,
        folder,
        agency_code="NL-NPU",
        case_number="c1",
        series_name="Amber",
        features=False,
        workers=1,
    )
    media_id = media_uc.list_media(app, caller, series="Amber").items[0].id
    own = thumbs_uc.thumbnail(app, NL, media_id)
    assert own.jpeg is not None
    small = Image.open(io.BytesIO(own.jpeg))
    assert small.format == "JPEG" and small.size == (256, 192)
    assert not small.getexif()  # nothing of the original's metadata travels
    cached = app.settings.home / "thumbs" / f"{media_id}-256.jpg"
    assert cached.read_bytes() == own.jpeg and (cached.stat().st_mode & 0o777) == 0o600
    assert thumbs_uc.thumbnail(app, NL, media_id).jpeg == own.jpeg
    # another agency at the default "status": no pixels (a placeholder)
    assert thumbs_uc.thumbnail(app, DE, media_id).jpeg is None
    sharing.share_series(app, NL, "Amber", "full", countries=["DE"])
    assert thumbs_uc.thumbnail(app, DE, media_id).jpeg is not None
    sharing.share_series(app, NL, "Amber", "none", countries=["DE"])
    with pytest.raises(NotFound):
        thumbs_uc.thumbnail(app, DE, media_id)
    with pytest.raises(NotFound):
        thumbs_uc.reveal(app, DE, media_id)
    (folder / "one.jpg").unlink()  # the original gone from this server: a placeholder
    assert thumbs_uc.thumbnail(app, NL, media_id).jpeg is None
    seq = thumbs_uc.reveal(app, NL, media_id).audit_seq
    entry = next(e for e in audit_show(app, caller) if e.seq == seq)
    assert entry.action == "media.reveal" and entry.target == f"media:{media_id}"


def test_series_activity_counts_submissions_and_verdicts(
    app: App, caller: Caller, tmp_path: Path
) -> None:
    _agencies(app, caller)
    series.create(app, caller, "Amber", "NL-NPU")
    nl_dir, de_dir = tmp_path / "nl", tmp_path / "de"
    nl_dir.mkdir()
    de_dir.mkdir()
    for i in range(3):
        _picture(nl_dir / f"p{i}.jpg", 10 + i)
    (de_dir / "copy.jpg").write_bytes((nl_dir / "p0.jpg").read_bytes())
    for folder, agency, name in ((nl_dir, "NL-NPU", "Amber"), (de_dir, "DE-BKA", None)):
        ingest_uc.run(
            app,
            caller,
            folder,
            agency_code=agency,
            case_number="c1",
            series_name=name,
            features=False,
            workers=1,
        )
    ids = [m.id for m in media_uc.list_media(app, caller, series="Amber").items]
    trust.judge(app, DE, ids[0], "dispute", reason="duplicate")
    trust.judge(app, NL, ids[1], "confirm")
    trust.judge(app, NL, ids[2], "confirm")
    act = activity_uc.activity(app, NL, "Amber")
    assert [(s.agency, s.media) for s in act.submissions] == [("NL-NPU", 3), ("DE-BKA", 1)]
    got = {(v.agency, v.verdict, v.reason, v.media) for v in act.verdicts}
    assert got == {("DE-BKA", "dispute", "duplicate", 1), ("NL-NPU", "confirm", None, 2)}
    sharing.share_series(app, NL, "Amber", "none")
    with pytest.raises(NotFound):
        activity_uc.activity(app, DE, "Amber")


def test_a_job_on_server_files_hashes_them_and_deletes_an_upload(
    app: App, caller: Caller, tmp_path: Path
) -> None:
    from tessera.app import triage_jobs

    _agencies(app, caller)
    series.create(app, caller, "Amber", "NL-NPU")
    known = tmp_path / "known"
    known.mkdir()
    _picture(known / "k.jpg", 5)
    ingest_uc.run(
        app,
        caller,
        known,
        agency_code="NL-NPU",
        case_number="c1",
        series_name="Amber",
        features=False,
        workers=1,
    )
    upload = triage_jobs.upload_folder(app)
    assert upload.parent == (app.settings.home / "uploads").resolve()
    assert (upload.stat().st_mode & 0o777) == 0o700
    (upload / "00000-evidence.jpg").write_bytes((known / "k.jpg").read_bytes())
    _picture(upload / "00001-other.jpg", 6)
    names = {
        str(upload / "00000-evidence.jpg"): "evidence.jpg",
        str(upload / "00001-other.jpg"): "other.jpg",
    }
    job = triage_jobs.submit_folder(app, DE, upload, uploaded=names)
    assert job.state == "queued" and job.total == 0
    assert triage_jobs.run_one(app)
    done = triage_jobs.status(app, DE, job.id)
    assert done.state == "done" and done.total == 2 and done.done == 2
    assert done.result is not None
    by_path = {r["path"]: r["status"] for r in done.result["results"]}
    assert by_path == {"evidence.jpg": "known", "other.jpg": "new"}
    assert not upload.exists()  # only fingerprints are kept
    # server folders: off unless the operator names the roots users may triage
    with pytest.raises(InvalidInput, match="TESSERA_TRIAGE_ROOTS"):
        triage_jobs.submit_folder(app, DE, known)
    with App(replace(app.settings, triage_roots=(known.resolve(),))) as rooted:
        with pytest.raises(InvalidInput, match="not under"):
            triage_jobs.submit_folder(rooted, DE, tmp_path)
        second = triage_jobs.submit_folder(rooted, DE, known)
        assert triage_jobs.run_one(rooted)
        assert triage_jobs.status(rooted, DE, second.id).state == "done"
    assert (known / "k.jpg").exists()  # read in place, never deleted
    with pytest.raises(InvalidInput):  # "uploaded" only from the node's upload folder
        triage_jobs.submit_folder(app, DE, known, uploaded={})
    viewer = Caller(role=Role.VIEWER, email="v@de.example.org", agency_code="DE-BKA")
    with pytest.raises(PermissionDenied):
        triage_jobs.submit_folder(app, viewer, known)

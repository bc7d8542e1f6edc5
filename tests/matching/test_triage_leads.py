"""Which top-level path the leads stage reads again for each open file."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tessera.app import App
from tessera.app import triage as triage_uc
from tessera.app.settings import Settings
from tessera.matching.triage.leads import MEMBERS_PER_JOB, lead_jobs, top_level
from tessera.pipeline.label import path_label
from tessera.pipeline.result import FileResult
from tests.app.test_coop import OP


def test_top_level_of_files_and_archive_members() -> None:
    tops = {"s/a.jpg", "s/b.zip", "s/odd!/c.jpg", "s/odd!/d.zip"}
    assert top_level("s/a.jpg", tops) == "s/a.jpg"
    assert top_level("s/b.zip!/x/y.jpg", tops) == "s/b.zip"
    assert top_level("s/b.zip!/inner.zip!/z.png", tops) == "s/b.zip"
    # a folder whose name ends in "!" is no archive
    assert top_level("s/odd!/c.jpg", tops) == "s/odd!/c.jpg"
    assert top_level("s/odd!/d.zip!/e.jpg", tops) == "s/odd!/d.zip"
    assert top_level("s/gone.jpg", tops) is None


def test_lead_jobs_group_members_and_name_what_is_gone(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.zip").write_bytes(b"y")
    a, b = path_label(tmp_path / "a.jpg"), path_label(tmp_path / "b.zip")
    open_items = [
        (0, FileResult(a, "ok")),
        (2, FileResult(f"{b}!/m1.jpg", "ok")),
        (3, FileResult(f"{b}!/m2.jpg", "ok")),
        (5, FileResult(path_label(tmp_path / "deleted.jpg"), "ok")),
    ]
    jobs, lost = lead_jobs([tmp_path], open_items)
    assert jobs == [
        (str(tmp_path / "a.jpg"), ((0, a),)),
        (str(tmp_path / "b.zip"), ((2, f"{b}!/m1.jpg"), (3, f"{b}!/m2.jpg"))),
    ]
    assert lost == [5]


def test_a_zip_s_or_tar_s_open_members_are_split_into_jobs_other_archives_are_not(
    tmp_path: Path,
) -> None:
    """A zip's or plain tar's members reach the workers in jobs of
    ``MEMBERS_PER_JOB`` (each reads only its own members); a tar.gz stays one job (each
    job would decompress it up to its members again)."""
    n = MEMBERS_PER_JOB * 2 + 3
    zipped, tarred, plain = tmp_path / "a.zip", tmp_path / "b.tar.gz", tmp_path / "c.tar"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("x", b"x")
    with tarfile.open(tarred, "w:gz") as t:
        t.addfile(tarfile.TarInfo("x"), io.BytesIO(b""))
    with tarfile.open(plain, "w") as t:
        t.addfile(tarfile.TarInfo("x"), io.BytesIO(b""))
    labels = [f"{archive}!/m{k:02d}.jpg" for archive in (zipped, tarred, plain) for k in range(n)]
    items = [(i, FileResult(label, "ok")) for i, label in enumerate(labels)]
    jobs, lost = lead_jobs([tmp_path], items)
    assert lost == []
    sizes = [(Path(path).name, len(wanted)) for path, wanted in jobs]
    step = MEMBERS_PER_JOB
    assert sizes == [
        ("a.zip", step),
        ("a.zip", step),
        ("a.zip", 3),
        ("b.tar.gz", n),
        ("c.tar", step),
        ("c.tar", step),
        ("c.tar", 3),
    ]
    assert [i for _, wanted in jobs for i, _ in wanted] == list(range(3 * n))  # walk order


def test_the_leads_stage_reads_members_not_their_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archive's own result is a container: no step after the digests reads it.
    The leads stage took it for an open file and read the whole archive again, every
    member with full features, for it (25 s of a 76 s triage of a 1,000-picture zip)."""
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    with zipfile.ZipFile(seizure / "a.zip", "w") as z:
        for k in range(2):
            z.writestr(f"p{k}.png", _picture(k))
    (seizure / "loose.png").write_bytes(_picture(2))
    handed: list[str] = []

    def spy(paths: Any, open_items: Any) -> Any:
        handed.extend(f.path for _, f in open_items)
        return lead_jobs(paths, open_items)

    monkeypatch.setattr(triage_uc, "lead_jobs", spy)
    app = App(Settings.for_home(tmp_path / "home"))
    app.migrate()
    try:
        report = triage_uc.run(app, OP, [seizure], workers=1, leads=True)
    finally:
        app.close()
    archive = str(seizure / "a.zip")
    assert {it.file.path: it.status for it in report.items} == {
        f"{archive}!/p0.png": "new",
        f"{archive}!/p1.png": "new",
        archive: "archive",
        str(seizure / "loose.png"): "new",
    }
    assert sorted(handed) == [
        f"{archive}!/p0.png",
        f"{archive}!/p1.png",
        str(seizure / "loose.png"),
    ]


def _picture(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    rgb = np.kron(rng.integers(0, 256, (24, 32, 3)).astype(np.uint8), np.ones((8, 8, 1), np.uint8))
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "PNG")
    return out.getvalue()

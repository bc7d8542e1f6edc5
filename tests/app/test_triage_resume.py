"""``tessera triage`` resumes after a kill (``tessera.app.triage_resume``): the re-run
takes what the first attempt decided from the journal instead of reading the files
again, and its report equals an uninterrupted run's.

The seizure: 160 pictures in walk order, most of them new (small generated
pictures), with exact copies, crops (the copy check finds most; the leads stage the
rest) and mirrored crops of five shared photos (scikit-image originals) the database
holds, and a captioned copy of a stored gradient (the colour layout step). A kill is
a ``KeyboardInterrupt`` raised from inside the run, after a given number of verdict
chunks or lead searches; what the pool reads is counted where it reads
(``tessera.pipeline.fanout.expand_path``).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from tessera.app import App
from tessera.app import triage as triage_uc
from tessera.app.settings import Settings
from tessera.app.triage_resume import RUNS_DIR
from tessera.demo.samples import synthetic_picture
from tessera.matching import scene_triage
from tessera.matching.triage import run as triage_run
from tessera.pipeline import expand as expand_module
from tessera.pipeline import fanout
from tests.app.test_coop import OP
from tests.fingerprints.test_layout import caption, gradient
from tests.seeding import ingest_known

SHARED = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "hubble_deep_field.jpg")
FILES = 160


def _jpeg(im: Image.Image, path: Path) -> None:
    im.convert("RGB").save(path, "JPEG", quality=90)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, Path]:
    """(the known photos, the seizure)."""
    root = tmp_path_factory.mktemp("resume")
    sk = data_dir / "skimage-public-domain-originals"
    known, seizure = root / "known", root / "seizure"
    known.mkdir()
    seizure.mkdir()
    for name in SHARED:
        shutil.copy(sk / name, known / name)
    Image.fromarray(gradient(1)).save(known / "gradient-1.png")
    for k in range(FILES):
        photo = sk / SHARED[(k // 25) % len(SHARED)]
        if k == 5:  # little texture: the colour layout step finds it
            Image.fromarray(caption(gradient(1))).save(seizure / f"s{k:03d}-caption.png")
        elif k % 25 == 3:
            im = Image.open(photo)
            w, h = im.size
            _jpeg(im.crop((int(0.08 * w), int(0.08 * h), w, h)), seizure / f"s{k:03d}-crop.jpg")
        elif k % 25 == 11:
            im = Image.open(photo)
            w, h = im.size
            crop = (0, 0, int(0.9 * w), int(0.92 * h))
            _jpeg(ImageOps.mirror(im).crop(crop), seizure / f"s{k:03d}-mirrored.jpg")
        elif k % 25 == 17:
            shutil.copy(photo, seizure / f"s{k:03d}-exact{photo.suffix}")
        else:
            _jpeg(synthetic_picture(160, 120, 5000 + k), seizure / f"s{k:03d}-new.jpg")
    return known, seizure


@pytest.fixture
def world(app: App, pictures: tuple[Path, Path]) -> tuple[App, Path]:
    """The whole seizure, on each backend."""
    known, seizure = pictures
    ingest_known(app, known)
    return app, seizure


def _part(whole: Path, folder: Path, first: int, last: int) -> Path:
    folder.mkdir()
    for name in _names(whole)[first:last]:
        shutil.copy(whole / name, folder / name)
    return folder


LEADS_PART = (50, 110)
"""The files of the leads test: two crops that only the leads stage finds (s078,
s103) among 60."""


@pytest.fixture
def leads_world(app: App, pictures: tuple[Path, Path], tmp_path: Path) -> tuple[App, Path]:
    """Part of the seizure (the leads stage costs several times the verdicts), on
    each backend."""
    known, whole = pictures
    ingest_known(app, known)
    return app, _part(whole, tmp_path / "seizure", *LEADS_PART)


SMALL_CHUNK = 16


@pytest.fixture
def small(
    pictures: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[App, Path]]:
    """The seizure's first 48 files in chunks of 16, on SQLite: what does not depend
    on the backend, at a third of the cost."""
    known, whole = pictures
    seizure = _part(whole, tmp_path / "seizure", 0, 48)
    monkeypatch.setattr(triage_run, "VERDICT_CHUNK", SMALL_CHUNK)
    app = App(Settings.for_home(tmp_path / "home"))
    app.migrate()
    ingest_known(app, known)
    yield app, seizure
    app.close()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Names of the top-level files the fingerprinting pool reads (workers=1: here)."""
    seen: list[str] = []
    real = fanout.expand_path

    def counting(path: Path, *args: Any, **kw: Any) -> Any:
        seen.append(path.name)
        return real(path, *args, **kw)

    monkeypatch.setattr(fanout, "expand_path", counting)
    yield seen


def _kill_after_chunks(mp: pytest.MonkeyPatch, chunks: int) -> None:
    """The verdict steps of chunk ``chunks + 1`` are killed (after ``chunks`` were
    decided and journaled)."""
    calls = 0
    real = triage_run._verdict_steps

    def steps(*args: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > chunks:
            raise KeyboardInterrupt
        return real(*args, **kw)

    mp.setattr(triage_run, "_verdict_steps", steps)


def _doc(report: Any) -> Any:
    return json.loads(json.dumps(report.to_json(), default=str))


def _run(app: App, seizure: Path, workers: int = 1, **kw: Any) -> tuple[Any, dict[str, int]]:
    resumed: dict[str, int] = {}
    report = triage_uc.run(
        app,
        OP,
        [seizure],
        workers=workers,
        on_resumed=resumed.__setitem__,
        **kw,
    )
    return report, resumed


def _names(seizure: Path) -> list[str]:
    return sorted(p.name for p in seizure.iterdir())


def _journals(app: App) -> list[Path]:
    runs = app.settings.home / RUNS_DIR
    return sorted(runs.iterdir()) if runs.exists() else []


def test_interrupted_then_resumed_equals_uninterrupted(
    world: tuple[App, Path], reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seizure = world
    whole, resumed = _run(app, seizure, leads=False)
    assert resumed == {}
    assert _journals(app) == []  # a finished run leaves no journal
    counts = whole.counts()  # the seizure tests what it should: all steps find something
    vias = {m.via for it in whole.items for m in it.matches}
    assert counts["known"] == 6 and counts["new"] >= 140
    assert {"sha256", "local-features", "colour-layout"} <= vias

    with monkeypatch.context() as mp:
        _kill_after_chunks(mp, 2)
        with pytest.raises(KeyboardInterrupt):
            _run(app, seizure, leads=False)
    assert len(_journals(app)) == 1
    names = _names(seizure)
    reads.clear()
    again, resumed = _run(app, seizure, leads=False)
    assert resumed == {"files": 2 * triage_run.VERDICT_CHUNK}
    # the files of the two journaled chunks were not read again; all others were
    assert reads == names[2 * triage_run.VERDICT_CHUNK :]
    assert _doc(again) == _doc(whole)
    assert _journals(app) == []


def test_an_archive_cut_by_the_kill_is_done_again_whole(
    small: tuple[App, Path], reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archive whose members straddle the killed chunk: none of them twice, none
    lost; the archive is read again, whole."""
    app, seizure = small
    pack = seizure / "s013-pack.zip"  # after s013-new: results 14..20, chunk 1 ends at 15
    with zipfile.ZipFile(pack, "w") as z:
        for k, name in enumerate(_names(seizure)[:6]):
            z.writestr(f"m{k}.jpg", (seizure / name).read_bytes())
    whole, _ = _run(app, seizure, leads=False)
    at = [i for i, it in enumerate(whole.items) if it.path.startswith(str(pack))]
    assert at == list(range(14, 21))  # the archive and its 6 members
    with monkeypatch.context() as mp:
        _kill_after_chunks(mp, 1)
        with pytest.raises(KeyboardInterrupt):
            _run(app, seizure, leads=False)
    reads.clear()
    again, resumed = _run(app, seizure, leads=False)
    assert resumed == {"files": 14}
    assert reads[0] == pack.name
    assert _doc(again) == _doc(whole)


def test_a_file_changed_between_attempts_is_done_again(
    small: tuple[App, Path], reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seizure = small
    with monkeypatch.context() as mp:
        _kill_after_chunks(mp, 1)
        with pytest.raises(KeyboardInterrupt):
            _run(app, seizure, leads=False)
    names = _names(seizure)
    exact = next(n for n in names if "-exact" in n)
    # a journaled new picture becomes an exact copy of a known one: other size and time
    shutil.copy(seizure / exact, seizure / names[0])
    reads.clear()
    report, resumed = _run(app, seizure, leads=False)
    assert resumed == {"files": SMALL_CHUNK - 1}
    assert reads == [names[0], *names[SMALL_CHUNK:]]
    first = report.items[0]
    assert first.status == "known" and first.matches[0].via == "sha256"


def test_no_resume_starts_over(
    small: tuple[App, Path], reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seizure = small
    with monkeypatch.context() as mp:
        _kill_after_chunks(mp, 2)
        with pytest.raises(KeyboardInterrupt):
            _run(app, seizure, leads=False)
    reads.clear()
    _, resumed = _run(app, seizure, leads=False, resume=False)
    assert resumed == {}
    assert reads == _names(seizure)
    assert _journals(app) == []


def test_another_option_value_is_another_run(
    small: tuple[App, Path], reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seizure = small
    with monkeypatch.context() as mp:
        _kill_after_chunks(mp, 2)
        with pytest.raises(KeyboardInterrupt):
            _run(app, seizure, leads=False)
    reads.clear()
    _, resumed = _run(app, seizure, leads=False, radius=20)
    assert resumed == {}
    assert reads == _names(seizure)
    assert len(_journals(app)) == 1  # the interrupted run's, still there for its re-run
    _, resumed = _run(app, seizure, leads=False)
    assert resumed == {"files": 2 * SMALL_CHUNK}


def test_a_journal_that_cannot_be_written_costs_nothing(
    small: tuple[App, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seizure = small
    (app.settings.home / RUNS_DIR).write_text("not a folder")
    notes: list[str] = []
    report = triage_uc.run(app, OP, [seizure], workers=1, leads=False, on_note=notes.append)
    assert len(notes) == 1 and "not be resumable" in notes[0]
    assert len(report.items) == 48 and report.counts()["known"] == 2


def test_leads_resume(
    leads_world: tuple[App, Path], reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seizure = leads_world
    whole, _ = _run(app, seizure)
    searched: list[str] = []
    real = scene_triage._lead_job_one_thread
    limit: int | None = 30

    def search(job: Any, **kw: Any) -> Any:
        if len(searched) == limit:
            raise KeyboardInterrupt
        searched.append(job[0])
        return real(job, **kw)

    verdicts: list[Any] = []
    with monkeypatch.context() as mp:
        mp.setattr(scene_triage, "_lead_job_one_thread", search)
        with pytest.raises(KeyboardInterrupt):
            _run(app, seizure, on_verdicts=verdicts.append)
    (verdicts_only,) = verdicts
    by_leads = {  # edited copies only the leads stage finds
        it.path
        for it, v in zip(whole.items, verdicts_only.items, strict=True)
        if it.status == "near" and v.status == "new"
    }
    first = set(searched)
    assert by_leads & first  # a copy found by each attempt's leads
    assert by_leads - first
    searched.clear()
    reads.clear()
    limit = None
    streamed: list[str] = []
    with monkeypatch.context() as mp:
        mp.setattr(scene_triage, "_lead_job_one_thread", search)
        again, resumed = _run(app, seizure, on_lead=lambda it: streamed.append(it.path))
    assert resumed == {"files": LEADS_PART[1] - LEADS_PART[0], "leads": 30}
    assert reads == []  # every verdict from the journal
    assert not first & set(searched)  # searched once only
    assert len(first) + len(searched) == sum(it.status == "new" for it in verdicts_only.items)
    assert by_leads <= set(streamed)  # journaled leads stream too
    assert _doc(again) == _doc(whole)
    assert _journals(app) == []


def test_a_large_archive_in_pieces_cut_by_the_kill_is_done_again_whole(
    small: tuple[App, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with the archive's members spread over two workers and handed on in
    pieces of 2 (``tessera.pipeline.fanout``): the journaled piece (m0, m1) does not
    count as the archive (its last result is what says how many there are)."""
    app, seizure = small
    pack = seizure / "s013-pack.zip"
    with zipfile.ZipFile(pack, "w") as z:
        for k, name in enumerate(_names(seizure)[:6]):
            z.writestr(f"m{k}.jpg", (seizure / name).read_bytes())
    monkeypatch.setattr(expand_module, "ARCHIVE_IN_MEMORY", 0)
    monkeypatch.setattr(fanout, "PIECE", 2)  # the killed chunk ends with a whole piece
    whole, _ = _run(app, seizure, leads=False, workers=2)
    at = [i for i, it in enumerate(whole.items) if it.path.startswith(str(pack))]
    assert at == list(range(14, 21))
    with monkeypatch.context() as mp:
        _kill_after_chunks(mp, 1)
        with pytest.raises(KeyboardInterrupt):
            _run(app, seizure, leads=False, workers=2)
    again, resumed = _run(app, seizure, leads=False, workers=2)
    assert resumed == {"files": 14}
    assert _doc(again) == _doc(whole)

"""Triage decides files in chunks as the fingerprinting pool returns them
(``tessera.matching.triage.run.VERDICT_CHUNK``): the verdicts must not depend on
where the chunks fall, and a decided file keeps none of the copy check's keypoints
or colour layout (what made memory grow with the seizure).

Known media: two shared photos (scikit-image originals) and a generated gradient;
the seizure: an exact copy, a crop and a caption (the copy check), a captioned
gradient (the colour layout step) and pictures that are new. Truth is how the files
were made here.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tessera.app import App
from tessera.app import triage as triage_uc
from tessera.app.settings import Settings
from tessera.matching.triage import run as triage_run
from tests.app.test_coop import OP
from tests.fingerprints.test_layout import caption, gradient
from tests.seeding import ingest_known


def _png(rgb: np.ndarray, path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    path.write_bytes(buf.getvalue())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Any:
    root = tmp_path_factory.mktemp("chunks")
    known, seizure = root / "known", root / "seizure"
    known.mkdir()
    seizure.mkdir()
    sk = data_dir / "skimage-public-domain-originals"
    shutil.copy(sk / "astronaut.png", known / "astronaut.png")
    shutil.copy(sk / "coffee.png", known / "coffee.png")
    _png(gradient(1), known / "gradient-1.png")

    shutil.copy(sk / "astronaut.png", seizure / "a-exact.png")
    astro = Image.open(sk / "astronaut.png").convert("RGB")
    w, h = astro.size
    astro.crop((int(0.08 * w), int(0.08 * h), w, h)).save(seizure / "b-astro-crop8.png")
    coffee = np.asarray(Image.open(sk / "coffee.png").convert("RGB")).copy()
    coffee[int(0.8 * coffee.shape[0]) :, :] = 255
    _png(coffee, seizure / "c-coffee-caption.png")
    _png(caption(gradient(1)), seizure / "d-gradient-caption.png")
    _png(gradient(100), seizure / "e-gradient-other.png")
    rng = np.random.default_rng(7)
    _png(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), seizure / "f-noise.png")
    shutil.copy(sk / "chelsea.png", seizure / "g-chelsea.png")

    app = App(Settings.for_home(root / "home"))
    app.migrate()
    ingest_known(app, known)
    yield app, seizure
    app.close()


def _verdicts(app: App, seizure: Path, chunk: int, mp: pytest.MonkeyPatch) -> Any:
    mp.setattr(triage_run, "VERDICT_CHUNK", chunk)
    report = triage_uc.run(app, OP, [seizure], workers=1, leads=False)
    assert all(it.file.copy_features is None and it.file.layout is None for it in report.items)
    return [
        (
            Path(it.file.path).name,
            it.status,
            sorted((m.media_id, m.via) for m in it.matches),
        )
        for it in report.items
    ]


def test_verdicts_do_not_depend_on_the_chunks(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, seizure = world
    one = _verdicts(app, seizure, 1, monkeypatch)
    three = _verdicts(app, seizure, 3, monkeypatch)
    whole = _verdicts(app, seizure, 10_000, monkeypatch)
    assert one == three == whole
    status = {name: st for name, st, _ in whole}
    assert status == {
        "a-exact.png": "known",
        "b-astro-crop8.png": "near",
        "c-coffee-caption.png": "near",
        "d-gradient-caption.png": "near",
        "e-gradient-other.png": "new",
        "f-noise.png": "new",
        "g-chelsea.png": "new",
    }
    vias = {name: {via for _, via in matches} for name, _, matches in whole}
    assert "colour-layout" in vias["d-gradient-caption.png"]

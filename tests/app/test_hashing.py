"""``hashing.hash_paths``: every path found is reported, in walk order, without a database."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

from tessera.app import App, Caller, Settings, hashing
from tessera.pipeline.options import HashOptions


def test_results_in_order_with_missing_and_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG")
    (folder / "a.png").write_bytes(buf.getvalue())
    (folder / "b.bin").write_bytes(b"not a picture at all")
    missing = tmp_path / "gone.png"
    app = App(Settings.for_home(tmp_path / "home"))  # never opened: hash needs no database
    run = hashing.hash_paths(
        app, Caller.local_operator(), [folder, missing], HashOptions(), workers=1
    )
    assert run.total == 3
    results = list(run.results)
    assert [Path(r.path).name for r in results] == ["a.png", "b.bin", "gone.png"]
    assert results[0].status == "ok"
    assert results[0].sha256 == hashlib.sha256(buf.getvalue()).hexdigest()
    assert results[1].status == "error" and results[1].reason == "unsupported-format"
    assert results[2].status == "error" and results[2].reason == "not-found"
    assert not (tmp_path / "home").exists()

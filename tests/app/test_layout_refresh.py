"""Stored colour layouts carry their version: only the current one is compared, and
ingesting the file again replaces an older one (issue 16 item 2).

A layout computed by older rules (version 1 trimmed caption bars at their text)
describes another frame than a query's, so comparing it would miss copies or pair the
wrong pictures; it cannot be recomputed without the file. Here a stored layout is set
back to version 1 the way an older database holds it: triage no longer finds the
captioned copy by its layout, and after the known picture is ingested again (another
case) the stored layout is the current version with the bytes it had before, once,
and the copy is found again.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import text

from tessera.app import App
from tessera.app import ingest as ingest_uc
from tessera.app import triage as triage_uc
from tessera.fingerprints.layout import VERSION
from tests.app.test_coop import OP
from tests.fingerprints.test_layout import caption, gradient
from tests.seeding import ensure_agency, ensure_series


def _png(rgb: np.ndarray, path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def _layout_rows(app: App) -> list[tuple[int, int, bytes]]:
    with app.db.session() as s:
        rows = s.execute(
            text(
                "SELECT media_id, version, value FROM fingerprint "
                "WHERE algorithm = 'layout' ORDER BY id"
            )
        ).all()
    return [(int(m), int(v), bytes(b)) for m, v, b in rows]


def _layout_matches(app: App, path: Path) -> list[int]:
    report = triage_uc.run(app, OP, [path], workers=1, leads=False)
    (item,) = report.items
    return [m.media_id for m in item.matches if m.via == "colour-layout"]


def test_only_current_layouts_are_compared_and_ingest_refreshes_an_old_one(
    app: App, tmp_path: Path
) -> None:
    ensure_agency(app.db, "NL-A", "NL")
    ensure_series(app.db, "S-Grad", "NL-A")
    _png(gradient(1), tmp_path / "known" / "g1.png")
    _png(caption(gradient(1)), tmp_path / "seizure" / "g1-caption.png")
    copy = tmp_path / "seizure" / "g1-caption.png"

    def ingest(case: str) -> None:
        ingest_uc.run(
            app,
            OP,
            tmp_path / "known",
            agency_code="NL-A",
            case_number=case,
            series_name="S-Grad",
            features=False,
            workers=1,
        )

    ingest("NL-1")
    ((media_id, version, value),) = _layout_rows(app)
    assert version == VERSION
    assert _layout_matches(app, copy) == [media_id]

    with app.db.session() as s:  # as a database written before this version holds it
        s.execute(text("UPDATE fingerprint SET version = 1 WHERE algorithm = 'layout'"))
    assert _layout_matches(app, copy) == []

    ingest("NL-2")  # the same file again, in another case
    assert _layout_rows(app) == [(media_id, VERSION, value)]
    assert _layout_matches(app, copy) == [media_id]

    ingest("NL-3")  # a current layout is left as it is
    assert _layout_rows(app) == [(media_id, VERSION, value)]

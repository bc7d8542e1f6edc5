"""The search functions of 0031 check the read rule through 0036's view, not a call a row.

``tessera_text_search``, ``tessera_camera_search`` and ``tessera_metadata_in_boxes``
(migration 0031: the text, camera serial and GPS searches of a connection Row-Level
Security filters) still asked ``tessera_media_level(media_id) >= 3`` of every row they
read, ~37 us a call as the service role (a SECURITY DEFINER plpgsql function whose
statements each pay executor start-up). 0036 wrote the same rule as plain SQL for the
read policies: ``EXISTS (SELECT 1 FROM tessera_rls_media_full v WHERE v.seen_id =
media_id OFFSET 0)``, a few index probes in the calling query (~3.4 us), and
``tests/storage/test_rls_policy_views.py`` checks that view against the function's rule
for every caller of seeded worlds. The three functions now ask the view: the same rows,
in the same order, page for page; nothing else of theirs changes.

Measured in psql on the 100k-media bench home (``bench_web.py --service-role``), as
the bench agency, the series page's ten GPS boxes (128 rows): the function's rule
17.9 ms, the view's 5.1 ms (load ~11, so both inflated alike).

``tests/storage/test_rls_search_functions.py`` compares the functions with the
policy-filtered queries as a role RLS filters (it ran against 0031's bodies and now
runs against these) and checks that a downgrade restores 0031's bodies.

Revision ID: 0039
Revises: 0036
Create Date: 2026-12-06 20:10:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0039"
down_revision = "0036"
branch_labels = None
depends_on = None


def _seen(column: str) -> str:
    """0036's read rule of ``full`` for ``column`` (a media id), as a per-row probe."""
    return f"EXISTS (SELECT 1 FROM tessera_rls_media_full v WHERE v.seen_id = {column} OFFSET 0)"


# 0031's text -> this revision's, each replaced exactly once in its function's body
RULES = (
    (
        "CONTINUE WHEN NOT coalesce(tessera_media_level(r.media_id) >= 3, false);",
        f"CONTINUE WHEN NOT {_seen('r.media_id')};",
    ),
    (
        "' AND tessera_media_level(mm.media_id) >= 3 ORDER BY mm.media_id'",
        f"' AND {_seen('mm.media_id')} ORDER BY mm.media_id'",
    ),
    (
        "WHERE tessera_media_level(md.media_id) >= 3",
        f"WHERE {_seen('md.media_id')}",
    ),
)


def _of_0031() -> ModuleType:
    """Migration 0031 (frozen), whose function texts this one edits and restores."""
    path = Path(__file__).with_name("0031_rls_search_functions.py")
    spec = importlib.util.spec_from_file_location("tessera_migration_0031", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bodies(new: bool) -> list[str]:
    """The three ``CREATE OR REPLACE FUNCTION`` texts: this revision's or 0031's."""
    m = _of_0031()
    out = []
    for text, (old, now) in zip((m._FUNCTION, m._CAMERA, m._BOXES), RULES, strict=True):
        if text.count(old) != 1:
            raise RuntimeError(f"migration 0039: 0031's text changed near {old!r}")
        body = text.replace(old, now) if new else text
        out.append(body.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    return out


def _apply(new: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    path = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
    for body in bodies(new):
        op.execute(body.format(path=f"{path}, pg_temp"))


def upgrade() -> None:
    _apply(new=True)


def downgrade() -> None:
    _apply(new=False)

"""Compact local features: every stored RootSIFT blob re-coded to 16 KiB at most.

Version-1 blobs (every keypoint, 133 bytes each: ~65 KB a picture) become version-2
blobs (the strongest keypoints that fit in 16 KiB, packed geometry, product-quantised
descriptors; ``tessera.features.local``), in the ``fingerprint`` rows of algorithm
``rootsift`` (stills and video key frames; their ``version`` becomes 2) and in
``marker.features``. Rows are re-coded in pages of 200, in id order, each page its own
transaction-sized batch of UPDATEs; a blob already compact is left as it is, so an
interrupted upgrade can be run again. The scene index on disk notices the new feature
version and rebuilds itself on its next open.

Downgrade writes the blobs back in the version-1 layout (which the previous code
reads), from the compact ones: the keypoints dropped and the descriptor precision
lost on upgrade do not come back.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 00:10:00
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_PAGE = 200

_fingerprint = sa.table(
    "fingerprint",
    sa.column("id", sa.BigInteger),
    sa.column("algorithm", sa.String),
    sa.column("version", sa.Integer),
    sa.column("value", sa.LargeBinary),
)
_marker = sa.table("marker", sa.column("id", sa.Integer), sa.column("features", sa.LargeBinary))


def _recode(
    table: sa.TableClause,
    column: str,
    convert: Callable[[bytes], bytes | None],
    where: sa.ColumnElement[bool] | None = None,
    version: int | None = None,
) -> None:
    bind = op.get_bind()
    col = table.c[column]
    last = 0
    while True:
        q = sa.select(table.c.id, col).where(table.c.id > last).order_by(table.c.id).limit(_PAGE)
        if where is not None:
            q = q.where(where)
        rows = bind.execute(q).all()
        if not rows:
            return
        for row_id, blob in rows:
            new = convert(bytes(blob))
            if new is not None:
                values: dict[str, object] = {column: new}
                if version is not None:
                    values["version"] = version
                bind.execute(sa.update(table).where(table.c.id == row_id).values(**values))
        last = int(rows[-1][0])


def _to_compact(blob: bytes) -> bytes | None:
    from tessera.features.local import LocalFeatures, blob_version  # noqa: PLC0415

    if blob_version(blob) != 1:
        return None  # already compact (a re-run), or not a features blob: untouched
    return LocalFeatures.from_bytes(blob).to_bytes()


def _to_full(blob: bytes) -> bytes | None:
    from tessera.features.local import LocalFeatures, blob_version  # noqa: PLC0415

    if blob_version(blob) != 2:
        return None
    return LocalFeatures.from_bytes(blob).to_bytes_full()


def upgrade() -> None:
    _recode(_fingerprint, "value", _to_compact, _fingerprint.c.algorithm == "rootsift", 2)
    _recode(_marker, "features", _to_compact)


def downgrade() -> None:
    _recode(_fingerprint, "value", _to_full, _fingerprint.c.algorithm == "rootsift", 1)
    _recode(_marker, "features", _to_full)

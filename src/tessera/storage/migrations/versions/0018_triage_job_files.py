"""A row per file of a triage job's report (``triage_job_file``), and indexes for
the audit log's sort keys.

A finished job kept its whole report as one JSON document (``triage_job.result``):
the web UI parsed all of it, up to 10,000 files, to show one page of 100. Its
``results`` list now lives in ``triage_job_file`` (a row per file, in report
order), so the results are filtered, sorted and paged in SQL; ``result`` keeps
the head (summary, series, new groups). Existing jobs are converted here, one job
at a time; downgrade puts the lists back.

The Admin page's audit log is sorted in SQL by seq, user, agency, action or series
(then seq), a curator's filtered by agency. With only single-column indexes
(user, agency, series) SQLite sorted the matching entries in a temporary B-tree
and PostgreSQL scanned and sorted them; with an index per key order (the agency
in front for a curator's view) each page is an index range scan. The single-column
indexes are the prefixes of the new ones and are dropped.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 22:10:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_jobs = sa.table("triage_job", sa.column("id", sa.Integer), sa.column("result", sa.JSON))
_files = sa.table(
    "triage_job_file",
    sa.column("job_id", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("path", sa.Text),
    sa.column("status", sa.String),
    sa.column("series", sa.Text),
    sa.column("distance", sa.Integer),
    sa.column("new_group", sa.Integer),
    sa.column("item", sa.JSON),
)


def _row(job_id: int, seq: int, item: dict[str, Any]) -> dict[str, Any]:
    """The columns of one report line (as ``tessera.storage.triage_jobs.file_row``
    computes them; copied so this migration does not change with the code)."""
    matches = [m for m in item.get("matches") or [] if isinstance(m, dict)]
    names = [str(n) for m in matches for n in m.get("series") or []]
    distances = [int(m["distance"]) for m in matches if m.get("distance") is not None]
    group = item.get("new_group")
    return {
        "job_id": job_id,
        "seq": seq,
        "path": str(item.get("path", "")),
        "status": str(item.get("status", "")),
        "series": min(names) if names else "",
        "distance": min(distances) if distances else None,
        "new_group": group if isinstance(group, int) else None,
        "item": item,
    }


_AUDIT = (
    ("ix_audit_entry_user_seq", ["user", "seq"]),
    ("ix_audit_entry_agency_seq", ["agency", "seq"]),
    ("ix_audit_entry_action_seq", ["action", "seq"]),
    ("ix_audit_entry_series_seq", ["series", "seq"]),
    ("ix_audit_entry_agency_user", ["agency", "user", "seq"]),
    ("ix_audit_entry_agency_action", ["agency", "action", "seq"]),
    ("ix_audit_entry_agency_series", ["agency", "series", "seq"]),
)
_AUDIT_OLD = (
    ("ix_audit_entry_user", ["user"]),
    ("ix_audit_entry_agency", ["agency"]),
    ("ix_audit_entry_series", ["series"]),
)


def upgrade() -> None:
    for name, columns in _AUDIT:
        op.create_index(name, "audit_entry", columns)
    for name, _ in _AUDIT_OLD:  # each is the prefix of a new one
        op.drop_index(name, table_name="audit_entry")
    op.create_table(
        "triage_job_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("series", sa.Text(), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("new_group", sa.Integer(), nullable=True),
        sa.Column("item", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["triage_job.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "seq"),
    )
    op.create_index("ix_triage_job_file_status", "triage_job_file", ["job_id", "status", "seq"])
    op.create_index("ix_triage_job_file_path", "triage_job_file", ["job_id", "path"])
    op.create_index("ix_triage_job_file_group", "triage_job_file", ["job_id", "new_group", "seq"])
    conn = op.get_bind()
    ids = [int(i) for i in conn.scalars(sa.select(_jobs.c.id).where(_jobs.c.result.isnot(None)))]
    for job_id in ids:
        result = conn.scalar(sa.select(_jobs.c.result).where(_jobs.c.id == job_id))
        if not isinstance(result, dict) or not isinstance(result.get("results"), list):
            continue
        head = dict(result)
        items = head.pop("results")
        rows = [_row(job_id, n, it) for n, it in enumerate(items) if isinstance(it, dict)]
        for lo in range(0, len(rows), 1000):
            conn.execute(sa.insert(_files), rows[lo : lo + 1000])
        conn.execute(sa.update(_jobs).where(_jobs.c.id == job_id).values(result=head))


def downgrade() -> None:
    conn = op.get_bind()
    ids = [int(i) for i in conn.scalars(sa.select(_jobs.c.id).where(_jobs.c.result.isnot(None)))]
    for job_id in ids:
        result = conn.scalar(sa.select(_jobs.c.result).where(_jobs.c.id == job_id))
        if not isinstance(result, dict) or "results" in result:
            continue
        items = list(
            conn.scalars(
                sa.select(_files.c.item).where(_files.c.job_id == job_id).order_by(_files.c.seq)
            )
        )
        conn.execute(
            sa.update(_jobs).where(_jobs.c.id == job_id).values(result={**result, "results": items})
        )
    op.drop_index("ix_triage_job_file_group", table_name="triage_job_file")
    op.drop_index("ix_triage_job_file_path", table_name="triage_job_file")
    op.drop_index("ix_triage_job_file_status", table_name="triage_job_file")
    op.drop_table("triage_job_file")
    for name, columns in _AUDIT_OLD:
        op.create_index(name, "audit_entry", columns)
    for name, _ in _AUDIT:
        op.drop_index(name, table_name="audit_entry")

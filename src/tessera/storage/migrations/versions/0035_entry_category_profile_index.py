"""Index ``exchange_entry (category_profile)``: a VICS export's header names the one
category profile of the selection, and finding it read every entry.

``tessera export vics`` writes the profile in the file's metadata URL before any
record, so it first asks which profiles the selected media's entries carry. Without
an index that was a scan of the whole ``exchange_entry`` table (its JSON included):
a tenth of the CPU of exporting everything. With it, each distinct profile is one
index seek and one probe for a selected media item holding it
(``tessera.storage.exchange.export.category_profiles``). Nothing is converted: the index is
built from the rows as they are; downgrade drops it.

Revision ID: 0035
Revises: 0032
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0035"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_exchange_entry_category_profile", "exchange_entry", ["category_profile"])


def downgrade() -> None:
    op.drop_index("ix_exchange_entry_category_profile", table_name="exchange_entry")

"""Inbox rows keep the push's request headers (J&T signs in a header); exchanges are found by parcel

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Processing re-verifies a stored push from the inbox, so whatever the signature covers or travels in
must be stored with the body. Existing rows were all Kuaidi100 form pushes: an empty object is right.
A case shows its parcels' tracking calls too (subscribe, polls), looked up by ``subject_id``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("headers", sa.Text(), nullable=False, server_default="{}"))
    op.create_index("ix_carrier_exchanges_subject_id", "carrier_exchanges", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_carrier_exchanges_subject_id", table_name="carrier_exchanges")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("headers")

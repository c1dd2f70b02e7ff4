"""Inbox rows keep the push's request headers: some carriers sign in a header (J&T ``digest``)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Processing re-verifies a stored push from the inbox, so whatever the signature covers or travels in
must be stored with the body. Existing rows were all Kuaidi100 form pushes: an empty object is right.
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


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("headers")

"""Sales channels, auto-intercept rules and their decisions, the platform's side of a case, clawbacks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

A case now keeps what its sales platform says of it: the optimistic-lock version every write must
carry, what the buyer paid, the platform's deadline, its status and arbitration, plus the fallback
its rule chose and why a person is needed. A refund can carry an open clawback. Existing cases came
through the REST channel: the defaults (no deadline, no arbitration, fallback to a person) are theirs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = {"channel_accounts": "shop_id", "shop_rules": "shop_id", "decisions": "shop_id"}
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("callback_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_channel_accounts_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_accounts")),
        sa.UniqueConstraint("callback_token", name=op.f("uq_channel_accounts_callback_token")),
        sa.UniqueConstraint("shop_id", "channel", name=op.f("uq_channel_accounts_shop_id_channel")),
    )
    op.create_index(op.f("ix_channel_accounts_shop_id"), "channel_accounts", ["shop_id"])
    op.create_table(
        "shop_rules",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("deadline_margin_minutes", sa.Integer(), server_default="120", nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_shop_rules_shop_id_shops")),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_shop_rules")),
    )
    op.create_table(
        "decisions",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("aftersale_id", sa.String(length=40), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), server_default="", nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["aftersale_id"], ["aftersales.id"], name=op.f("fk_decisions_aftersale_id_aftersales")),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_decisions_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    op.create_index(op.f("ix_decisions_shop_id"), "decisions", ["shop_id"])
    op.create_index(op.f("ix_decisions_aftersale_id"), "decisions", ["aftersale_id"])
    with op.batch_alter_table("aftersales") as batch:
        batch.add_column(sa.Column("channel_version", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("paid_fen", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("deadline_at", _AT, nullable=True))
        batch.add_column(sa.Column("platform_status", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("platform_intercept", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("arbitration", sa.String(length=32), server_default="none", nullable=False))
        batch.add_column(sa.Column("fallback", sa.String(length=32), server_default="needs_person", nullable=False))
        batch.add_column(sa.Column("attention", sa.String(length=64), server_default="", nullable=False))
        batch.create_index("ix_aftersales_shop_deadline", ["shop_id", "deadline_at"])
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("clawback", sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for table, column in TABLES.items():
            rule = f"current_setting('lanjie.shop_id', true) IN ({column}, '*')"
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY shop_isolation ON {table} USING ({rule}) WITH CHECK ({rule})")


def downgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("clawback")
    with op.batch_alter_table("aftersales") as batch:
        batch.drop_index("ix_aftersales_shop_deadline")
        for column in ("attention", "fallback", "arbitration", "platform_intercept", "platform_status", "deadline_at",
                       "paid_fen",
                       "channel_version"):
            batch.drop_column(column)
    op.drop_table("decisions")
    op.drop_table("shop_rules")
    op.drop_table("channel_accounts")

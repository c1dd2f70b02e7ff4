"""PostgreSQL row-level security: each tenant table shows a transaction only its shop's rows

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

The application sets ``lanjie.shop_id`` at the start of every transaction (``lanjie.store.db``):
a shop id, or ``*`` for work that spans shops. Unset means no rows at all (fails closed). Superusers
and roles with BYPASSRLS ignore these policies: run lanjie as an ordinary role. SQLite has no RLS;
there the explicit shop filters stand alone.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Tenant tables and the column that names the shop.
TABLES = {
    "shops": "id", "api_keys": "shop_id", "carrier_accounts": "shop_id", "shipments": "shop_id",
    "aftersales": "shop_id", "intercepts": "shop_id", "refunds": "shop_id", "events": "shop_id",
    "carrier_exchanges": "shop_id", "inbox": "shop_id", "idempotency_keys": "shop_id",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in TABLES.items():
        rule = f"current_setting('lanjie.shop_id', true) IN ({column}, '*')"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY shop_isolation ON {table} USING ({rule}) WITH CHECK ({rule})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS shop_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

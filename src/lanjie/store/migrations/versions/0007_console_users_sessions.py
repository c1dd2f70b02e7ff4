"""The console's users (owner, agent, warehouse) and their sign-in sessions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

A console user belongs to one shop and signs in with a login and a password (scrypt). A session row
is keyed by the SHA-256 of the cookie's token and carries the CSRF token of the forms it serves. On
PostgreSQL both get the row-level security of the other tenant tables (0002). Cases and intercepts get
an index by shop and creation time, for the console's newest-first list and the dashboard's period.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("console_users", "console_sessions")


def upgrade() -> None:
    op.create_table('console_users',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.Column('login', sa.String(length=120), nullable=False),
    sa.Column('name', sa.String(length=120), server_default='', nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_console_users_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_users')),
    sa.UniqueConstraint('login', name=op.f('uq_console_users_login'))
    )
    with op.batch_alter_table('console_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_users_shop_id'), ['shop_id'], unique=False)

    op.create_table('console_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_console_sessions_shop_id_shops')),
    sa.ForeignKeyConstraint(['user_id'], ['console_users.id'], name=op.f('fk_console_sessions_user_id_console_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sessions'))
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_sessions_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('aftersales', schema=None) as batch_op:
        batch_op.create_index('ix_aftersales_shop_created', ['shop_id', 'created_at'], unique=False)
    with op.batch_alter_table('intercepts', schema=None) as batch_op:
        batch_op.create_index('ix_intercepts_shop_created', ['shop_id', 'created_at'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            rule = "current_setting('lanjie.shop_id', true) IN (shop_id, '*')"
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY shop_isolation ON {table} USING ({rule}) WITH CHECK ({rule})")


def downgrade() -> None:
    with op.batch_alter_table('intercepts', schema=None) as batch_op:
        batch_op.drop_index('ix_intercepts_shop_created')
    with op.batch_alter_table('aftersales', schema=None) as batch_op:
        batch_op.drop_index('ix_aftersales_shop_created')
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_console_sessions_shop_id'))
    op.drop_table('console_sessions')
    with op.batch_alter_table('console_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_users_shop_id'))
    op.drop_table('console_users')

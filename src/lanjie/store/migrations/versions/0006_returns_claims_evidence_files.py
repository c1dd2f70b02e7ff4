"""Returns, claims, the shop's carrier contracts and evidence files

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

An intercepted parcel's way back (return_legs, one per parcel), the claims against carriers for a
parcel lost, damaged or short (one of each kind per parcel), what each shop's contract with a carrier
says about compensation, and the evidence files (photos, documents) stored by content hash. On
PostgreSQL all four get the row-level security of the other tenant tables (0002).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("return_legs", "carrier_contracts", "claims", "evidence_files")


def upgrade() -> None:
    op.create_table('carrier_contracts',
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.Column('carrier', sa.String(length=40), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('cap_multiple', sa.Integer(), server_default='3', nullable=False),
    sa.Column('cap_fen', sa.BigInteger(), nullable=True),
    sa.Column('filing_days', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_carrier_contracts_shop_id_shops')),
    sa.PrimaryKeyConstraint('shop_id', 'carrier', name=op.f('pk_carrier_contracts'))
    )
    op.create_table('evidence_files',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=200), server_default='', nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_evidence_files_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_files')),
    sa.UniqueConstraint('shop_id', 'sha256', name=op.f('uq_evidence_files_shop_id_sha256'))
    )
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_files_shop_id'), ['shop_id'], unique=False)

    op.create_table('return_legs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.Column('aftersale_id', sa.String(length=40), nullable=False),
    sa.Column('shipment_id', sa.String(length=40), nullable=False),
    sa.Column('waybill_no', sa.String(length=64), nullable=False),
    sa.Column('return_waybill_no', sa.String(length=64), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_scan_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('eta_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('inspection', sa.String(length=16), nullable=True),
    sa.Column('inspection_note', sa.String(length=500), server_default='', nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aftersale_id'], ['aftersales.id'], name=op.f('fk_return_legs_aftersale_id_aftersales')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_return_legs_shipment_id_shipments')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_return_legs_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_legs')),
    sa.UniqueConstraint('shipment_id', name=op.f('uq_return_legs_shipment_id'))
    )
    with op.batch_alter_table('return_legs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_legs_aftersale_id'), ['aftersale_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_return_legs_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index('ix_return_legs_shop_return_waybill', ['shop_id', 'return_waybill_no'], unique=False)
        batch_op.create_index('ix_return_legs_shop_status', ['shop_id', 'status'], unique=False)
        batch_op.create_index('ix_return_legs_shop_waybill', ['shop_id', 'waybill_no'], unique=False)

    op.create_table('claims',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.Column('aftersale_id', sa.String(length=40), nullable=False),
    sa.Column('return_id', sa.String(length=40), nullable=False),
    sa.Column('shipment_id', sa.String(length=40), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=False),
    sa.Column('waybill_no', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('basis', sa.JSON(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('filing_deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filed_via', sa.String(length=16), server_default='', nullable=False),
    sa.Column('carrier_ref', sa.String(length=128), server_default='', nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_fen', sa.BigInteger(), nullable=True),
    sa.Column('paid_fen', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('payouts', sa.JSON(), nullable=False),
    sa.Column('documents_requested', sa.JSON(), nullable=False),
    sa.Column('message', sa.String(length=500), server_default='', nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aftersale_id'], ['aftersales.id'], name=op.f('fk_claims_aftersale_id_aftersales')),
    sa.ForeignKeyConstraint(['return_id'], ['return_legs.id'], name=op.f('fk_claims_return_id_return_legs')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_claims_shipment_id_shipments')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_claims_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claims'))
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claims_aftersale_id'), ['aftersale_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index('ix_claims_shop_status', ['shop_id', 'status'], unique=False)
        batch_op.create_index('uq_claims_shipment_type', ['shipment_id', 'type'], unique=True)



    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            rule = "current_setting('lanjie.shop_id', true) IN (shop_id, '*')"
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY shop_isolation ON {table} USING ({rule}) WITH CHECK ({rule})")


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('uq_claims_shipment_type')
        batch_op.drop_index('ix_claims_shop_status')
        batch_op.drop_index(batch_op.f('ix_claims_shop_id'))
        batch_op.drop_index(batch_op.f('ix_claims_aftersale_id'))

    op.drop_table('claims')
    with op.batch_alter_table('return_legs', schema=None) as batch_op:
        batch_op.drop_index('ix_return_legs_shop_waybill')
        batch_op.drop_index('ix_return_legs_shop_status')
        batch_op.drop_index('ix_return_legs_shop_return_waybill')
        batch_op.drop_index(batch_op.f('ix_return_legs_shop_id'))
        batch_op.drop_index(batch_op.f('ix_return_legs_aftersale_id'))

    op.drop_table('return_legs')
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_files_shop_id'))

    op.drop_table('evidence_files')
    op.drop_table('carrier_contracts')

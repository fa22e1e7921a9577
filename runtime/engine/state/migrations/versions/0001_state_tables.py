"""state tables

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 11:05:51.332702
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('koppel_cursors',
    sa.Column('interface_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=120), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('interface_id', 'source')
    )
    op.create_table('koppel_dead_letters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('interface_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('target', sa.String(length=120), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('idempotency_key', sa.String(length=500), nullable=True),
    sa.Column('source_key', sa.String(length=500), nullable=True),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('error_class', sa.String(length=20), nullable=False),
    sa.Column('error_code', sa.String(length=100), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('koppel_dead_letters', schema=None) as batch_op:
        batch_op.create_index('ix_koppel_dead_letters_open', ['status', 'interface_id', 'last_attempt_at'], unique=False)

    op.create_table('koppel_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('interface_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=120), nullable=False),
    sa.Column('idempotency_key', sa.String(length=500), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('reference', sa.String(length=500), nullable=True),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('source_key', sa.String(length=500), nullable=True),
    sa.Column('mapping_version', sa.String(length=100), nullable=True),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('interface_id', 'target', 'idempotency_key', name='uq_koppel_deliveries_key')
    )
    op.create_table('koppel_inbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('interface_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=True),
    sa.Column('operation', sa.String(length=20), nullable=False),
    sa.Column('resource', sa.String(length=40), nullable=True),
    sa.Column('body', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('koppel_inbox', schema=None) as batch_op:
        batch_op.create_index('ix_koppel_inbox_interface', ['interface_id', 'id'], unique=False)

    op.create_table('koppel_leases',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('koppel_lineage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('interface_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=120), nullable=False),
    sa.Column('idempotency_key', sa.String(length=500), nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('source_key', sa.String(length=500), nullable=True),
    sa.Column('mapping_version', sa.String(length=100), nullable=True),
    sa.Column('payload_hash', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=500), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('koppel_lineage', schema=None) as batch_op:
        batch_op.create_index('ix_koppel_lineage_key', ['interface_id', 'target', 'idempotency_key'], unique=False)
        batch_op.create_index('ix_koppel_lineage_run', ['run_id'], unique=False)

    op.create_table('koppel_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('interface_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('run_key', sa.String(length=120), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read', sa.Integer(), nullable=False),
    sa.Column('mapped', sa.Integer(), nullable=False),
    sa.Column('filtered', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('dead', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('holder', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_key')
    )
    with op.batch_alter_table('koppel_runs', schema=None) as batch_op:
        batch_op.create_index('ix_koppel_runs_interface', ['interface_id', 'started_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('koppel_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_koppel_runs_interface')

    op.drop_table('koppel_runs')
    with op.batch_alter_table('koppel_lineage', schema=None) as batch_op:
        batch_op.drop_index('ix_koppel_lineage_run')
        batch_op.drop_index('ix_koppel_lineage_key')

    op.drop_table('koppel_lineage')
    op.drop_table('koppel_leases')
    with op.batch_alter_table('koppel_inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_koppel_inbox_interface')

    op.drop_table('koppel_inbox')
    op.drop_table('koppel_deliveries')
    with op.batch_alter_table('koppel_dead_letters', schema=None) as batch_op:
        batch_op.drop_index('ix_koppel_dead_letters_open')

    op.drop_table('koppel_dead_letters')
    op.drop_table('koppel_cursors')

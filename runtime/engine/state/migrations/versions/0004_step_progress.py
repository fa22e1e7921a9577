"""step progress: how far a delivery of several calls got, so a retry resumes there

A target that makes several calls per record (create, upload, start) records each finished call
with the values it saved (a transaction id). A retry or a replay of the same delivery (same
interface, system and idempotency key) continues after the last finished call instead of
starting over and creating a second transaction.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'koppel_step_progress',
        sa.Column('interface_id', sa.Integer(), nullable=False),
        sa.Column('system', sa.String(length=80), nullable=False),
        sa.Column('idempotency_key', sa.String(length=500), nullable=False),
        sa.Column('steps_done', sa.Integer(), nullable=False),
        sa.Column('saved', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('interface_id', 'system', 'idempotency_key', name='pk_koppel_step_progress'),
    )


def downgrade() -> None:
    op.drop_table('koppel_step_progress')

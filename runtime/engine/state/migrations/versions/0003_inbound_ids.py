"""inbound ids: the ids of accepted webhook calls, so a repeat is stored once

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'koppel_inbound_ids',
        sa.Column('interface_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=80), nullable=False),
        sa.Column('message_id', sa.String(length=200), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('interface_id', 'channel', 'message_id', name='pk_koppel_inbound_ids'),
    )


def downgrade() -> None:
    op.drop_table('koppel_inbound_ids')

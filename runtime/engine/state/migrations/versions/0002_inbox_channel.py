"""inbox channel: callbacks of an interface kept apart from its main webhook source

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 12:05:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('koppel_inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=80), nullable=True))
        batch_op.create_index('ix_koppel_inbox_channel', ['interface_id', 'channel', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('koppel_inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_koppel_inbox_channel')
        batch_op.drop_column('channel')

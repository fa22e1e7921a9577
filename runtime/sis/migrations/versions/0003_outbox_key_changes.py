"""outbox: a changed natural key also writes a delete of the old key

Re-creates the outbox triggers of every object table (``runtime.sis.triggers``), so that a
replica following the outbox drops the row under its old key.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from runtime.sis import triggers

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    triggers.install(op.get_bind())


def downgrade() -> None:
    # The earlier triggers differ only in the extra delete row; keeping these is harmless.
    pass

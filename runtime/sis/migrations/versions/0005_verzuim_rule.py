"""verzuim: the 16-hours-in-4-weeks rule as triggers on absence

Absence recorded by any client makes the absence_report the rule calls for (``runtime.sis.verzuim``);
the outbox then carries it to interface 16. Absence already in the store is not scanned by the
upgrade itself (that would send DUO a flood of late reports in one go): a student's history is
scanned at the next absence recorded for them, and reports made earlier by hand count as made
when their period overlaps (whatever their id).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from runtime.sis import verzuim

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    verzuim.install(op.get_bind())


def downgrade() -> None:
    verzuim.remove(op.get_bind())

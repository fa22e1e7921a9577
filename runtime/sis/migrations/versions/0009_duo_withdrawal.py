"""duo_withdrawal: what DUO's ROD must take back, kept when an enrollment, BPV or diploma is deleted

A new table (``runtime.sis.models.DuoWithdrawal``) with its outbox triggers, and triggers on
enrollment, internship and result that write a row when what interface 15 sent is deleted
(``runtime.sis.withdrawal``). Rows deleted before this revision are not withdrawn: the upgrade
cannot know them.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from runtime.sis import triggers, withdrawal
from runtime.sis.models import WITHDRAWAL_KINDS, WITHDRAWAL_REASONS

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    bind = op.get_bind()
    now = sa.text("(strftime('%Y-%m-%d %H:%M:%f000', 'now'))" if bind.dialect.name == "sqlite" else "CURRENT_TIMESTAMP")
    op.create_table(
        "duo_withdrawal",
        sa.Column("withdrawal_id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("object_key", sa.String(64), nullable=False),
        sa.Column("student_number", sa.String(32), nullable=False),
        sa.Column("brin", sa.String(4), nullable=False),
        sa.Column("enrollment_volgnummer", sa.Integer(), nullable=False),
        sa.Column("volgnummer", sa.String(64)),
        sa.Column("reason", sa.String(20), nullable=False, server_default="verwijderd"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.CheckConstraint(_in("kind", WITHDRAWAL_KINDS), name=op.f("ck_duo_withdrawal_kind")),
        sa.CheckConstraint(_in("reason", WITHDRAWAL_REASONS), name=op.f("ck_duo_withdrawal_reason")),
        sa.CheckConstraint("kind = 'inschrijving' OR volgnummer IS NOT NULL", name=op.f("ck_duo_withdrawal_volgnummer")),
        sa.PrimaryKeyConstraint("withdrawal_id", name=op.f("pk_duo_withdrawal")),
    )
    op.create_index("ix_duo_withdrawal_student_number", "duo_withdrawal", ["student_number"])
    op.create_index("ix_duo_withdrawal_watermark", "duo_withdrawal", ["updated_at", "withdrawal_id"])
    triggers.install(bind, ["duo_withdrawal"])
    withdrawal.install(bind)


def downgrade() -> None:
    bind = op.get_bind()
    withdrawal.remove(bind)
    triggers.remove(bind, ["duo_withdrawal"])
    op.drop_table("duo_withdrawal")

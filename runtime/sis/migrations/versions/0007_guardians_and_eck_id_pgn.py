"""guardians of students and applicants, and which number an ECK-iD was derived from

- ``guardian``: a parent or guardian of a person, with ``legal_representative`` (the wettelijk
  vertegenwoordiger who co-signs a minor's onderwijsovereenkomst and BPV agreement, interface
  14). An object like the others: outbox triggers, watermark index. Existing stores get none:
  the college enters them (or imports them from its registration) before minors' documents are
  sent for signing; until then the signing policy refuses such a document, which the dead letter
  says.
- ``person.eck_id_pgn``: ``bsn`` or ``onderwijsnummer``, the number the ECK-iD was derived from.
  Existing ECK-iDs are filled with the number interface 13 would have used then (the BSN, or the
  onderwijsnummer when there is no BSN); the fill is a change like any other (outbox updates).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from runtime.sis import triggers
from runtime.sis.models import GUARDIAN_RELATIONS

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    now = sa.text("(strftime('%Y-%m-%d %H:%M:%f000', 'now'))" if bind.dialect.name == "sqlite" else "CURRENT_TIMESTAMP")
    op.create_table(
        "guardian",
        sa.Column("guardian_id", sa.String(64), nullable=False),
        sa.Column("person_number", sa.String(64), nullable=False),
        sa.Column("relation", sa.String(20), server_default="ouder", nullable=False),
        sa.Column("legal_representative", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("first_names", sa.String(200), nullable=True),
        sa.Column("initials", sa.String(30), nullable=True),
        sa.Column("tussenvoegsel", sa.String(30), nullable=True),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(30), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint(f"relation IN ({', '.join(repr(v) for v in GUARDIAN_RELATIONS)})",
                           name=op.f("ck_guardian_relation")),
        sa.ForeignKeyConstraint(["person_number"], ["person.person_number"], name=op.f("fk_guardian_person_number_person"),
                                onupdate="CASCADE"),
        sa.PrimaryKeyConstraint("guardian_id", name=op.f("pk_guardian")),
    )
    op.create_index("ix_guardian_person_number", "guardian", ["person_number"])
    op.create_index("ix_guardian_watermark", "guardian", ["updated_at", "guardian_id"])
    if "eck_id_pgn" not in {c["name"] for c in sa.inspect(bind).get_columns("person")}:
        op.add_column("person", sa.Column("eck_id_pgn", sa.String(20), nullable=True))
    triggers.install(bind, ["person", "guardian"])
    op.execute("UPDATE person SET eck_id_pgn = CASE WHEN bsn IS NOT NULL THEN 'bsn' ELSE 'onderwijsnummer' END "
               "WHERE eck_id IS NOT NULL AND (bsn IS NOT NULL OR onderwijsnummer IS NOT NULL)")


def downgrade() -> None:
    bind = op.get_bind()
    triggers.remove(bind, ["guardian"])
    op.drop_table("guardian")
    if bind.dialect.name != "sqlite":  # SQLite keeps the nullable column (see 0002); harmless
        op.drop_column("person", "eck_id_pgn")

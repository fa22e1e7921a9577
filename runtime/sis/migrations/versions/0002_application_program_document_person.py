"""application.program_code and document.person_number

An aanmelding names the opleiding it is for (Centraal Aanmelden sends crebo and leerweg), and a
document belongs to a person, also before that person is a student (an applicant's
onderwijsovereenkomst). Both columns are nullable references; existing rows are filled from what
the store already knows (and those fills reach the outbox as updates).

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

from runtime.sis import triggers

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHANGED = ["application", "document"]
NEW_COLUMNS = [
    ("application", "program_code", 64, "program.program_code"),
    ("document", "person_number", 64, "person.person_number"),
]


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy on SQLite): the table keeps its triggers and rows. SQLite
    # takes the reference inline; Alembic would want a table copy for a separate constraint.
    bind = op.get_bind()
    for table, column, length, target in NEW_COLUMNS:
        referenced_table, referenced_column = target.split(".")
        if column in {c["name"] for c in sa.inspect(bind).get_columns(table)}:
            continue  # left behind by a downgrade on SQLite (see there)
        if bind.dialect.name == "sqlite":
            op.execute(
                f'ALTER TABLE "{table}" ADD COLUMN {column} VARCHAR({length}) '
                f'REFERENCES "{referenced_table}" ({referenced_column}) ON UPDATE CASCADE'
            )
        else:
            op.add_column(table, sa.Column(column, sa.String(length), nullable=True))
            op.create_foreign_key(
                f"fk_{table}_{column}_{referenced_table}", table, referenced_table, [column], [referenced_column],
                onupdate="CASCADE",
            )
    op.create_index("ix_application_program_code", "application", ["program_code"])
    op.create_index("ix_document_person_number", "document", ["person_number"])
    # Re-create the triggers so that SQLite's update trigger compares the new columns too, then
    # fill them: the backfill is a change like any other, so replicas learn the new values.
    triggers.install(bind, CHANGED)
    op.execute(
        "UPDATE application SET program_code = (SELECT o.program_code FROM cohort c "
        "JOIN offering o ON o.offering_code = c.offering_code WHERE c.cohort_code = application.cohort_code)"
    )
    op.execute(
        "UPDATE document SET person_number = COALESCE("
        "(SELECT s.person_number FROM student s WHERE s.student_number = document.student_number), "
        "(SELECT a.person_number FROM application a WHERE a.aanmeld_id = document.aanmeld_id))"
    )


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index("ix_document_person_number", "document")
    op.drop_index("ix_application_program_code", "application")
    if bind.dialect.name == "sqlite":
        # SQLite cannot drop a column that holds a reference without copying the table, and the
        # copy is refused while other tables refer to it. The nullable columns stay, unused;
        # upgrading again finds them in place.
        return
    for table, column, _length, target in NEW_COLUMNS:
        op.drop_constraint(f"fk_{table}_{column}_{target.split('.')[0]}", table, type_="foreignkey")
        op.drop_column(table, column)

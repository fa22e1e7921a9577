"""keuzedelen in the kwalificatiestructuur, SBB's verification of an internship, IAM role grants

- ``qualification.kind``: ``kwalificatie`` or ``keuzedeel``. SBB's crebolist (interface 9) holds
  the keuzedelen too (K-codes), which ROD's KZD, the exams and RIO need. Existing rows are
  kwalificaties (the default); ``level`` stays required, every keuzedeel in the list has one.
- ``internship.recognition_status`` (erkend | beeindigd | geschorst, null = not verified yet) and
  ``internship.recognition_checked_on``: what SBB White Label's verification said of the
  leerbedrijf's erkenning for this crebo and leerweg on the start date (interface 8), and what
  its mutatieservice said later. The college keeps this of SBB, not a copy of the register: the
  licence forbids storing Stagemarkt's data.
- ``role_assignment.granted_by``: the IAM group (its externalId) that granted the role, so that a
  group's members are replaced per group (interface 1) when two groups grant one role in
  different scopes. Existing IAM grants came from one group per role: they are filled with the
  role, which is that group's externalId.

Plain ADD COLUMN (no table copy on SQLite, which other tables' references would refuse); the
triggers are re-created so SQLite's update trigger compares the new columns.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from runtime.sis import triggers
from runtime.sis.models import QUALIFICATION_KINDS, RECOGNITION_STATUSES

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHANGED = ["qualification", "internship", "role_assignment"]


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


COLUMNS = [  # table, column, type, server default, check (name, condition)
    ("qualification", "kind", sa.String(12), "kwalificatie", ("kind", _in("kind", QUALIFICATION_KINDS))),
    ("internship", "recognition_status", sa.String(20), None,
     ("recognition_status", _in("recognition_status", RECOGNITION_STATUSES))),
    ("internship", "recognition_checked_on", sa.Date(), None, None),
    ("role_assignment", "granted_by", sa.String(100), None, None),
]


def upgrade() -> None:
    bind = op.get_bind()
    for table, column, type_, default, check in COLUMNS:
        if column in {c["name"] for c in sa.inspect(bind).get_columns(table)}:
            continue  # left behind by a downgrade on SQLite (see there)
        if bind.dialect.name == "sqlite":
            ddl = type_.compile(dialect=bind.dialect)
            parts = [f'ALTER TABLE "{table}" ADD COLUMN {column} {ddl}']
            if default is not None:
                parts.append(f"NOT NULL DEFAULT '{default}'")
            if check is not None:
                parts.append(f"CONSTRAINT ck_{table}_{check[0]} CHECK ({check[1]})")
            op.execute(" ".join(parts))
        else:
            op.add_column(table, sa.Column(column, type_, nullable=default is None,
                                           server_default=sa.text(f"'{default}'") if default else None))
            if check is not None:
                op.create_check_constraint(f"ck_{table}_{check[0]}", table, check[1])
    triggers.install(bind, CHANGED)
    op.execute("UPDATE role_assignment SET granted_by = role WHERE source = 'iam' AND granted_by IS NULL")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # SQLite cannot drop these columns without copying tables others refer to; they stay,
        # unused, and upgrading again finds them in place.
        return
    for table, column, _type, _default, check in reversed(COLUMNS):
        if check is not None:
            op.drop_constraint(f"ck_{table}_{check[0]}", table, type_="check")
        op.drop_column(table, column)
    triggers.install(bind, CHANGED)

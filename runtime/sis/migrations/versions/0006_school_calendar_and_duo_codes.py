"""school calendar, the verzuim rule as DUO defines it, DUO's leertrajecten and ROD's result parts

- ``school_holiday``: the college's holidays per school year, entered for region zuid 2025-2027
  (``runtime.sis.schoolcalendar.REGIO_ZUID``); the verzuim triggers are re-created with the rule
  "at least 16 hours within 4 school weeks, holiday days left out" (``runtime.sis.verzuim``).
  As in 0005, absence already in the store is not rescanned: a student's history is scanned
  anew at their next absence.
- CHECK constraints widened (loosened only, so every existing row still fits): leertraject EX,
  OVO and ODT on program, enrollment and enrollment_period; the verzuimsoort ``luxe``; result
  kinds ``generiek_examen`` and ``keuzedeel``. SQLite cannot alter a constraint: the
  table's text in ``sqlite_schema`` is edited (SQLite's documented procedure for changes that do
  not touch stored data, lang_altertable.html §7), PostgreSQL drops and adds the constraint.
- New nullable columns: ``enrollment.vsv_location_code`` (ROD locatiecodeVSV, the 12-digit NHR
  vestigingsnummer), ``result.diploma_result_id`` (the diploma a generic exam part or keuzedeel
  belongs to) and ``result.duo_code`` (its DUO code).

Revision ID: 0006
Revises: 0005
"""

import re

import sqlalchemy as sa
from alembic import op

from runtime.sis import schoolcalendar, triggers, verzuim
from runtime.sis.models import ABSENCE_REPORT_KINDS, LEERWEGEN, RESULT_KINDS

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WIDENED = [  # (table, column, values)
    ("program", "leerweg", LEERWEGEN),
    ("enrollment", "leertraject", LEERWEGEN),
    ("enrollment_period", "leertraject", LEERWEGEN),
    ("absence_report", "kind", ABSENCE_REPORT_KINDS),
    ("result", "kind", RESULT_KINDS),
]
NEW_COLUMNS = [  # (table, column, length, reference)
    ("enrollment", "vsv_location_code", 12, None),
    ("result", "diploma_result_id", 64, "result.result_id"),
    ("result", "duo_code", 5, None),
]


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "school_holiday",
        sa.Column("school_year", sa.String(9), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("region", sa.String(10), nullable=True),
        sa.Column("source", sa.String(300), nullable=True),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_school_holiday_dates")),
        sa.PrimaryKeyConstraint("school_year", "name", name=op.f("pk_school_holiday")),
    )
    holiday = sa.table(
        "school_holiday", sa.column("school_year"), sa.column("name"), sa.column("start_date", sa.Date),
        sa.column("end_date", sa.Date), sa.column("region"), sa.column("source"),
    )
    op.bulk_insert(holiday, [
        {"school_year": y, "name": n, "start_date": _day(a), "end_date": _day(b), "region": "zuid", "source": s}
        for y, n, a, b, s in schoolcalendar.REGIO_ZUID
    ])
    for table, column, values in WIDENED:
        _set_check(bind, table, f"ck_{table}_{column}", f"{column} IN ({', '.join(repr(v) for v in values)})")
    for table, column, length, target in NEW_COLUMNS:
        if column in {c["name"] for c in sa.inspect(bind).get_columns(table)}:
            continue  # left behind by a downgrade on SQLite
        if bind.dialect.name == "sqlite":
            reference = ""
            if target:
                ref_table, ref_column = target.split(".")
                reference = f' REFERENCES "{ref_table}" ({ref_column}) ON UPDATE CASCADE'
            op.execute(f'ALTER TABLE "{table}" ADD COLUMN {column} VARCHAR({length}){reference}')
        else:
            op.add_column(table, sa.Column(column, sa.String(length), nullable=True))
            if target:
                ref_table, ref_column = target.split(".")
                op.create_foreign_key(
                    f"fk_{table}_{column}_{ref_table}", table, ref_table, [column], [ref_column], onupdate="CASCADE"
                )
    op.create_index("ix_result_diploma_result_id", "result", ["diploma_result_id"])
    # SQLite's update triggers compare the columns they knew; the new ones must count as changes
    triggers.install(bind, ["enrollment", "result"])
    verzuim.install(bind)


def downgrade() -> None:
    bind = op.get_bind()
    # The rule of 0005 is not restored: its code is the history of runtime/sis/verzuim.py.
    # Without this revision's calendar no rule can run, so the triggers go.
    verzuim.remove(bind)
    op.drop_index("ix_result_diploma_result_id", "result")
    op.drop_table("school_holiday")
    if bind.dialect.name == "sqlite":
        return  # the widened constraints and the nullable columns stay (see 0002); harmless
    for table, column, _length, target in NEW_COLUMNS:
        if target:
            op.drop_constraint(f"fk_{table}_{column}_{target.split('.')[0]}", table, type_="foreignkey")
        op.drop_column(table, column)


def _set_check(bind, table: str, name: str, condition: str) -> None:
    if bind.dialect.name != "sqlite":
        op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT {name}')
        op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT {name} CHECK ({condition})')
        return
    (sql,) = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).one()
    pattern = re.compile(rf"(CONSTRAINT {name} CHECK \()\w+ IN \([^)]*\)(\))")
    if not pattern.search(sql):
        raise RuntimeError(f"{table}: constraint {name} not found in its definition")
    new_sql = pattern.sub(lambda m: m.group(1) + condition + m.group(2), sql)
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (new_sql, table))
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def _day(text: str):
    import datetime as dt

    return dt.date.fromisoformat(text)

"""audit trail: who did what, when and why in the console; and each run's trace id

``koppel_audit`` is append-only for the application: Koppel only inserts into it, and a trigger
refuses every UPDATE and DELETE (on SQLite and PostgreSQL alike), so a bug or a forged request
cannot rewrite the history. Removing rows past their retention is the database owner's work,
with the trigger dropped knowingly. ``koppel_run_traces`` links a run to its OpenTelemetry
trace id, written only while tracing is on (runtime/engine/tracing.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'koppel_audit',
        sa.Column('id', _Id, primary_key=True, autoincrement=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('interface_id', sa.Integer(), nullable=True),
        sa.Column('subject', sa.Text(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('outcome', sa.Text(), nullable=True),
        sa.Index('ix_koppel_audit_at', 'at'),
    )
    op.create_table(
        'koppel_run_traces',
        sa.Column('run_id', sa.BigInteger(), primary_key=True),
        sa.Column('trace_id', sa.String(length=32), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION koppel_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'koppel_audit is append-only'; END $$")
        op.execute("CREATE TRIGGER koppel_audit_append_only BEFORE UPDATE OR DELETE ON koppel_audit "
                   "FOR EACH ROW EXECUTE FUNCTION koppel_audit_append_only()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER koppel_audit_no_{event.lower()} BEFORE {event} ON koppel_audit "
                       "BEGIN SELECT RAISE(ABORT, 'koppel_audit is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS koppel_audit_append_only ON koppel_audit")
        op.execute("DROP FUNCTION IF EXISTS koppel_audit_append_only()")
    op.drop_table('koppel_run_traces')
    op.drop_table('koppel_audit')

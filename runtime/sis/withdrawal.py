"""What DUO's ROD must take back: triggers that write a ``duo_withdrawal`` row when an enrollment,
a signed BPV or a diploma is deleted from the store (migration 0009; interface 15 sends it).

Why a row of its own, and not the outbox's ``delete``: a deleted row's outbox entry carries only
its key, and DUO identifies what to take back by the person's BSN (or onderwijsnummer), the
BRIN and the inschrijvingvolgnummer (DUO's VO contract ``aanleverenVerwijderingInschrijvingVO``
asks exactly that; its MBO contract is not public). Those are gone with the row, so the trigger
keeps them at the moment of the delete, by any client, in the same transaction.

Only what interface 15 sends is withdrawn, by the same rules as its mappings: every enrollment,
a BPV once its agreement is signed (``agreement_date``), a passed diploma. A record the college
registered in error but keeps in the SIS is withdrawn by entering the row by hand, with reason
``ten_onrechte`` (``runtime/sis/README.md``). A BPV or diploma deleted together with its
enrollment is withdrawn with it: the trigger on internship and result finds the enrollment
while it still exists (children are deleted first, or the delete is refused).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

COLUMNS = "kind, object_key, student_number, brin, enrollment_volgnummer, volgnummer, reason"
#: (table, kind, SELECT list over the deleted row ``o`` and its enrollment ``e``, condition)
SOURCES = (
    ("enrollment", "inschrijving", "o.enrollment_id, o.student_number, o.brin, o.volgnummer, NULL", "1 = 1"),
    ("internship", "bpv", "o.internship_id, e.student_number, e.brin, e.volgnummer, CAST(o.volgnummer AS TEXT)",
     "o.agreement_date IS NOT NULL"),
    ("result", "diploma", "o.result_id, e.student_number, e.brin, e.volgnummer, o.result_id",
     "o.kind = 'diploma' AND (o.passed IS NULL OR o.passed <> false)"),
)


def _insert(kind: str, select: str, table: str, old: str, condition: str) -> str:
    enrollment = "" if table == "enrollment" else " JOIN enrollment e ON e.enrollment_id = o.enrollment_id"
    return (f"INSERT INTO duo_withdrawal ({COLUMNS}) SELECT '{kind}', {select}, 'verwijderd' "
            f"FROM {old} o{enrollment} WHERE {condition}")


def sqlite_ddl() -> list[str]:
    statements = []
    for table, kind, select, condition in SOURCES:
        # a row trigger: OLD is one row, selected as ``o`` through a one-row subquery
        old = "(SELECT " + ", ".join(f"OLD.{c} AS {c}" for c in _old_columns(table)) + ")"
        statements.append(f"CREATE TRIGGER duo_withdrawal_{table} AFTER DELETE ON \"{table}\" BEGIN "
                          f"{_insert(kind, select, table, old, condition)}; END")
    return statements


def postgresql_ddl() -> list[str]:
    statements = []
    for table, kind, select, condition in SOURCES:
        statements += [
            f"CREATE OR REPLACE FUNCTION duo_withdrawal_{table}() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
            f"BEGIN\n{_insert(kind, select, table, 'old_rows', condition)};\nRETURN NULL;\nEND\n$fn$",
            f"CREATE TRIGGER duo_withdrawal_{table} AFTER DELETE ON \"{table}\" REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION duo_withdrawal_{table}()",
        ]
    return statements


def _old_columns(table: str) -> tuple[str, ...]:
    return {
        "enrollment": ("enrollment_id", "student_number", "brin", "volgnummer"),
        "internship": ("internship_id", "enrollment_id", "volgnummer", "agreement_date"),
        "result": ("result_id", "enrollment_id", "kind", "passed"),
    }[table]


def install(connection: Connection) -> None:
    remove(connection)
    ddl = sqlite_ddl() if connection.dialect.name == "sqlite" else postgresql_ddl()
    for statement in ddl:
        connection.exec_driver_sql(statement)


def remove(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    for table, *_ in SOURCES:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS duo_withdrawal_{table}" + ("" if sqlite else f' ON "{table}"'))
        if not sqlite:
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS duo_withdrawal_{table}()")

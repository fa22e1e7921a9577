"""Merging two person rows that turn out to be one human (``koppel sis merge-person KEEP DROP``).

An applicant gets a new person ``P-<aanmeldId>`` when the application brings no BSN or
onderwijsnummer the SIS knows (interfaces 6 and 7); a later identification can show that it is
someone the SIS holds already, or two applicants can turn out to be one. The merge, in one
transaction:

1. refuses two persons with different BSNs, or different onderwijsnummers: those are two humans
   for the BRP and DUO, and only the student administration can say which number is wrong;
2. moves every row that refers to DROP (applications, documents, memberships, role assignments,
   guardians, student and staff rows) to KEEP. The references are read from the database's
   foreign keys, so a table added later with one is moved too. A row
   whose key would then equal one KEEP has already (the same group membership, the same role in
   the same scope) is KEEP's twin and is dropped. Both persons having a row where a person may
   have only one (two student rows, two staff rows) is refused, naming the table: which student
   number lives on is the administration's call, not Koppel's;
3. fills KEEP's empty fields from DROP (KEEP's own data wins, as with an application landing on
   a known person), unique ones (BSN, onderwijsnummer, school e-mail, account name) after
   clearing them on DROP;
4. deletes DROP.

The outbox triggers record each of these changes, so every interface that follows a person, an
application or a membership sends the result like any other change. Nothing is printed or
raised with a BSN in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from runtime.errors import ConfigError

PERSON = "person"
KEY = "person_number"
#: the numbers that identify a human to the BRP and DUO: two different ones are two humans
IDENTIFIERS = ("bsn", "onderwijsnummer")
#: never copied from DROP: the row's own identity and the database's timestamps
OWN_COLUMNS = {KEY, "created_at", "updated_at"}


class MergeRefused(ConfigError):
    """The two persons cannot be merged as they are; the message says why and what to do."""


@dataclass
class MergeResult:
    keep: str
    drop: str
    moved: dict[str, int] = field(default_factory=dict)  # table → rows now referring to KEEP
    dropped_twins: dict[str, int] = field(default_factory=dict)  # table → DROP's rows KEEP had already
    filled: list[str] = field(default_factory=list)  # KEEP's columns filled from DROP


@dataclass(frozen=True)
class Reference:
    table: str
    column: str
    unique_alone: bool  # the column alone is unique: a person has at most one such row
    twin_columns: tuple[str, ...]  # the other columns of the primary key (a twin shares them)


def references(connection: Connection) -> list[Reference]:
    """Every column in the store that refers to ``person.person_number``, from the catalog."""
    inspector = inspect(connection)
    found = []
    for table in sorted(inspector.get_table_names()):
        for foreign in inspector.get_foreign_keys(table):
            if foreign["referred_table"] != PERSON or foreign["referred_columns"] != [KEY]:
                continue
            (column,) = foreign["constrained_columns"]
            primary = inspector.get_pk_constraint(table).get("constrained_columns") or []
            uniques = _unique_columns(inspector, table)
            found.append(Reference(
                table, column, unique_alone=[column] in uniques or primary == [column],
                twin_columns=tuple(c for c in primary if c != column) if column in primary else (),
            ))
    return found


def _person(connection: Connection, number: str) -> dict:
    row = connection.execute(text(f"SELECT * FROM {PERSON} WHERE {KEY} = :n"), {"n": number}).mappings().first()
    if row is None:
        raise MergeRefused(f"merge-person: no person {number!r} in the SIS store")
    return dict(row)


def _refuse_different_identifiers(keep: dict, drop: dict) -> None:
    for name in IDENTIFIERS:
        if keep.get(name) and drop.get(name) and keep[name] != drop[name]:
            raise MergeRefused(
                f"merge-person: {keep[KEY]} and {drop[KEY]} have different {name}s, so they are two people "
                f"for the BRP and DUO; correct the wrong {name} first (nothing was changed)")


def merge_persons(connection: Connection, keep_number: str, drop_number: str) -> MergeResult:
    """Merge DROP into KEEP on ``connection``, inside the caller's transaction."""
    if keep_number == drop_number:
        raise MergeRefused(f"merge-person: KEEP and DROP are the same person {keep_number!r}")
    keep, drop = _person(connection, keep_number), _person(connection, drop_number)
    _refuse_different_identifiers(keep, drop)
    result = MergeResult(keep_number, drop_number)
    params = {"keep": keep_number, "drop": drop_number}
    for ref in references(connection):
        t, c = ref.table, ref.column
        if ref.twin_columns:
            same = " AND ".join(f"k.{o} = {t}.{o}" for o in ref.twin_columns)
            gone = connection.execute(text(
                f"DELETE FROM {t} WHERE {c} = :drop AND EXISTS "
                f"(SELECT 1 FROM {t} k WHERE k.{c} = :keep AND {same})"), params).rowcount
            if gone:
                result.dropped_twins[t] = gone
        elif ref.unique_alone:
            both = connection.execute(text(f"SELECT count(DISTINCT {c}) FROM {t} WHERE {c} IN (:keep, :drop)"),
                                      params).scalar_one()
            if both == 2:
                raise MergeRefused(
                    f"merge-person: both {keep_number} and {drop_number} have a row in {t} (a person has one); "
                    f"merge or end the {t} rows first (nothing was changed)")
        moved = connection.execute(text(f"UPDATE {t} SET {c} = :keep WHERE {c} = :drop"), params).rowcount
        if moved:
            result.moved[t] = moved
    fill = {name: value for name, value in drop.items()
            if name not in OWN_COLUMNS and value not in (None, "") and keep.get(name) in (None, "")}
    if fill:
        cleared = ", ".join(f"{name} = NULL" for name in fill if _is_unique(connection, name))
        if cleared:  # a unique number cannot sit on both rows for a moment
            connection.execute(text(f"UPDATE {PERSON} SET {cleared} WHERE {KEY} = :drop"), params)
        assignments = ", ".join(f"{name} = :v_{name}" for name in fill)
        connection.execute(text(f"UPDATE {PERSON} SET {assignments} WHERE {KEY} = :keep"),
                           {**params, **{f"v_{name}": value for name, value in fill.items()}})
        result.filled = sorted(fill)
    connection.execute(text(f"DELETE FROM {PERSON} WHERE {KEY} = :drop"), params)
    return result


def _is_unique(connection: Connection, column: str) -> bool:
    return [column] in _unique_columns(inspect(connection), PERSON)


def _unique_columns(inspector, table: str) -> list[list]:  # noqa: ANN001
    """The column lists of the table's unique constraints and unique indexes (SQLite shows a
    column's ``unique=True`` as either, depending on how the table was made)."""
    found: list[list] = [list(u["column_names"]) for u in inspector.get_unique_constraints(table)]
    return found + [list(i["column_names"]) for i in inspector.get_indexes(table) if i.get("unique")]


def merge(url: str, keep_number: str, drop_number: str) -> MergeResult:
    """Merge in one transaction of its own: all of it or, on any refusal or error, nothing."""
    from runtime.sis import schema

    engine = schema.engine(url)
    try:
        with engine.begin() as connection:
            return merge_persons(connection, keep_number, drop_number)
    finally:
        engine.dispose()

"""runtime/dberrors.py against real SQLite and PostgreSQL: each kind of database error gets its
class, and no message carries the SQL or a value.

The values used are ones a leak would show: a BSN-like number, a name and a marker string that
appears only in the SQL text.
"""

from __future__ import annotations

import socket
import sqlite3

import pytest
import sqlalchemy as sa

from runtime import dberrors
from runtime.errors import ConfigError, RecordError, TransientError

from .conftest import pg_admin

PERSONAL = "Jansen-Zuidhoek"
NUMBER = "987654321"
MARKER = "SQLMARKER"  # appears in the SQL and nowhere else


def _setup(engine: sa.Engine) -> None:
    with engine.begin() as c:
        c.execute(sa.text("DROP TABLE IF EXISTS person"))
        c.execute(sa.text("CREATE TABLE person (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE, "
                          "age INTEGER CHECK (age >= 0))"))
        c.execute(sa.text("INSERT INTO person (id, name, age) VALUES (1, :n, 20)"), {"n": PERSONAL})


def _error(engine: sa.Engine, sql: str, params: dict | None = None) -> Exception:
    with pytest.raises(Exception) as info, dberrors.database_outage("the test store"), engine.begin() as c:
        c.execute(sa.text(sql), params or {})
    return info.value


def _assert_clean(error: Exception) -> None:
    text = str(error)
    assert text.startswith("the test store"), text
    for secret in (PERSONAL, NUMBER, MARKER, "INSERT", "SELECT", "[SQL", "parameters"):
        assert secret not in text, f"{secret!r} in {text!r}"
    assert error.__suppress_context__ and error.__cause__ is None  # no chained driver text


@pytest.fixture
def engine(db_url):
    engine = sa.create_engine(db_url)
    _setup(engine)
    yield engine
    engine.dispose()


def test_a_unique_violation_is_a_record_error_naming_the_constraint_not_the_value(engine):
    error = _error(engine, f"INSERT INTO person (id, name, age) VALUES (2, :n, 1) /* {MARKER} */", {"n": PERSONAL})
    assert type(error) is RecordError and error.error_class == "record"
    if engine.dialect.name == "postgresql":
        assert str(error) == ("the test store: refused by a constraint (UniqueViolation, SQLSTATE 23505: "
                              "constraint person_name_key; table person) [23505]")
    else:
        assert str(error) == ("the test store: refused by a constraint "
                              "(IntegrityError: UNIQUE constraint failed: person.name) [constraint]")
    _assert_clean(error)


def test_a_missing_value_names_the_column(engine):
    error = _error(engine, f"INSERT INTO person (id, name, age) VALUES (3, NULL, 1) /* {MARKER} */")
    if engine.dialect.name == "postgresql":
        assert str(error) == ("the test store: refused by a constraint (NotNullViolation, SQLSTATE 23502: "
                              "table person; column name) [23502]")
    else:
        assert str(error).endswith("(IntegrityError: NOT NULL constraint failed: person.name) [constraint]")


def test_a_primary_key_not_null_and_check_violation_are_record_errors(engine):
    for sql, params in (("INSERT INTO person (id, name, age) VALUES (1, :n, 1)", {"n": "other"}),
                        ("INSERT INTO person (id, name, age) VALUES (3, NULL, 1)", {}),
                        ("INSERT INTO person (id, name, age) VALUES (4, :n, -1)", {"n": NUMBER})):
        error = _error(engine, f"{sql} /* {MARKER} */", params)
        assert type(error) is RecordError, (sql, error)
        _assert_clean(error)


def test_a_value_too_long_or_of_the_wrong_type_is_a_record_error_without_the_value(engine):
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite stores any length and type in any column: there is no such error to classify")
    for sql, params in (("INSERT INTO person (id, name) VALUES (5, :n)", {"n": PERSONAL * 3}),
                        ("INSERT INTO person (id, name, age) VALUES (6, 'x', CAST(:a AS INTEGER))", {"a": PERSONAL})):
        error = _error(engine, f"{sql} /* {MARKER} */", params)
        assert type(error) is RecordError, error
        assert str(error).startswith("the test store: a value does not fit its column (")
        assert error.code in ("22001", "22P02") and f"SQLSTATE {error.code})" in str(error)
        _assert_clean(error)


@pytest.mark.parametrize("sql", [
    f"SELEC name FROM person WHERE name = '{PERSONAL}' /* {MARKER} */",
    f"SELECT name FROM no_such_table_{MARKER.lower()}",
    f"SELECT {MARKER}_column FROM person",
])
def test_bad_sql_is_a_configuration_error_and_not_retried(engine, sql):
    error = _error(engine, sql)
    assert type(error) is ConfigError and error.error_class == "configuration"
    assert str(error).startswith("the test store: the database refused the statement (")
    if engine.dialect.name == "postgresql":
        assert error.code in ("42601", "42P01", "42703") and f"SQLSTATE {error.code}" in str(error)
    else:
        assert error.code == "statement" and "(OperationalError" in str(error)
    text = str(error)
    assert PERSONAL not in text and "SELEC" not in text and "[SQL" not in text
    assert not dberrors.is_outage(error.__context__)


def test_sqlite_names_the_missing_table_which_is_no_value(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    error = _error(engine, "SELECT * FROM koppel_missing")
    assert str(error) == ("the test store: the database refused the statement "
                          "(OperationalError: no such table: koppel_missing) [statement]")


def test_a_sqlite_syntax_error_names_nothing_of_the_statement(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    error = _error(engine, f"SELEC '{PERSONAL}'")
    assert str(error) == "the test store: the database refused the statement (OperationalError) [statement]"


def test_a_locked_sqlite_database_is_transient(tmp_path):
    path = tmp_path / "locked.db"
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    _setup(engine)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        error = _error(engine, f"INSERT INTO person (id, name) VALUES (9, '{PERSONAL}') /* {MARKER} */")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    assert type(error) is TransientError and str(error).startswith("the test store unavailable: OperationalError")
    _assert_clean(error)


def test_a_sqlite_file_that_cannot_be_opened_is_transient(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    error = _error(engine, "SELECT 1")
    assert type(error) is TransientError and error.code is None and "unavailable: OperationalError" in str(error)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_postgresql_connection_is_transient():
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/x",
                              connect_args={"connect_timeout": 2})
    error = _error(engine, "SELECT 1")
    assert type(error) is TransientError and error.error_class == "transient"
    assert str(error) == "the test store unavailable: OperationalError"


def test_a_postgresql_backend_killed_mid_session_is_transient(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL backend")
    engine = sa.create_engine(db_url, pool_size=1, max_overflow=0)
    with engine.connect() as c:
        pid = c.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        admin = pg_admin()
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        admin.close()
        with pytest.raises(TransientError) as info, dberrors.database_outage("the test store"):
            c.execute(sa.text(f"SELECT '{PERSONAL}' /* {MARKER} */"))
    engine.dispose()
    _assert_clean(info.value)
    assert info.value.code in ("57P01", None)


def test_other_exceptions_pass_through_unchanged():
    with pytest.raises(KeyError), dberrors.database_outage("x"):
        raise KeyError("k")
    assert dberrors.translate(ValueError("v"), "x") is None
    assert not dberrors.is_outage(ValueError("v"))


class _Orig(Exception):
    """A driver exception as psycopg raises it: a SQLSTATE, and diagnostics."""

    def __init__(self, sqlstate=None):
        super().__init__(f"driver text with {PERSONAL}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("state, transient", [
    ("08006", True), ("40P01", True), ("40001", True), ("53300", True), ("57014", True), ("57P01", True),
    ("58030", True), ("23505", False), ("22001", False), ("42601", False), ("42501", False), ("25P02", False),
])
def test_sqlstate_classes_decide_what_is_an_outage(state, transient):
    error = sa.exc.OperationalError("SELECT 1", {}, _Orig(state))
    assert dberrors.is_outage(error) is transient
    translated = dberrors.translate(error, "w")
    assert isinstance(translated, TransientError if transient else ConfigError)
    assert translated.code == state and PERSONAL not in str(translated)


def test_an_interface_error_or_an_invalidated_connection_is_an_outage_whatever_the_sqlstate():
    assert dberrors.is_outage(sa.exc.InterfaceError("SELECT 1", {}, _Orig("42601")))
    assert dberrors.is_outage(sa.exc.DBAPIError("SELECT 1", {}, _Orig("23505"), connection_invalidated=True))
    assert not dberrors.is_outage(sa.exc.DBAPIError("SELECT 1", {}, _Orig("23505")))
    assert not dberrors.is_outage(sa.exc.ProgrammingError("SELECT 1", {}, _Orig()))
    assert dberrors.is_outage(sa.exc.OperationalError("SELECT 1", {}, _Orig()))  # psycopg: refused, no SQLSTATE


@pytest.mark.parametrize("code, transient", [(5, True), (6, True), (10, True), (14, True), (261, True),
                                             (1, False), (19, False), (2067, False), (8, False)])
def test_sqlite_result_codes_decide_what_is_an_outage(code, transient):
    orig = sqlite3.OperationalError("x")
    orig.sqlite_errorcode = code  # 261 is SQLITE_BUSY_RECOVERY: extended codes count by their primary
    assert dberrors.is_outage(sa.exc.OperationalError("SELECT 1", {}, orig)) is transient


def test_a_data_error_without_a_sqlstate_is_still_named_a_data_error():
    error = dberrors.translate(sa.exc.DataError("INSERT ...", {}, sqlite3.DataError("too big")), "the test store")
    assert type(error) is RecordError and error.code == "data"
    assert str(error) == "the test store: a value does not fit its column (DataError) [data]"


def test_an_error_sqlite3_raises_itself_has_no_result_code_and_is_classified_all_the_same(tmp_path):
    connection = sqlite3.connect(tmp_path / "closed.db")
    connection.close()
    with pytest.raises(sqlite3.ProgrammingError) as info:
        connection.execute("SELECT 1")
    error = dberrors.translate(sa.exc.ProgrammingError("SELECT 1", {}, info.value), "the test store")
    assert type(error) is ConfigError and str(error) == (
        "the test store: the database refused the statement (ProgrammingError) [statement]")


# -- the drivers' own errors (the state store's run statements use sqlite3 and psycopg directly)


def _raw_error(connect, sql: str, params=()) -> Exception:
    connection = connect()
    try:
        with pytest.raises(Exception) as info, dberrors.database_outage("the test store"):
            connection.execute(sql, params)
    finally:
        connection.close()
    return info.value


def test_the_drivers_own_errors_get_the_same_classes_as_sqlalchemys(db_url):
    engine = sa.create_engine(db_url)
    _setup(engine)
    engine.dispose()
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")

        def connect():
            return sqlite3.connect(path)

        mark = "?"
    else:
        import psycopg

        def connect():
            return psycopg.connect(db_url.replace("+psycopg", ""))

        mark = "%s"
    unique = _raw_error(connect, f"INSERT INTO person (id, name, age) VALUES (2, {mark}, 1) /* {MARKER} */", (PERSONAL,))
    assert type(unique) is RecordError and "refused by a constraint" in str(unique)
    assert "person_name_key" in str(unique) or "UNIQUE constraint failed: person.name" in str(unique)
    _assert_clean(unique)
    wrong = _raw_error(connect, f"SELECT {MARKER}_column FROM person")
    assert type(wrong) is ConfigError and str(wrong).startswith("the test store: the database refused the statement (")
    assert "SELECT" not in str(wrong) and "FROM" not in str(wrong)  # an identifier it names, never the statement


def test_a_refused_connection_of_the_driver_itself_is_transient():
    import psycopg

    with pytest.raises(TransientError) as info, dberrors.database_outage("the test store"):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{_free_port()}/x", connect_timeout=2)
    assert str(info.value) == "the test store unavailable: OperationalError"


def test_a_locked_sqlite_database_is_transient_through_the_driver_too(tmp_path):
    path = tmp_path / "locked.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        error = _raw_error(lambda: sqlite3.connect(path, timeout=0), f"INSERT INTO t VALUES ('{PERSONAL}')")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert type(error) is TransientError and str(error) == "the test store unavailable: OperationalError"

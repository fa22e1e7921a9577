"""Migrations on a store with data, and the documented record shapes kept in step with the models."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from runtime.sis import schema
from runtime.sis.models import OBJECTS
from runtime.sis.relations import RELATIONS

RECORDS_MD = Path(__file__).resolve().parents[2] / "runtime" / "sis" / "RECORDS.md"


def test_upgrade_from_0001_fills_new_columns_and_keeps_the_outbox_working(store):
    engine = schema.engine(store.url)
    try:
        with engine.begin() as connection:
            command.downgrade(schema.alembic_config(connection), "0001")
        store.sql("INSERT INTO qualification (crebo, name, level) VALUES ('25998', 'Software developer', 4)")
        store.sql("INSERT INTO program (program_code, crebo, name, level, leerweg) VALUES ('25998-BOL', '25998', 'SD', 4, 'BOL')")
        store.sql("INSERT INTO offering (offering_code, program_code, brin, name) VALUES ('25998-BOL-X', '25998-BOL', '25LX', 'SD')")
        store.sql("INSERT INTO cohort (cohort_code, offering_code, start_date) VALUES ('25998-BOL-2027', '25998-BOL-X', '2027-08-23')")
        store.sql("INSERT INTO application (aanmeld_id, cohort_code, channel) VALUES ('AM1', '25998-BOL-2027', 'balie')")
        before = store.sql("SELECT max(seq) FROM outbox")[0][0]
        assert schema.init(store.url) == ("0001", schema.head_revision())
        assert store.sql("SELECT program_code FROM application") == [("25998-BOL",)]
        assert store.sql("SELECT object, key, op FROM outbox WHERE seq > ?", (before,)) == [("application", "AM1", "update")]
        store.sql("UPDATE application SET program_code = NULL WHERE aanmeld_id = 'AM1'")
        assert store.sql("SELECT count(*) FROM outbox WHERE seq > ?", (before,)) == [(2,)]
    finally:
        engine.dispose()


def test_records_md_documents_every_field_and_relation():
    text = RECORDS_MD.read_text(encoding="utf-8")
    for name, model in OBJECTS.items():
        section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        for column in model.__table__.columns:
            if column.name not in ("created_at", "updated_at"):
                assert f"| {column.name} |" in section, f"{name}.{column.name} is not in RECORDS.md"
        for relation in RELATIONS[name]:
            assert f"`{relation}`" in section, f"include {name}.{relation} is not in RECORDS.md"


def test_the_migrated_schema_matches_the_models(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from runtime.sis.models import Base

    def ours(obj, name, type_, reflected, compare_to):  # noqa: ANN001
        return not (type_ == "table" and name not in Base.metadata.tables)

    engine = schema.engine(store.url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": schema.VERSION_TABLE, "include_object": ours, "compare_type": True}
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    if store.engine_name == "sqlite":
        # SQLite keeps a column's reference inline, without the constraint's name
        diff = [d for d in diff if not (isinstance(d, tuple) and d[0] in ("add_fk", "remove_fk"))]
    assert diff == []

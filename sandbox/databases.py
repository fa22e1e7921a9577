"""The sandbox's data layer: the Datalaag and MIP schemas that interfaces 0, 2 and 18 replicate into.

API for the sandbox runner (``koppel sandbox up``) and the tests::

    from sandbox.databases import create, drop, locations

    create(project_root)            # → {"datalaag": "<where>", "mip": "<where>"}; idempotent
    create(project_root, url="postgresql+psycopg://postgres@127.0.0.1:5432/datalaag")
    locations(project_root)         # where each schema lives, without creating anything
    drop(project_root)              # SQLite: delete the files; PostgreSQL: DROP SCHEMA ... CASCADE

Where: catalog.yaml's sandbox settings of the systems ``datalaag`` and ``mip`` (their ``dsn`` and
``options.schema``): ``sqlite:///var/datalaag.db`` with schemas ``datalaag`` and ``mip``. ``url``
overrides the DSN (a PostgreSQL URL to try the production shape locally).

What a "schema" is on SQLite (decided here, used by ``plugins.db``): an attached database file
beside the main one, ``var/datalaag.datalaag.db`` and ``var/datalaag.mip.db``, attached under the
schema's name on every connection, so ``mip.student`` means the same on SQLite and PostgreSQL and
views written without a schema work on both. A table prefix was the alternative; it would make
every view SQL differ between the sandbox and production.

What is created in each schema: one table per SIS object (``runtime.sis.models``) with the SIS
column types and natural primary key, but without foreign keys, CHECK constraints or triggers: a
replica receives rows in change order, not in dependency order, and its checks belong to the SIS.
The db target then finds typed tables and only adds columns that appear later. Set
``tables=False`` to create empty schemas and let the first replication create the tables.
"""

from __future__ import annotations

from pathlib import Path

SYSTEMS = ("datalaag", "mip")
DEFAULT_DSN = "sqlite:///var/datalaag.db"


def locations(project_root: Path, *, url: str | None = None) -> dict[str, str]:
    """schema → where it lives (a file path for SQLite, ``<url> schema <name>`` for PostgreSQL)."""
    from plugins.db.dsn import is_sqlite, schema_file

    result = {}
    for schema, dsn in _settings(Path(project_root), url).items():
        result[schema] = str(schema_file(dsn, schema)) if is_sqlite(dsn) else f"{_masked(dsn)} schema {schema}"
    return result


def create(project_root: Path, *, url: str | None = None, tables: bool = True) -> dict[str, str]:
    """Create the schemas (and the replica tables) if missing; returns ``locations``."""
    from plugins.db.dsn import create_engine, is_sqlite

    project_root = Path(project_root)
    by_dsn: dict[str, list[str]] = {}
    for schema, dsn in _settings(project_root, url).items():
        by_dsn.setdefault(dsn, []).append(schema)
    for dsn, schemas in by_dsn.items():
        engine = create_engine(dsn, attach=schemas if is_sqlite(dsn) else ())
        try:
            with engine.begin() as conn:
                if not is_sqlite(dsn):
                    for schema in schemas:
                        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                if tables:
                    for schema in schemas:
                        replica_metadata(schema).create_all(conn, checkfirst=True)
        finally:
            engine.dispose()
    return locations(project_root, url=url)


def drop(project_root: Path, *, url: str | None = None) -> None:
    """Remove the sandbox data layer (its files, or its PostgreSQL schemas)."""
    from plugins.db.dsn import create_engine, is_sqlite, schema_file

    for schema, dsn in _settings(Path(project_root), url).items():
        if is_sqlite(dsn):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{schema_file(dsn, schema)}{suffix}").unlink(missing_ok=True)
        else:
            engine = create_engine(dsn)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                engine.dispose()


def replica_metadata(schema: str):
    """The SIS object tables in ``schema``: same columns, types and keys; no FKs, checks or
    triggers, and no column for a BSN or onderwijsnummer: no replica has a legal basis for one
    (interfaces 0, 2 and 18 leave them out; the MIP's pseudonym column comes with its first rows)."""
    from sqlalchemy import Column, MetaData, Table

    from runtime.crossrefs import BSN_LIKE
    from runtime.sis.models import OBJECTS

    metadata = MetaData(schema=schema)
    for name, model in OBJECTS.items():
        source = model.__table__
        columns = [Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable or not c.primary_key)
                   for c in source.columns if not BSN_LIKE.search(c.name)]
        Table(name, metadata, *columns)
    return metadata


def _settings(project_root: Path, url: str | None) -> dict[str, str]:
    """schema → absolute DSN, from catalog.yaml's sandbox settings (or ``url``)."""
    import yaml

    from plugins.db.dsn import absolute_sqlite

    result = {}
    catalog_file = project_root / "catalog.yaml"
    systems = {}
    if catalog_file.exists():
        systems = (yaml.safe_load(catalog_file.read_text(encoding="utf-8")) or {}).get("systems", {})
    for name in SYSTEMS:
        sandbox = ((systems.get(name) or {}).get("environments") or {}).get("sandbox") or {}
        schema = (sandbox.get("options") or {}).get("schema", name)
        dsn = url or sandbox.get("dsn") or DEFAULT_DSN
        result[schema] = absolute_sqlite(dsn, project_root)
    return result


def _masked(dsn: str) -> str:
    from runtime import redact

    return redact.text(dsn)


def main() -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Create the sandbox Datalaag and MIP schemas.")
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument("--url", help="a database URL instead of catalog.yaml's sandbox dsn")
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    if args.drop:
        drop(args.project, url=args.url)
        return
    for schema, where in create(args.project, url=args.url).items():
        print(f"{schema}: {where}")


if __name__ == "__main__":
    main()

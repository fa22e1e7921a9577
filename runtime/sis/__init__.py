"""The central SIS store: SQLAlchemy models, Alembic migrations, the change outbox, the seed.

Modules:
    models      one table per object type (person, student, enrollment, ...), natural keys
    relations   how objects refer to each other, for ``include`` joins in sis source records
    triggers    the outbox triggers (SQLite and PostgreSQL), installed by the migrations
    verzuim     the 16-hours-in-4-weeks rule: triggers that make absence reports, and its Python twin
    schema      engines with the right settings, ``init`` (create or upgrade the schema)
    outbox      ``OutboxReader``: what the engine uses for realtime interfaces
    records     rows → JSON-able record dicts with joined related objects
    seed        a deterministic synthetic college
    cli         ``koppel sis init | seed | outbox | stats``

The record shapes that mappings address are documented in ``RECORDS.md`` beside this file.
"""

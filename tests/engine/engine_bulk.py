"""Helpers of the bulk-path tests: a SIS-like SQLite source with an outbox, and a db → db interface
shaped like interface 0 (outbox mode, no mapping, ``ledger: false``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import engine_fakes
from runtime.engine import Engine


def make_source(path: Path, count: int, *, bad_at: int | None = None) -> None:
    """``enrollment`` (``count`` rows, dates, NULLs, a float), ``membership`` (two key columns,
    ``count // 10`` rows) and an outbox with one entry. ``bad_at``: that row's credits are text."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, object TEXT, key TEXT, op TEXT, changed_at TEXT)")
    db.execute("CREATE TABLE enrollment (enrollment_id INTEGER PRIMARY KEY, student_number TEXT, credits INTEGER, "
               "amount REAL, start_date DATE, updated_at DATETIME)")
    db.execute('CREATE TABLE membership (group_code TEXT, person_number TEXT, role TEXT, '
               'PRIMARY KEY (group_code, person_number))')
    db.executemany("INSERT INTO enrollment VALUES (?, ?, ?, ?, ?, ?)", (
        (i, f"S{100000 + i}" if i % 7 else None, "veel" if i == bad_at else i % 240, i * 0.25,
         f"2026-{1 + i % 12:02}-{1 + i % 28:02}", f"2026-01-01 10:{i % 60:02}:00") for i in range(1, count + 1)))
    db.executemany("INSERT INTO membership VALUES (?, ?, ?)",
                   ((f"G{i % 13}", f"P{i}", "lid") for i in range(count // 10)))
    db.execute("INSERT INTO outbox (object, key, op, changed_at) VALUES ('enrollment', '1', 'upsert', '2026-01-01')")
    db.commit()
    db.close()


def interface(schema: str | None, *, mode: str = "outbox", batch_size: int = 100) -> dict:
    return {
        "id": 0, "type": "realtime", "trigger": {"type": "outbox", "objects": ["enrollment", "membership"]},
        "source": {"type": "db", "system": "sis", "mode": mode, "tables": [
            {"name": "enrollment", "key": ["enrollment_id"]},
            {"name": "membership", "key": ["group_code", "person_number"], "watermark": None}]},
        "targets": [{"type": "db", "system": "dl", **({"schema": schema} if schema else {})}],
        "delivery": {"ledger": False, "skip_unchanged": False, "batch_size": batch_size,
                     "retries": {"max_attempts": 2, "initial_delay": 0.01, "max_delay": 0.02}},
    }


def registry():
    from plugins.db import plugin

    return engine_fakes.registry({"db": plugin})


def engine(root: Path, source: Path, target_dsn: str, state_url: str, schema: str | None, **options) -> Engine:
    reg = registry()
    project = engine_fakes.make_project(root, reg, [interface(schema, **options)],
                                        {"sis": {"dsn": f"sqlite:///{source}"}, "dl": {"dsn": target_dsn}})
    return Engine(project, reg, "sandbox", state_url=state_url)

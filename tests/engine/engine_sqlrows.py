"""A test source over a plain SQL table (seq, key, data): an outbox-like source for crash tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

from runtime.models.interface import SpecBase
from runtime.plugin import Batch, Plugin, Record, Source


class SqlRowsSpec(SpecBase):
    type: Literal["sqlrows"]
    url: str
    table: str = "events"


class SqlRowsSource(Source):
    def __init__(self, spec, ctx) -> None:
        self.spec = spec
        self.size = ctx.options.get("batch_size", 500)

    def open(self) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(self.spec.url)

    def close(self) -> None:
        self.engine.dispose()

    def read(self, cursor: str | None) -> Iterator[Batch]:
        from sqlalchemy import text

        last = int(cursor or 0)
        while True:
            with self.engine.connect() as c:
                rows = c.execute(text(f"SELECT seq, key, data FROM {self.spec.table} WHERE seq > :s ORDER BY seq LIMIT :n"),
                                 {"s": last, "n": self.size}).all()
            if not rows:
                return
            last = rows[-1][0]
            # one row per change, in seq order: a record's seq is safe to store once it and those
            # before it are acknowledged (Record.cursor), so a crash mid-batch moves the cursor too
            yield Batch([Record(key=r[1], data=json.loads(r[2]), meta={"seq": r[0]}, cursor=str(r[0]))
                         for r in rows], cursor=str(last))


def create_table(url: str, n: int, table: str = "events") -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text(f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, data TEXT NOT NULL)"))
        c.execute(text(f"INSERT INTO {table} (seq, key, data) VALUES (:seq, :key, :data)"),
                  [{"seq": i, "key": f"s{i}", "data": json.dumps({"id": f"s{i}", "n": i})} for i in range(1, n + 1)])
    engine.dispose()


def plugin() -> Plugin:
    return Plugin("sqlrows", "test SQL source", source_spec=SqlRowsSpec, create_source=lambda s, c: SqlRowsSource(s, c))

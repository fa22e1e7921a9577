"""The SIS store as a source: one object type, read incrementally in bounded batches.

Modes (``mode:`` in the spec):

- ``outbox`` (default): the changes since the cursor, from the outbox. The cursor is the last
  outbox sequence handled (``"1234"``); the first run starts at the current end of the outbox, so
  a new interface does not replay history (set the cursor to ``"0"`` to replay it all). Several
  changes of one key within a batch become one record with the row as it is now. A delete yields
  ``operation: delete`` with only the key fields in ``data``. A change of an included object
  (the student's person, an added period) sends the records that include it again, as an
  update (``follow_includes: false`` turns that off); see ``runtime.sis.related`` for what can
  be traced back after a delete.
- ``watermark``: rows whose ``updated_at`` is after the cursor, in (updated_at, key) order; the
  cursor is ``"<ISO timestamp>|<key>"``. Deletes are not seen in this mode. On PostgreSQL
  ``updated_at`` is the writing transaction's start time, so a transaction that runs long and
  commits late can land behind the watermark: use ``outbox`` where that matters.
- ``full``: every row, in key order. The cursor is the last key read, so an interrupted run
  resumes where it stopped; the last batch returns ``""``, so the next run reads everything again.

The store is ``KOPPEL_SIS_URL`` (``ctx.options["sis_url"]`` overrides it). Batches hold at most
``ctx.options["batch_size"]`` (default 500) records and are read with
keyset pagination, so memory stays flat whatever the table size. ``include`` joins related
objects (``runtime/sis/RECORDS.md``); ``where`` (JMESPath) drops records for which it is false,
after the include, while the cursor still moves past them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import tuple_

from runtime.dberrors import database_outage
from runtime.errors import ConfigError
from runtime.plugin import Batch, PluginContext, Record, Source
from runtime.settings import sis_url
from runtime.sis import declared
from runtime.sis import records as rec
from runtime.sis.models import OBJECTS, natural_key

from .spec import SisSource


class SisStoreSource(Source):
    def __init__(self, spec: SisSource, ctx: PluginContext) -> None:
        declared.register(ctx.project_root)  # the project's own objects/*.yaml
        if spec.object not in OBJECTS:
            raise ConfigError(f"source.object: unknown SIS object '{spec.object}'")
        self.spec = spec
        self.ctx = ctx
        self.batch_size = int(ctx.options.get("batch_size", 500))
        self.url = ctx.options.get("sis_url") or sis_url(ctx.project_root)
        try:
            self.tree = rec.include_tree(spec.object, spec.include)
        except KeyError as exc:
            raise ConfigError(f"source.include: {exc.args[0]}") from None
        self.related = None
        if spec.mode == "outbox" and spec.follow_includes and spec.include:
            from runtime.sis.related import RelatedChanges

            self.related = RelatedChanges(spec.object, spec.include)
        self._where = None
        if spec.where:
            import jmespath

            self._where = jmespath.compile(spec.where)
        self.engine = None
        self.reader = None

    def open(self) -> None:
        from runtime.sis import schema

        self.engine = schema.engine(self.url)
        if self.spec.mode == "outbox":
            from runtime.sis.outbox import OutboxReader

            self.reader = OutboxReader(self.url, listen=False)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    def read(self, cursor: str | None) -> Iterator[Batch]:
        if self.engine is None:
            self.open()
        with database_outage("SIS store"):
            if self.spec.mode == "outbox":
                yield from self._read_outbox(cursor)
            else:
                yield from self._read_table(cursor)

    def total(self, cursor: str | None) -> int | None:
        """How many records this run will read (a progress bar's ETA); None in outbox mode. The
        ``where`` is evaluated in Python, so this reads the rows once more: only an interactive
        ``koppel run`` asks, where a run long enough to need an ETA dwarfs it."""
        if self.spec.mode == "outbox":
            return None
        if self.engine is None:
            self.open()
        with database_outage("SIS store"):
            return sum(len(batch.records) for batch in self._read_table(cursor))

    def reread(self, records: list[Record]) -> list[Record | None]:
        """The records as the store holds them now, with their includes (for a replay in source
        order, runtime/engine/deadletters.py); None for a record that is gone or no longer
        matches ``where``. Each keeps the meta it was read with."""
        if self.engine is None:
            self.open()
        with database_outage("SIS store"), self.engine.connect() as connection:
            fresh = self._outbox_records(connection, {r.key: {**r.meta, "op": "update"} for r in records})
        by_key = {r.key: r for r in fresh}
        return [by_key.get(r.key) for r in records]

    # --- outbox ---------------------------------------------------------------------------

    def _read_outbox(self, cursor: str | None) -> Iterator[Batch]:
        after = int(cursor) if cursor not in (None, "") else self.reader.max_seq()
        object_type = self.spec.object
        objects = [object_type] + [o for o in (self.related.objects if self.related else []) if o != object_type]
        stored = cursor not in (None, "")  # whether the engine holds a position already
        while True:
            changes = self.reader.read_after(after, objects, self.batch_size)
            horizon = max(after, self.reader.horizon)
            if not changes:
                # rows of other objects passed, or a first run: store the position all the same,
                # so that changes made before the next run are not skipped
                if horizon > after or not stored:
                    yield Batch(records=[], cursor=str(horizon))
                if horizon == after:
                    return
                after, stored = horizon, True  # a long stretch of other objects: read on
                continue
            with self.engine.connect() as connection:
                last = self._latest_per_key(connection, changes)
                keys = list(last)
                for start in range(0, len(keys), self.batch_size):  # related changes can fan out
                    chunk = keys[start : start + self.batch_size]
                    records = self._outbox_records(connection, {k: last[k] for k in chunk})
                    done = start + self.batch_size >= len(keys)
                    if done and start == 0:
                        _record_cursors(records, horizon)
                    # the cursor moves with the last part only: a crash in between resends
                    yield Batch(records=records, cursor=str(horizon if done else after))
            after, stored = horizon, True

    def _latest_per_key(self, connection, changes: list) -> dict[str, dict]:  # noqa: ANN001
        """Root key → its last change (seq, op, changed_at); included objects' changes count as
        an update of every root record that includes them."""
        object_type = self.spec.object
        last: dict[str, dict] = {}
        related: dict[str, list[str]] = {}
        related_meta: dict[str, dict] = {}
        for change in changes:
            meta = {"seq": change.seq, "op": change.op, "changed_at": change.changed_at.isoformat()}
            if change.object == object_type:
                last.pop(change.key, None)  # the last change of each key wins, in the order it happened
                last[change.key] = meta
            else:
                related.setdefault(change.object, []).append(change.key)
                # which root a related change reaches is not known per change: every root it
                # reaches stands for the *earliest* such change (changes come in seq order), so
                # a step's cursor (_record_cursors) never passes a related change not yet sent
                related_meta.setdefault(change.object, meta)
        for related_type, keys in related.items():
            for key_tuple in self.related.root_keys(connection, related_type, sorted(set(keys))):
                key = rec.KEY_SEPARATOR.join(str(v) for v in key_tuple)
                if key not in last:
                    last[key] = {**related_meta[related_type], "op": "update", "via": related_type}
        return last

    def _outbox_records(self, connection, last: dict[str, dict]) -> list[Record]:  # noqa: ANN001
        object_type = self.spec.object
        live_keys = [rec.typed_key(object_type, k) for k, meta in last.items() if meta["op"] != "delete"]
        rows = rec.fetch_by_keys(connection, object_type, live_keys)
        found = [rows[k] for k in live_keys if k in rows]
        if self.tree and found:
            rec.attach(connection, object_type, found, self.tree)
        by_key = {rec.key_string(object_type, r): r for r in found}
        records = []
        for key, meta in last.items():
            if meta["op"] == "delete":
                records.append(Record(key, rec.split_key(object_type, key), object_type, "delete", meta))
            elif key in by_key and self._keep(by_key[key]):
                records.append(Record(key, by_key[key], object_type, "upsert", meta))
            # else: deleted meanwhile; its delete comes in a later batch
        return records

    # --- watermark and full ---------------------------------------------------------------

    def _read_table(self, cursor: str | None) -> Iterator[Batch]:
        object_type = self.spec.object
        t = rec.table(object_type)
        keys = [t.c[c] for c in natural_key(object_type)]
        watermark = self.spec.mode == "watermark"
        order = ([t.c.updated_at] if watermark else []) + keys
        position = self._parse_cursor(cursor) if cursor else None
        while True:
            with self.engine.connect() as connection:
                reader = rec.row_reader(object_type, connection.dialect.name)
                query = reader.select()
                if position is not None:
                    query = query.where(tuple_(*order) > tuple_(*position))
                found = [reader.record(r) for r in connection.execute(query.order_by(*order).limit(self.batch_size))]
                if not found:
                    return
                last_key = rec.key_string(object_type, found[-1])
                last_stamp = found[-1]["updated_at"]
                if self.tree:
                    rec.attach(connection, object_type, found, self.tree)
            records = [
                Record(rec.key_string(object_type, r), r, object_type, "upsert", {"updated_at": r["updated_at"]})
                for r in found
                if self._keep(r)
            ]
            done = len(found) < self.batch_size
            if watermark:
                next_cursor = f"{last_stamp}|{last_key}"
            else:  # "" at the end: the next run starts again from the first row
                next_cursor = "" if done else last_key
            yield Batch(records=records, cursor=next_cursor)
            if done:
                return
            position = self._parse_cursor(next_cursor)

    def _parse_cursor(self, cursor: str) -> tuple:
        object_type = self.spec.object
        if self.spec.mode == "full":
            return rec.typed_key(object_type, cursor)
        try:
            stamp, key = cursor.split("|", 1)
            moment = dt.datetime.fromisoformat(stamp)
        except ValueError:
            raise ConfigError(f"sis source: cursor '{cursor}' is not '<ISO timestamp>|<key>'") from None
        if moment.tzinfo is not None and self.engine.dialect.name == "sqlite":
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)  # stored as naive UTC
        elif moment.tzinfo is None and self.engine.dialect.name != "sqlite":
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return (moment, *rec.typed_key(object_type, key))

    def _keep(self, record: dict) -> bool:
        return self._where is None or bool(self._where.search(record))


def _record_cursors(records: list[Record], horizon: int) -> None:
    """Give each record the outbox position that is safe once it and those before it are
    acknowledged (Record.cursor, runtime/engine/checkpoint.py): just below the lowest sequence
    number of the records after it, since each record stands for its key's changes up to its own
    sequence number (and a related object's change can come later in the list with a lower one)."""
    lowest_after = horizon + 1
    for record in reversed(records):
        record.cursor = str(min(horizon, lowest_after - 1))
        seq = record.meta.get("seq")
        if isinstance(seq, int):
            lowest_after = min(lowest_after, seq)

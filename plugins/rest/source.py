"""``RestApiSource``: read records from an HTTP API, page by page, in bounded batches.

Cursor rules (decided here; the engine stores the cursor of the last acknowledged batch):

- Without ``watermark`` every run is a full read and every cursor is None.
- With ``watermark`` the request carries ``param = template`` with ``{cursor}`` replaced by the
  stored cursor (``initial`` on the first run), e.g. Exact's
  ``$filter=Modified gt datetime'{cursor}'``. The cursor of a batch is the highest watermark that
  is *safe* to resume from once that batch is acknowledged:
    * the last batch of a read: the highest watermark seen in the whole read;
    * an earlier batch, while the records came in ascending watermark order: the highest value
      *below* the batch's last one (a ``gt`` filter then re-reads records that share the last
      timestamp rather than skipping those of them in the next batch: at-least-once, never lost);
    * an earlier batch when the order was not ascending: the cursor the read started from, so a
      crash half-way re-reads from the start instead of skipping records.
  Exact sends dates as ``/Date(1641034800000)/``; those are turned into ISO 8601 UTC
  (``2022-01-01T11:00:00.000``), which is also what its ``datetime'…'`` literal accepts.
- A record whose ``key`` expression finds nothing is a ConfigError: the definition is wrong,
  and guessing a key would break idempotency.

With ``related`` each batch is completed by records of another collection (``related.py``:
Exact's debtor Account of an invoice).

File downloads (``format: csv|xlsx|json|jsonl|xml``, e.g. SBB's crebo list) are read with
``plugins.codecs``; when that module is not installed only JSON documents are understood.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

from runtime.errors import ConfigError
from runtime.plugin import Batch, PluginContext, Record, Source

from . import bodies, errors, related
from .client import OwnsRestClient, RestClient
from .lookup import compile_lookup
from .paging import Pager
from .spec import RestSource

_ODATA_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")


def watermark_value(value: Any) -> str | None:
    """A record's watermark as a sortable string (ISO for OData dates), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        match = _ODATA_DATE.match(value)
        if match:
            moment = dt.datetime.fromtimestamp(int(match.group(1)) / 1000, tz=dt.timezone.utc)
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        return value
    if isinstance(value, (int, float)):
        return f"{value:020.6f}" if isinstance(value, float) else f"{value:020d}"
    return str(value)


class RestApiSource(OwnsRestClient, Source):
    def __init__(self, spec: RestSource, ctx: PluginContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.batch_size = int(ctx.options.get("batch_size", 500))
        self.client: RestClient | None = None
        self._records = compile_lookup(spec.records) if spec.records else None
        self._key = compile_lookup(spec.key)
        self._watermark = compile_lookup(spec.watermark.field) if spec.watermark else None

    def read(self, cursor: str | None) -> Iterator[Batch]:
        self.open()
        assert self.client is not None
        params: dict[str, Any] = dict(self.spec.params)
        wm = self.spec.watermark
        if wm:
            params[wm.param] = wm.template.replace("{cursor}", cursor or wm.initial)
        pending: list[Record] = []
        tracker = _Watermarks(cursor if wm else None)
        boundary: str | None = None
        for raw in self._raw_records(params):
            # A full batch is held until the next record shows it is not the last one, so the
            # last batch always carries the read's final cursor (and no empty batch is needed).
            if len(pending) >= self.batch_size:
                yield Batch(self._linked(pending), cursor=boundary)
                pending = []
            if self._watermark is not None:
                tracker.see(watermark_value(self._watermark(raw)))
            pending.append(self._record(raw))
            if len(pending) == self.batch_size and wm:
                boundary = tracker.safe()
        if pending:
            yield Batch(self._linked(pending), cursor=tracker.highest() if wm else None)

    def _linked(self, records: list[Record]) -> list[Record]:
        if self.spec.related:
            assert self.client is not None
            related.attach(self.client, self.spec.related, records)
        return records

    def _record(self, raw: Any) -> Record:
        key = self._key(raw)
        if key is None or key == "":
            raise ConfigError(f"a record from {self.spec.path} has no key at '{self.spec.key}' (check source.key)")
        data = raw if isinstance(raw, dict) else {"value": raw}
        return Record(key=str(key), data=data)

    def _raw_records(self, params: dict[str, Any]) -> Iterator[Any]:
        assert self.client is not None
        if self.spec.format is not None:
            yield from self._download(params)
            return
        pager = Pager(self.spec.paging, self.client.url(self.spec.path), params)
        request: Any = pager.first()
        while request is not None:
            url, query = request
            response = self._call(url, query)
            body = bodies.decode(response, f"{self.spec.method} {self.spec.path}")
            page = self._records(body) if self._records is not None else body
            if page is None:
                page = []
            if isinstance(page, dict):
                page = [page]
            if not isinstance(page, list):
                raise errors.malformed(
                    f"{self.spec.method} {self.spec.path}", f"'{self.spec.records or '@'}' is not a list of records"
                )
            yield from page
            request = pager.next(request, response, body, len(page))

    def _call(self, url: str, query: dict[str, Any] | None):
        assert self.client is not None
        if self.spec.method == "POST":  # search endpoints: the parameters are the JSON body
            content, ctype = bodies.encode(query or {}, "json")
            return self.client.send("POST", url, content=content, headers={"Content-Type": ctype})
        return self.client.send("GET", url, params=query)

    def _download(self, params: dict[str, Any]) -> Iterator[Any]:
        assert self.client is not None and self.spec.format is not None
        response = self._call(self.client.url(self.spec.path), params)
        fmt = self.spec.format
        try:
            from plugins import codecs
        except ImportError:
            if fmt.type != "json":
                raise ConfigError(f"format '{fmt.type}' needs plugins.codecs, which is not installed") from None
            body = bodies.decode(response, f"GET {self.spec.path}")
            yield from (body if isinstance(body, list) else [body])
            return
        yield from codecs.read_records(fmt, io.BytesIO(response.content), project_root=self.ctx.project_root)


class _Watermarks:
    """Tracks the watermarks of one read to give each batch a cursor that is safe to resume from."""

    def __init__(self, start: str | None) -> None:
        self.start = start
        self._max: str | None = None
        self._below_max: str | None = None  # the highest value strictly below the current maximum
        self._ascending = True
        self._last: str | None = None

    def see(self, value: str | None) -> None:
        if value is None:
            return
        if self._last is not None and value < self._last:
            self._ascending = False
        self._last = value
        if self._max is None or value > self._max:
            self._below_max, self._max = self._max, value
        elif value < self._max and (self._below_max is None or value > self._below_max):
            self._below_max = value

    def safe(self) -> str | None:
        if self._ascending and self._below_max is not None:
            return max(self._below_max, self.start) if self.start else self._below_max
        return self.start

    def highest(self) -> str | None:
        if self._max is None:
            return self.start
        return max(self._max, self.start) if self.start else self._max

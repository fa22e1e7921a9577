"""Contract cases of the ``rest`` plugin: an OData-style source with a watermark, and targets
(one call per record, and JSON arrays) against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import re
from pathlib import Path

import pytest

from plugins.rest import plugin
from runtime.models.catalog import SystemEnvironment
from runtime.plugin import Item, PluginContext

from .framework import SourceContract, SourceHarness, TargetContract, TargetHarness
from .httppeer import HttpPeer, PeerRequest

API_KEY = "contract-rest-key-7f3a9c"
os.environ["KOPPEL_CONTRACT_REST_KEY"] = API_KEY
_FILTER = re.compile(r"Modified gt datetime'([^']+)'")


def _context(peer: HttpPeer, batch_size: int = 3) -> PluginContext:
    system = SystemEnvironment.model_validate(
        {
            "url": f"{peer.url}/api",
            "timeout": 2.0,
            "auth": {"type": "api_key", "headers": {"X-Api-Key": "${env:KOPPEL_CONTRACT_REST_KEY}"}},
            "options": {"retry_after_max_wait": 0.2},
        }
    )
    return PluginContext(
        environment="sandbox",
        project_root=Path(__file__).resolve().parents[2],
        system_name="peer",
        system=system,
        options={"batch_size": batch_size},
    )


def _authorised(request: PeerRequest) -> bool:
    return request.headers.get("x-api-key") == API_KEY


class ODataPeerHarness(SourceHarness):
    """Exact-like: ``{"d": {"results": [...], "__next": ...}}``, two records a page, a Modified watermark."""

    def __init__(self) -> None:
        self.peer = HttpPeer()
        self.rows: list[dict] = []
        self._clock = itertools.count(1)
        self._ids = itertools.count(1)
        self.peer.route("GET", "/api/items")(self._items)

    def __enter__(self) -> "ODataPeerHarness":
        self.peer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.peer.stop()

    def _items(self, request: PeerRequest):
        if not _authorised(request):
            return 401, {"message": "no key"}
        rows = sorted(self.rows, key=lambda r: r["_ms"])
        match = _FILTER.search(request.query.get("$filter", ""))
        if match:
            after = dt.datetime.fromisoformat(match.group(1).rstrip("Z")).replace(tzinfo=dt.timezone.utc)
            rows = [r for r in rows if r["_ms"] > after.timestamp() * 1000]
        skip = int(request.query.get("$skiptoken", 0))
        page = rows[skip : skip + 2]
        body: dict = {"results": [{k: v for k, v in r.items() if k != "_ms"} for r in page]}
        if skip + 2 < len(rows):
            query = f"$filter={request.query.get('$filter', '')}&$skiptoken={skip + 2}"
            body["__next"] = f"{self.peer.url}/api/items?{query}"
        return 200, {"d": body}

    def make_source(self):
        spec = plugin.source_spec.model_validate(
            {
                "type": "rest",
                "path": "items",
                "records": "d.results",
                "key": "ID",
                "params": {"$orderby": "Modified"},
                "paging": {"type": "next_link", "next": "d.__next"},
                "watermark": {
                    "field": "Modified",
                    "param": "$filter",
                    "template": "Modified gt datetime'{cursor}'",
                    "initial": "2020-01-01T00:00:00.000",
                },
            }
        )
        return plugin.create_source(spec, _context(self.peer, self.batch_size))

    def seed(self, count: int) -> list[str]:
        keys = []
        base = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
        for _ in range(count):
            key = f"line-{next(self._ids)}"
            ms = base + next(self._clock) * 1000
            self.rows.append({"ID": key, "Modified": f"/Date({ms})/", "AmountDC": 12.5, "_ms": ms})
            keys.append(key)
        return keys

    def reset(self) -> None:
        self.rows.clear()
        self.peer.clear()

    def transient_failure(self):
        return _failing(self.peer, status=500)

    def secrets(self) -> list[str]:
        return [API_KEY]


@contextlib.contextmanager
def _failing(peer: HttpPeer, **fault):
    peer.fail("/", times=-1, **fault)
    try:
        yield
    finally:
        peer.clear()


class RecordsPeerHarness(TargetHarness):
    """A JSON API that takes one record per POST (or an array with ``batch``), refusing with 422
    a record without a name, as OOAPI-style APIs do."""

    def __init__(self, batch: int | None = None) -> None:
        self.batch = batch
        self.peer = HttpPeer()
        self.accepted: list[str] = []
        self.peer.route("POST", "/api/records")(self._records)

    def __enter__(self) -> "RecordsPeerHarness":
        self.peer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.peer.stop()

    def _records(self, request: PeerRequest):
        if not _authorised(request):
            return 401, {"message": "no key"}
        body = request.json()
        rows = body if isinstance(body, list) else [body]
        if any(not row.get("name") for row in rows):
            return 422, {"message": "name: must not be empty"}
        self.accepted.extend(row["id"] for row in rows)
        answers = [{"id": f"T-{row['id']}"} for row in rows]
        return 201, answers if isinstance(body, list) else answers[0]

    def make_target(self):
        spec = plugin.target_spec.model_validate(
            {"type": "rest", "path": "records", "method": "POST", "reference": "id", "batch": self.batch}
        )
        return plugin.create_target(spec, _context(self.peer))

    def items(self, count: int) -> list[Item]:
        start = len(self.accepted) + 100 * count
        return [
            Item(key=f"r{n}", payload={"id": f"r{n}", "name": f"Naam {n}"}, source_key=f"r{n}")
            for n in range(start, start + count)
        ]

    def rejected_item(self) -> Item:
        return Item(key="bad", payload={"id": "bad", "name": ""}, source_key="bad")

    def delivered_keys(self) -> list[str]:
        return list(self.accepted)

    def reset(self) -> None:
        self.accepted.clear()
        self.peer.clear()

    def transient_failure(self):
        return _failing(self.peer, status=503)

    def secrets(self) -> list[str]:
        return [API_KEY]


class TestRestSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with ODataPeerHarness() as harness:
            yield harness


class TestRestTarget(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with RecordsPeerHarness() as harness:
            yield harness


class TestRestBatchTarget(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with RecordsPeerHarness(batch=2) as harness:
            yield harness

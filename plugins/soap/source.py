"""``SoapPullSource``: read records by calling an operation (SBB's leerbedrijven, interface 8).

``request`` is the request body. ``records`` is a JMESPath to the list of hits in the answer and
``key`` a JMESPath to a hit's key. With ``detail_operation``, each hit is completed by a second
call (SBB ``GeefDetails``) whose request is built from ``detail_request`` (field → JMESPath into
the hit); the details are merged into the record under ``details``.

Paging: when the request has a ``Pagina`` field (SBB's Zoeken), pages are requested one after
another until a page comes back short or empty, or ``AantalResultatenTotaal`` is reached. Each
page gives one or more batches (at most ``batch_size`` records each). A full pull has no cursor: the SIS side upserts by key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jmespath

from runtime.errors import ConfigError, RecordError
from runtime.plugin import Batch, PluginContext, Record, Source

from . import faults, systemfields
from .client import SoapEndpoint
from .settings import from_context
from .spec import SoapSource

PAGE_FIELD = "Pagina"
PAGE_SIZE_FIELD = "AantalResultatenPerPagina"
TOTAL_FIELD = "AantalResultatenTotaal"
MAX_PAGES = 10_000


class SoapPullSource(Source):
    def __init__(self, spec: SoapSource, ctx: PluginContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.endpoint: SoapEndpoint | None = None
        self._records = jmespath.compile(spec.records)
        self._key = jmespath.compile(spec.key)
        self._detail = {name: jmespath.compile(expr) for name, expr in spec.detail_request.items()}
        self._batch_size = max(int(ctx.options.get("batch_size", 500)), 1)
        self._system_values: dict[str, Any] | None = None

    def open(self) -> None:
        if self.endpoint is not None:
            return
        self.endpoint = SoapEndpoint(self.spec.wsdl, from_context(self.ctx), service=self.spec.service, port=self.spec.port)
        self.endpoint.operation(self.spec.operation)
        if self.spec.detail_operation:
            self.endpoint.operation(self.spec.detail_operation)
        self.endpoint.open()

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
            self.endpoint = None

    def read(self, cursor: str | None) -> Iterator[Batch]:
        if self.endpoint is None:
            self.open()
        request = self._with_system_fields(_deep_copy(self.spec.request))
        since = self.spec.since
        if since is not None:
            if not _has_field(request, since.param):
                raise ConfigError(f"source.since.param: the request has no field {since.param!r} to carry the cursor")
            _set_field(request, since.param, int(cursor or since.initial) if since.numeric else (cursor or since.initial))
        highest = cursor
        paged = _has_field(request, PAGE_FIELD)
        page = int(_get_field(request, PAGE_FIELD) or 1) if paged else 1
        seen = 0
        for _ in range(MAX_PAGES):
            if paged:
                _set_field(request, PAGE_FIELD, page)
            answer = self._call(self.spec.operation, request)
            hits = self._records.search(answer) or []
            if isinstance(hits, dict):
                hits = [hits]
            records = [self._record(hit) for hit in hits]
            for start in range(0, len(records), self._batch_size):
                chunk = records[start : start + self._batch_size]
                if since is not None:
                    highest = self._highest(highest, chunk)
                yield Batch(records=chunk, cursor=highest if since is not None else None)
            seen += len(hits)
            if not paged or not hits:
                return
            total = _find(answer, TOTAL_FIELD)
            size = _get_field(request, PAGE_SIZE_FIELD)
            if (total is not None and seen >= int(total)) or (size and len(hits) < int(size)):
                return
            page += 1
        raise ConfigError(f"{self.spec.operation}: more than {MAX_PAGES} pages; is paging configured right?")

    def _record(self, hit: Any) -> Record:
        key = self._key.search(hit)
        if key is None:
            raise RecordError(f"{self.spec.operation}: a hit has no key at {self.spec.key!r}", code="key")
        data = dict(hit) if isinstance(hit, dict) else {"value": hit}
        if self.spec.detail_operation:
            request = self._with_system_fields({name: expr.search(hit) for name, expr in self._detail.items()})
            data["details"] = self._call(self.spec.detail_operation, request)
        return Record(key=str(key), data=data)

    def _with_system_fields(self, request: dict[str, Any]) -> dict[str, Any]:
        """The spec's ``system_fields`` (SBB's Licentie) set from the catalog (``systemfields``)."""
        if self._system_values is None:
            self._system_values = systemfields.values(self.spec.system_fields, self.ctx)
        return systemfields.applied(request, self._system_values, self.ctx.system_name or "soap")

    def _call(self, operation: str, request: dict[str, Any]) -> Any:
        assert self.endpoint is not None
        answer = self.endpoint.call(operation, request).answer
        refused = faults.sbb_signal(answer, system=self.endpoint.settings.system) if isinstance(answer, dict) else None
        if refused is not None:
            raise refused
        return answer

    def _highest(self, current: str | None, records: list[Record]) -> str | None:
        assert self.spec.since is not None
        field = jmespath.compile(self.spec.since.field)
        values = [v for v in (field.search(r.data) for r in records) if v not in (None, "")]
        if self.spec.since.numeric:
            numbers = [int(v) for v in values] + ([int(current)] if current not in (None, "") else [])
            return str(max(numbers)) if numbers else current
        texts = [str(v) for v in values] + ([current] if current else [])
        return max(texts) if texts else current


def _deep_copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


def _containers(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The request and its nested objects (SBB wraps the fields in ``request``)."""
    yield request
    for value in request.values():
        if isinstance(value, dict):
            yield from _containers(value)


def _has_field(request: dict[str, Any], name: str) -> bool:
    return any(name in c for c in _containers(request))


def _get_field(request: dict[str, Any], name: str) -> Any:
    return next((c[name] for c in _containers(request) if name in c), None)


def _set_field(request: dict[str, Any], name: str, value: Any) -> None:
    for container in _containers(request):
        if name in container:
            container[name] = value
            return


def _find(answer: Any, name: str) -> Any:
    if isinstance(answer, dict):
        if name in answer:
            return answer[name]
        for value in answer.values():
            found = _find(value, name)
            if found is not None:
                return found
    return None

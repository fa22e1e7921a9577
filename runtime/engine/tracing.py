"""Traces (OpenTelemetry): one trace per run, a span per batch and per target call, and the
HTTP client spans of every call a target makes (opentelemetry-instrumentation-httpx), so a slow
run can be followed into the call that was slow.

Off by default. It switches on, once per process at the first run, when the standard variables
ask for it: ``OTEL_TRACES_EXPORTER=otlp`` (or ``console``), or an OTLP endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_SDK_DISABLED=true``
keeps it off. The OTLP exporter (HTTP/protobuf) reads the rest of the ``OTEL_EXPORTER_OTLP_*``
variables itself, the resource ``OTEL_SERVICE_NAME`` (default ``koppel``) and
``OTEL_RESOURCE_ATTRIBUTES``. Decision: Koppel does not export by default (unlike the SDK's own
default of ``otlp``), because a daemon that tries to reach a collector nobody runs only fills
the log with export errors.

While on, every log line written inside a span carries ``trace_id`` and ``span_id`` (a log
record factory: the JSON formatter writes every extra field), and the run's trace id is kept
in ``koppel_run_traces`` so the console's run page shows it. Nothing personal goes into a span:
attributes are interface numbers, run ids, target names and counts; an HTTP span's URL is
masked with ``runtime.redact`` (a BSN in a path, a key in a query).

Tests install their own span processor (``install(processor)``), e.g. the SDK's in-memory
exporter, and ``uninstall()`` afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any

from runtime import redact

log = logging.getLogger("koppel.tracing")

_tracer: Any = None
_provider: Any = None
_configured = False
_lock = threading.Lock()
_previous_factory = None


def wanted() -> bool:
    """Whether the OTEL_* variables ask for traces (Koppel's default: off)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def configure_from_env() -> bool:
    """Switch tracing on when the environment asks for it; once per process. True when on."""
    global _configured
    with _lock:
        if _configured:
            return _tracer is not None
        _configured = True
    if not wanted():
        return False
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    exporter: Any
    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        exporter = OTLPSpanExporter()
    install(BatchSpanProcessor(exporter))
    log.info("tracing on", extra={"exporter": exporter_name})
    return True


def install(processor) -> None:
    """Trace with this span processor (and instrument httpx) from now on."""
    global _tracer, _provider, _configured
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    uninstall()
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or "koppel"})
    _provider = TracerProvider(resource=resource)
    _provider.add_span_processor(processor)
    _tracer = _provider.get_tracer("koppel")
    _configured = True
    HTTPXClientInstrumentor().instrument(tracer_provider=_provider, request_hook=_mask_request)
    _install_log_fields()


def uninstall() -> None:
    """Tracing off again (flushing what was collected)."""
    global _tracer, _provider
    if _provider is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().uninstrument()
    _provider.shutdown()
    _tracer = _provider = None
    _remove_log_fields()


def enabled() -> bool:
    return _tracer is not None


def span(name: str, **attributes):
    """A span around a block (a no-op when tracing is off: a run's hot path pays nothing)."""
    if _tracer is None:
        return contextlib.nullcontext()
    return _tracer.start_as_current_span(name, attributes={f"koppel.{k}": v for k, v in attributes.items()})


@contextlib.contextmanager
def run_span(store, interface_id: int, trigger: str, run_id: int):
    """The root span of one run; its trace id is kept with the run (koppel_run_traces)."""
    if not _configured:
        configure_from_env()
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span("koppel.run", attributes={
            "koppel.interface": interface_id, "koppel.trigger": trigger, "koppel.run": run_id}) as current:
        try:
            remember(store, run_id, format(current.get_span_context().trace_id, "032x"))
        except Exception:
            log.warning("the run's trace id could not be recorded", extra={"run": run_id}, exc_info=True)
        yield


def remember(store, run_id: int, trace_id: str) -> None:
    from sqlalchemy import text

    with store.engine.begin() as c:
        c.execute(text("INSERT INTO koppel_run_traces (run_id, trace_id) VALUES (:r, :t)"), {"r": run_id, "t": trace_id})


def trace_of(store, run_id: int) -> str | None:
    from sqlalchemy import text

    with store.engine.connect() as c:
        return c.execute(text("SELECT trace_id FROM koppel_run_traces WHERE run_id = :r"), {"r": run_id}).scalar()


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the span in hand, in hex; None outside a recording span."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def _mask_request(span, request) -> None:
    # the instrumentation writes the URL before this hook runs: overwrite it masked
    url = redact.text(str(getattr(request, "url", "")))
    for attribute in ("url.full", "http.url"):
        span.set_attribute(attribute, url)


def _install_log_fields() -> None:
    global _previous_factory
    if _previous_factory is not None:
        return
    previous = _previous_factory = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        ids = current_ids()
        if ids:
            record.trace_id, record.span_id = ids
        return record

    logging.setLogRecordFactory(factory)


def _remove_log_fields() -> None:
    global _previous_factory
    if _previous_factory is not None:
        logging.setLogRecordFactory(_previous_factory)
        _previous_factory = None

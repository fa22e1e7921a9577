"""Traces: a run of interface 11 against the Intergrip stand-in, collected with the SDK's
in-memory exporter, is one trace (run → batch → target write → HTTP POST), the JSON log lines of
the run carry its trace id, and the run page shows it. Off by default."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime.engine import tracing
from runtime.engine.logs import JsonFormatter
from tests.console.conftest import sign_in


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.uninstall()


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("koppel")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_off_unless_the_otel_variables_ask(monkeypatch):
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    assert tracing.wanted() is False
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert tracing.wanted() is True
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert tracing.wanted() is False
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.wanted() is False
    assert tracing.enabled() is False  # nothing installed: the hot path's span() is a no-op
    assert type(tracing.span("koppel.batch")).__name__ == "nullcontext"


def test_a_run_is_one_trace_from_run_to_http_call_and_the_logs_carry_its_id(console_college, spans, log_lines, client):
    aid = console_college.change()
    finished = spans.get_finished_spans()
    runs = [s for s in finished if s.name == "koppel.run"]
    assert len(runs) == 1
    run = runs[0]
    trace_id = run.context.trace_id
    assert {s.context.trace_id for s in finished} == {trace_id}
    by_id = {s.context.span_id: s for s in finished}
    batch = next(s for s in finished if s.name == "koppel.batch")
    write = next(s for s in finished if s.name == "koppel.target.write")
    http = [s for s in finished if s.attributes.get("http.request.method") == "POST" or s.name.startswith("POST")]
    assert len(http) == 1, [s.name for s in finished]
    assert (batch.parent.span_id, write.parent.span_id, http[0].parent.span_id) == \
        (run.context.span_id, batch.context.span_id, write.context.span_id)
    assert by_id[batch.parent.span_id] is run
    assert dict(write.attributes) == {"koppel.target": "intergrip", "koppel.items": 1}
    assert run.attributes["koppel.interface"] == 11 and run.attributes["koppel.trigger"] == "outbox"
    url = http[0].attributes.get("url.full") or http[0].attributes.get("http.url")
    assert url.endswith(f"/aanmeldingen/{aid}/status")
    assert http[0].attributes.get("http.response.status_code", http[0].attributes.get("http.status_code")) in (200, 201, 202)

    hex_id = format(trace_id, "032x")
    lines = [entry for entry in log_lines() if entry["msg"] in ("run started", "run finished")]
    assert [(e["msg"], e["trace_id"]) for e in lines] == [("run started", hex_id), ("run finished", hex_id)]

    run_id = run.attributes["koppel.run"]
    assert tracing.trace_of(console_college.engine.store, run_id) == hex_id
    sign_in(client, "viewer")
    assert f"<code>{hex_id}</code>" in client.get(f"/ui/runs/{run_id}").text
    assert hex_id in client.get("/ui/interfaces/11").text


def test_a_url_holding_a_bsn_is_masked_in_its_span(console_college, spans):
    import httpx

    base = console_college.intergrip
    with httpx.Client() as c:  # a real call (the instrumentation wraps the real transport)
        c.get(f"{base}/api/people/111222333?key=x")
    (span,) = spans.get_finished_spans()
    url = span.attributes.get("url.full") or span.attributes.get("http.url")
    assert url == f"{base}/api/people/*****2333?key=x"

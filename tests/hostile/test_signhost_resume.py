"""Signhost's three calls (create, upload, start) resume where they failed: a retry or a replay of
a delivery uses the stored transaction id, so no document gets a second transaction and no
signer a second invitation.

The real Signhost stand-in (sandbox/rest/signhost.py) counts what it received; uploads fail for
a varying set of documents and the first starts fail, as hypothesis chooses. Each retry and each
replay is a new target over the same state database, as a new run or `deadletters replay` is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.rest import plugin
from plugins.rest.progress import StepProgress
from runtime.engine.state import StateStore
from runtime.errors import TransientError
from runtime.models.catalog import Catalog
from runtime.plugin import Item, PluginContext
from runtime.yamlsource import load_file
from sandbox.runner import Sandbox
from sandbox.standin import Fault

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = 6
STEPS = [
    {"method": "POST", "path": "/transaction", "body": "transaction", "save": {"transaction_id": "Id"}},
    {"method": "PUT", "path": "/transaction/{transaction_id}/file/{file_id}", "file": "file_path",
     "content_type": "application/pdf"},
    {"method": "PUT", "path": "/transaction/{transaction_id}/start"},
]


@pytest.fixture(scope="module")
def signhost():
    box = Sandbox(ROOT, names=["signhost"], free_ports=True, include_services=False,
                  options={"signhost": {"sign_delay": 3600}})  # nobody signs during the test
    box.start()
    assert not box.skipped, box.skipped
    yield box
    box.stop()


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> list[Item]:
    folder = tmp_path_factory.mktemp("documents")
    items = []
    for n in range(DOCUMENTS):
        pdf = folder / f"DOC{n}.pdf"
        pdf.write_bytes(b"%PDF-1.4\n% upload-of-DOC" + str(n).encode() + b"\n%%EOF\n")
        transaction = {"Seal": False, "Reference": f"DOC{n}", "SignRequestMode": 2,
                       "Context": {"documentKind": "onderwijsovereenkomst", "studentIsMinor": False},
                       "Signers": [{"Email": f"student{n}@example.nl", "Context": {"role": "student"}}]}
        payload = {"transaction": transaction, "file_id": "overeenkomst.pdf", "file_path": str(pdf)}
        items.append(Item(key=f"DOC{n}:digest", payload=payload, source_key=f"DOC{n}"))
    return items


def _target(signhost: Sandbox, state_url: str):
    catalog = Catalog.model_validate(load_file(ROOT / "catalog.yaml").data)
    system = catalog.systems["signhost"].environments["sandbox"].model_copy(update={"url": signhost.url("signhost")})
    ctx = PluginContext(environment="sandbox", project_root=ROOT, system_name="signhost", system=system,
                        interface_id=14, state_url=state_url)
    spec = plugin.target_spec.model_validate({"type": "rest", "steps": STEPS, "reference": "transaction_id"})
    return plugin.create_target(spec, ctx)


def _deliver(signhost: Sandbox, state_url: str, items: list[Item]) -> dict[str, object]:
    """One run over ``items`` with a fresh target: outcome per document (True or the error)."""
    target = _target(signhost, state_url)
    try:
        outcomes = target.write(items)
    finally:
        target.close()
    return {item.source_key: (o.reference if o.ok else o.error) for item, o in zip(items, outcomes, strict=True)}


def _scenario(signhost, documents, state_url, failing_uploads, failing_starts) -> list[dict]:
    """Run, retry the failures until none is left (at most 5 rounds), then replay everything."""
    standin = signhost.context("signhost")
    standin.faults.clear()
    standin.received.clear()
    for n in failing_uploads:
        standin.faults.add(Fault(mode="500", match=f"upload-of-DOC{n}\n"))
    if failing_starts:
        standin.faults.add(Fault(mode="500", match="/start", times=failing_starts))
    rounds = [_deliver(signhost, state_url, documents)]
    latest = dict(rounds[0])
    for _ in range(5):
        failed = [item for item in documents if not isinstance(latest[item.source_key], str)]
        if not failed:
            break
        rounds.append(_deliver(signhost, state_url, failed))
        latest.update(rounds[-1])
    rounds.append(_deliver(signhost, state_url, documents))  # replay of every document
    return rounds


def _received(signhost, kind: str) -> list[dict]:
    with signhost.context("signhost").received.lock:
        return [dict(r) for r in signhost.context("signhost").received.items if r["kind"] == kind]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(failing_uploads=st.sets(st.integers(0, DOCUMENTS - 1), max_size=DOCUMENTS),
       failing_starts=st.integers(0, 2))
def test_one_transaction_per_document_each_started_once(signhost, documents, tmp_path_factory,
                                                        failing_uploads, failing_starts):
    state_url = f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.db'}"
    StateStore(state_url).close()  # migrated, as the engine does when it starts
    rounds = _scenario(signhost, documents, state_url, failing_uploads, failing_starts)

    first = rounds[0]
    for n in failing_uploads:  # the upload failure came back as a retryable failure of that document
        assert isinstance(first[f"DOC{n}"], TransientError), first
    created = _received(signhost, "transaction")
    started = _received(signhost, "start")
    assert sorted(r["body"]["Reference"] for r in created) == [f"DOC{n}" for n in range(DOCUMENTS)]
    assert len({r["id"] for r in started}) == len(started) == DOCUMENTS
    references = {r["body"]["Reference"]: r["id"] for r in created}
    assert rounds[-1] == references  # the replay answered each document with its one transaction
    uploads = _received(signhost, "file")
    assert sorted({r["id"] for r in uploads}) == sorted(references.values())


def test_without_the_stored_progress_a_retry_creates_a_second_transaction(signhost, documents, tmp_path,
                                                                           monkeypatch):
    """What happened before: the same run and retry, but progress forgotten between targets."""
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    StateStore(state_url).close()
    monkeypatch.setattr(StepProgress, "load", lambda self, key: (0, {}))
    rounds = _scenario(signhost, documents, state_url, failing_uploads={0, 1, 2}, failing_starts=0)
    posts = len(_received(signhost, "transaction"))
    # 6 in the run, 3 again in the retry, 6 again in the replay
    assert posts == DOCUMENTS + 3 + DOCUMENTS, posts
    assert len(rounds) == 3


def test_with_the_stored_progress_the_same_schedule_posts_once_per_document(signhost, documents, tmp_path):
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    StateStore(state_url).close()
    _scenario(signhost, documents, state_url, failing_uploads={0, 1, 2}, failing_starts=0)
    assert len(_received(signhost, "transaction")) == DOCUMENTS
    assert len(_received(signhost, "start")) == DOCUMENTS


def test_through_the_engine_retries_and_replay_make_one_transaction_per_document(signhost, documents, tmp_path):
    """The engine's own retries, its dead letters and `deadletters replay`, over the real target."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "engine"))
    import engine_fakes as fakes

    from plugins.rest import plugin as rest_plugin
    from runtime.engine import Engine
    from runtime.engine.deadletters import DeadLetters
    from runtime.plugin import Record

    standin = signhost.context("signhost")
    standin.faults.clear()
    standin.received.clear()
    for n in (0, 1, 2):  # both attempts of the run fail at the upload; the replay's succeeds
        standin.faults.add(Fault(mode="500", match=f"upload-of-DOC{n}\n", times=2))
    standin.faults.add(Fault(mode="500", match="/start", times=2))  # and the first two starts
    secrets = ROOT / "sandbox" / "secrets"
    system = {"url": signhost.url("signhost"), "auth": {
        "type": "api_key", "prefixes": {"Application": "APPKey ", "Authorization": "APIKey "},
        "headers": {"Application": f"${{file:{secrets}/signhost-app-key}}",
                    "Authorization": f"${{file:{secrets}/signhost-user-token}}"}}}
    fakes.SOURCES["documents"] = [Record(key=item.source_key, data=item.payload, object="document") for item in documents]
    registry = fakes.registry({"rest": rest_plugin})
    interface = {"id": 14, "objects": ["document"], "source": {"type": "memory", "name": "documents"},
                 "targets": [{"type": "rest", "system": "signhost", "steps": STEPS, "reference": "transaction_id"}],
                 "delivery": {"retries": {"max_attempts": 2, "initial_delay": 0.001, "max_delay": 0.001}}}
    project = fakes.make_project(tmp_path, registry, [interface], {"signhost": system})
    engine = Engine(project, registry, "sandbox", state_url=f"sqlite:///{tmp_path / 'state.db'}")
    try:
        summary = engine.run_interface(14)
        assert summary.dead >= 3 and summary.delivered == DOCUMENTS - summary.dead, summary
        results = DeadLetters(engine).replay(interface_id=14)
        assert {r.status for r in results} == {"delivered"}, results
        assert DeadLetters(engine).list(interface_id=14) == []
    finally:
        engine.close()
        fakes.SOURCES.clear()
    created = _received(signhost, "transaction")
    started = _received(signhost, "start")
    print(f"engine, run + replay: {len(created)} POST /transaction, {len(started)} starts for {DOCUMENTS} documents")
    assert sorted(r["body"]["Reference"] for r in created) == [f"DOC{n}" for n in range(DOCUMENTS)]
    assert sorted(r["id"] for r in started) == sorted(r["id"] for r in created)

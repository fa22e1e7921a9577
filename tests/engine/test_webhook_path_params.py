"""A webhook route with a path parameter and PATCH (NED's results: PATCH /associations/{associationId}),
served by Koppel's own server for the real project: authenticated, stored with the parameter as a
field before the 202, refused with the reason otherwise."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "inbound"))

from inbound_helpers import ThreadServer  # noqa: E402

ASSOCIATION = "5d1c0b8e-8a3f-4f0e-b5a2-6c7d8e9f0a1b"
PATH = f"/hooks/remindo/associations/{ASSOCIATION}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from runtime.engine import Engine
    from runtime.engine.server import create_app
    from runtime.project import load_project

    state = f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.db'}"
    engine = Engine(load_project(ROOT), environment="sandbox", state_url=state)
    with ThreadServer(create_app(engine)) as running:
        yield running, state
    engine.close()


def token() -> str:
    return (ROOT / "sandbox/secrets/remindo-results-token").read_text().strip()


def stored(state: str) -> list[tuple]:
    engine = sa.create_engine(state)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT interface_id, channel, key, body FROM koppel_inbox")).all()
    engine.dispose()
    from runtime.engine.state import crypto

    # bodies are sealed at rest (runtime/engine/state/crypto.py): opened as the inbox readers do
    return [(i, c, k, crypto.unseal(json.loads(b) if isinstance(b, str) else b)) for i, c, k, b in rows]


def test_a_patch_is_stored_with_the_path_parameter_before_the_202(server):
    running, state = server
    result = {"result": {"state": "completed", "pass": "passed", "score": "7.4"}}
    r = httpx.patch(running.url + PATH, json=result, headers={"Authorization": f"Bearer {token()}"})
    assert r.status_code == 202, r.text
    [(interface, channel, _key, body)] = [row for row in stored(state) if row[2] == ASSOCIATION]
    assert (interface, channel) == (25, "callback:remindo-resultaten")
    assert body == {**result, "associationId": ASSOCIATION}


def test_without_the_token_another_method_or_another_id_in_the_body_nothing_is_stored(server):
    running, state = server
    before = len(stored(state))
    assert httpx.patch(running.url + PATH, json={}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(running.url + PATH, json={}, headers={"Authorization": f"Bearer {token()}"}).status_code == 405
    r = httpx.patch(running.url + PATH, json={"associationId": "another"}, headers={"Authorization": f"Bearer {token()}"})
    assert r.status_code == 400 and "differs from the one in the path" in r.text
    assert len(stored(state)) == before

"""Contract cases of the ``webhook`` source, driven as in production: an Engine on a one-interface
project, HMAC-signed calls posted to its server app (stored in the durable inbox before the 202),
then read with the source the engine creates for that interface. The state database is SQLite
and PostgreSQL (a database of this session's own); a transient failure is PostgreSQL refusing
connections and cutting the open ones. An embedded SQLite file has no such failure.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from runtime.plugin import Source

from .framework import SourceContract, SourceHarness, Unsupported
from .pgdatabase import PgDatabase

SECRET = "hook-secret-5f2a9c"
PATH = "/hooks/aanmelding"
INTERFACE = {
    "id": 6, "name": "aanmeldingen", "type": "realtime", "objects": ["application"], "trigger": {"type": "webhook"},
    "source": {"type": "webhook", "path": PATH, "key": "aanmeldId",
               "auth": {"type": "hmac", "secret": "${file:hook.secret}", "prefix": "sha256="}},
    "targets": [{"type": "sis", "system": "sis", "object": "application"}],  # never written here
    "delivery": {"batch_size": 3},
}


def _project(root: Path):
    from runtime.models.interface import interface_model
    from runtime.project import Project
    from runtime.registry import registry

    project = Project(root)
    interface = interface_model(registry()).model_validate(INTERFACE)
    project.interfaces[interface.id] = interface
    project.interface_paths[interface.id] = root / "interfaces" / "06-aanmeldingen.yaml"
    return project


class WebhookHarness(SourceHarness):
    batch_size = INTERFACE["delivery"]["batch_size"]
    resumable = True

    def __init__(self, pg: PgDatabase | None = None) -> None:
        self.pg = pg
        self.root = Path(tempfile.mkdtemp(prefix="koppel-contract-webhook-"))
        self.numbers = itertools.count(1)

    def __enter__(self) -> WebhookHarness:
        from starlette.testclient import TestClient

        from runtime.engine import Engine
        from runtime.engine.server import create_app
        from runtime.registry import registry

        (self.root / "hook.secret").write_text(SECRET)
        state_url = self.pg.url if self.pg else f"sqlite:///{self.root / 'state.db'}"
        self.engine = Engine(_project(self.root), registry(), "sandbox", state_url=state_url)
        self.interface = self.engine.project.interface(INTERFACE["id"])
        self.client = TestClient(create_app(self.engine))
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.engine.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def make_source(self) -> Source:
        return self.engine.create_source(self.interface)

    def seed(self, count: int) -> list[str]:
        keys = [f"AM{next(self.numbers):08}" for _ in range(count)]
        for key in keys:  # one call per aanmelding, as the caller sends them
            body = json.dumps({"aanmeldId": key, "status": "aangemeld"}).encode()
            signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            answer = self.client.post(PATH, content=body, headers={"X-Signature": signature})
            assert answer.status_code == 202, answer.text
        return keys

    def reset(self) -> None:
        from runtime.engine.state import models

        with self.engine.store.engine.begin() as connection:
            connection.execute(models.inbox.delete())

    def transient_failure(self):
        if self.pg is None:
            raise Unsupported("an embedded SQLite state database does not fail transiently")
        return self.pg.down()

    def secrets(self) -> list[str]:
        return [SECRET]


class TestWebhookSqliteSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with WebhookHarness() as harness:
            yield harness


@pytest.mark.postgres
class TestWebhookPostgresSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with PgDatabase("webhook") as pg, WebhookHarness(pg) as harness:
            yield harness


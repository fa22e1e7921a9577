"""The SOAP stand-ins on free ports, for tests that talk to them as a client would."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.runner import Sandbox
from sandbox.soap.pki import ensure_sandbox_pki

ROOT = Path(__file__).resolve().parents[3]
SYSTEMS = ["kennisnet", "duo-rod", "duo-verzuim", "duo-rio", "sbb"]


@pytest.fixture(scope="module")
def standins():
    ensure_sandbox_pki(ROOT)
    with Sandbox(ROOT, names=SYSTEMS, free_ports=True, include_services=False).start() as box:
        yield box


@pytest.fixture(autouse=True)
def _clean(request):
    if "standins" in request.fixturenames:
        box = request.getfixturevalue("standins")
        for name in SYSTEMS:
            box.context(name).faults.clear()
            box.context(name).received.clear()

"""Fixtures for the rest plugin's tests: real HTTP servers on 127.0.0.1 and contexts for them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The shared HTTP test peer lives in the contract suite's package (tests/contract/httppeer.py).
_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from contract.httppeer import HttpPeer  # noqa: E402

from plugins.rest import auth  # noqa: E402
from runtime.models.catalog import SystemEnvironment  # noqa: E402
from runtime.plugin import PluginContext  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def peer():
    with HttpPeer() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_cached_tokens():
    auth.forget_tokens()
    yield
    auth.forget_tokens()


def context(url: str, *, root: Path = ROOT, batch_size: int = 500, **system) -> PluginContext:
    """A PluginContext for a system at ``url``; ``system`` holds SystemEnvironment fields."""
    settings = {"url": url, "timeout": 2.0, **system}
    settings.setdefault("options", {}).setdefault("retry_after_max_wait", 0.5)
    return PluginContext(
        environment="sandbox",
        project_root=root,
        system_name="peer",
        system=SystemEnvironment.model_validate(settings),
        options={"batch_size": batch_size},
    )

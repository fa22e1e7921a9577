"""Contract of registration, run over every plugin found in the ``koppel.plugins`` entry points:
each has a Spec model per role whose ``type`` is the plugin's, a factory per role, and a module
that imports without the heavy libraries (so ``koppel validate`` starts fast)."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from runtime.plugin import Plugin
from runtime.registry import GROUP

HEAVY = ("zeep", "paramiko", "sqlalchemy", "uvicorn", "httpx", "openpyxl", "lxml.etree")
HERE = Path(__file__).resolve().parent


def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def _names() -> list[str]:
    return sorted(_entry_points())


@pytest.mark.parametrize("name", _names())
def test_plugin_declares_spec_and_factory_for_each_role(name: str) -> None:
    # Each entry point on its own, so one broken plugin fails its own case only.
    plugin = _entry_points()[name].load()
    assert isinstance(plugin, Plugin), f"entry point '{name}' must point at a runtime.plugin.Plugin"
    assert plugin.type == name
    assert plugin.roles, f"plugin '{name}' plays no role: give it a source_spec or a target_spec"
    for role in plugin.roles:
        spec = getattr(plugin, f"{role}_spec")
        factory = getattr(plugin, f"create_{role}")
        assert callable(factory), f"plugin '{name}' has a {role} spec but no create_{role} factory"
        annotation = spec.model_fields["type"].annotation
        assert typing.get_args(annotation) == (name,), f"{spec.__name__}.type must be Literal['{name}']"


def test_plugin_modules_import_without_heavy_libraries() -> None:
    """The registry (as ``koppel validate`` loads it) must not pull in zeep, paramiko, SQLAlchemy..."""
    script = (
        "import json, sys\n"
        "from importlib.metadata import entry_points\n"
        f"for ep in entry_points(group={GROUP!r}):\n"
        "    try:\n"
        "        ep.load()\n"
        "    except Exception:\n"
        "        pass  # reported by test_plugin_declares_spec_and_factory_for_each_role\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [], "heavy imports at registration time"


def test_every_plugin_has_contract_cases() -> None:
    missing = [name for name in _names() if not (HERE / f"test_{name}.py").exists()]
    if missing:
        pytest.skip(
            "no contract cases yet for: " + ", ".join(missing) + " (add tests/contract/test_<type>.py; see README.md)"
        )

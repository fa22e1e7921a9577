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


@pytest.mark.parametrize("name", _names())
def test_every_plugin_has_contract_cases(name: str) -> None:
    """A plugin without contract cases fails here, for each role it plays: a source is run through
    SourceContract, a target through TargetContract (tests/contract/test_<type>.py; see README.md)."""
    import importlib

    from .framework import SourceContract, TargetContract

    path = HERE / f"test_{name}.py"
    assert path.exists(), f"no contract cases for plugin '{name}': add tests/contract/test_{name}.py (see README.md)"
    module = importlib.import_module(f"{__package__}.test_{name}")  # the package pytest imported this file from
    classes = [v for v in vars(module).values() if isinstance(v, type) and v.__name__.startswith("Test")]
    plugin = _entry_points()[name].load()
    contracts = {"source": SourceContract, "target": TargetContract}
    for role in plugin.roles:
        cases = [c.__name__ for c in classes if issubclass(c, contracts[role])]
        assert cases, f"plugin '{name}' has a {role} but tests/contract/test_{name}.py runs no {contracts[role].__name__}"


def test_the_check_of_contract_cases_fails_for_a_plugin_without_them(monkeypatch) -> None:
    """The check above can fail: a registered plugin with no test file is reported by name."""
    fake = type("EP", (), {"name": "nocases", "load": staticmethod(lambda: None)})()
    monkeypatch.setattr(sys.modules[__name__], "_entry_points", lambda: {**_real_entry_points(), "nocases": fake})
    with pytest.raises(AssertionError, match="no contract cases for plugin 'nocases'"):
        test_every_plugin_has_contract_cases("nocases")


_real_entry_points = _entry_points

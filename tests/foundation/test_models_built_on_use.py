"""The definition models build their validators when first used (runtime/models/common.py's
``defer_build``): importing them builds none (but one made at import), and ``koppel run 0`` builds those of the models it
validates (the catalog, the interface) and not those of the models only nested inside them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[2]

#: in a fresh process: which of the models' validators exist after importing runtime.project,
#: and after loading what ``koppel run 0`` loads
PROBE = """
import json, sys
from pathlib import Path
from runtime.models import auth, catalog, common, interface, state
from runtime.console import settings
import runtime.project

def built():
    out = {}
    for module in (auth, catalog, common, interface, state, settings):
        for name, obj in vars(module).items():
            if isinstance(obj, type) and issubclass(obj, common.Model) and obj.__module__ == module.__name__:
                out[f"{module.__name__}.{name}"] = obj.__pydantic_complete__
    return out

imported = built()
project = runtime.project.load_project(Path(sys.argv[1]), only=["0"])
assert project.ok, project.diagnostics
print(json.dumps({"imported": imported, "loaded": built()}))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_models_builds_no_validator(probe):
    """None but Retention's: runtime/models/state.py makes DEFAULT_RETENTION at import."""
    assert len(probe["imported"]) > 30, "the models were not found"
    assert [name for name, complete in probe["imported"].items() if complete] == ["runtime.models.state.Retention"]


def test_loading_builds_the_validated_models_only(probe):
    loaded = probe["loaded"]
    assert loaded["runtime.models.catalog.Catalog"]  # validated: built
    # only nested inside the catalog: their schema is in the catalog's validator, theirs unbuilt
    nested = ["runtime.models.auth.BearerAuth", "runtime.models.auth.OAuth2ClientCredentials",
              "runtime.console.settings.ConsoleEnvironment", "runtime.models.catalog.System",
              "runtime.models.interface.CronTrigger", "runtime.models.common.TLS"]
    assert [name for name in nested if loaded[name]] == []


def test_a_nested_model_validates_on_its_own_as_before():
    """Used directly, a model that is otherwise only nested builds its validator then, with the
    same rules: an unknown field is refused, a missing one named."""
    from runtime.models.auth import BearerAuth
    from runtime.models.common import TLS

    assert TLS.model_validate({"verify": False}).verify is False
    with pytest.raises(ValidationError) as info:
        TLS.model_validate({"verfy": False})
    assert info.value.errors()[0]["type"] == "extra_forbidden"
    with pytest.raises(ValidationError) as info:
        BearerAuth.model_validate({"type": "bearer"})
    assert info.value.errors()[0]["loc"] == ("token",)
    assert "token" in BearerAuth.model_json_schema()["properties"]

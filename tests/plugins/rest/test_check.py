"""``koppel validate``'s checks of rest specs: OpenAPI documents, operations, schemas, shapes."""

from __future__ import annotations

import pytest

from plugins.rest import plugin
from runtime import paths
from runtime.plugin import PluginContext

from .conftest import ROOT

SIGNHOST = paths.specs_dir(ROOT) / "signhost" / "openapi.yaml"


def _check(root=ROOT, **spec):
    model = plugin.target_spec.model_validate({"type": "rest", **spec})
    return plugin.check(model, PluginContext(environment="sandbox", project_root=root))


def test_shape_problems() -> None:
    assert _check() == [(("path",), "a rest target needs a path (or steps, or download)")]
    steps = [{"method": "PUT", "path": "x"}]
    assert [loc for loc, _ in _check(path="a", steps=steps, batch=5)] == [("steps",), ("batch",)]
    assert [loc for loc, _ in _check(path="a", operation="createTransaction")] == [("operation",)]


@pytest.mark.specs
def test_operation_and_schema_are_looked_up_in_the_document() -> None:
    if not SIGNHOST.exists():
        pytest.skip(f"the Signhost OpenAPI document is absent ({SIGNHOST})")
    doc = "${specs}/signhost/openapi.yaml"
    assert _check(path="transaction", openapi=doc, operation="createTransaction") == []
    problems = _check(path="transaction", openapi=doc, operation="createTransactions")
    assert problems == [(("operation",), "unknown operation 'createTransactions' in openapi.yaml (did you mean 'createTransaction'?)")]
    assert [loc for loc, _ in _check(path="t", method="PUT", openapi=doc, operation="createTransaction")] == [("method",)]
    assert [loc for loc, _ in _check(path="t", openapi=doc, schema_ref="CreateTransactionRequst")] == [("schema_ref",)]


def test_missing_document(tmp_path, monkeypatch) -> None:
    problems = _check(path="t", openapi="contracts/none.yaml", operation="x")
    assert problems and problems[0][0] == ("openapi",) and "not found" in problems[0][1]
    # Without the shared specs folder nothing can be said about ${specs}/... documents.
    monkeypatch.setenv("KOPPEL_SPECS_DIR", str(tmp_path / "absent"))
    assert _check(path="t", openapi="${specs}/signhost/openapi.yaml", operation="nope") == []


def test_source_checks() -> None:
    model = plugin.source_spec.model_validate(
        {"type": "rest", "path": "x", "key": "id", "watermark": {"field": "m", "param": "since", "template": "all"}}
    )
    assert plugin.check(model, PluginContext(environment="sandbox", project_root=ROOT)) == [
        (("watermark", "template"), "the template must contain {cursor}, or every run reads the same")
    ]

"""``SoapCallTarget``: one SOAP call per item, the mapped payload as the request body.

The Outcome's ``reference`` is, in order of preference: the spec's ``reference`` JMESPath into
the serialised answer; the ``identificatiecodeBedrijfsdocument`` we sent (DUO's track & trace
id); the ``wsa:MessageID``. ``response`` is the serialised answer, for write-back (the ECK-iD).

Errors per record (contract, functional rejection) become that item's Outcome; transient and
configuration errors are raised, so the engine retries the batch or stops the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree

from runtime import redact
from runtime.errors import ConfigError, RecordError, TransientError
from runtime.plugin import Item, Outcome, PluginContext, Target

from . import faults
from .client import SoapEndpoint
from .settings import from_context
from .spec import SoapTarget


class SoapCallTarget(Target):
    def __init__(self, spec: SoapTarget, ctx: PluginContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.endpoint: SoapEndpoint | None = None
        self._reference = None
        if spec.reference:
            import jmespath

            self._reference = jmespath.compile(spec.reference)

    def _endpoint(self) -> SoapEndpoint:
        if self.endpoint is None:
            settings = from_context(self.ctx)
            self.endpoint = SoapEndpoint(self.spec.wsdl, settings, service=self.spec.service, port=self.spec.port)
            for name in (*self.spec.before, self.spec.operation):
                self.endpoint.operation(name)  # ConfigError now rather than on the first record
        return self.endpoint

    def open(self) -> None:
        self._endpoint().open()

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        endpoint = self._endpoint()
        outcomes: list[Outcome] = []
        for item in items:
            try:
                outcomes.append(self._call(endpoint, item))
            except (TransientError, ConfigError):
                raise
            except RecordError as exc:
                outcomes.append(Outcome(error=exc))
        return outcomes

    def _call(self, endpoint: SoapEndpoint, item: Item) -> Outcome:
        if not isinstance(item.payload, dict):
            raise RecordError("the mapped payload of a SOAP call must be an object", code="payload")
        payload: dict[str, Any] = {**self.spec.fixed, **item.payload}
        for name in self.spec.before:
            result = endpoint.call(name, _fields_of(endpoint, name, payload))
            payload.update(result.answer if isinstance(result.answer, dict) else {})
        call_payload = _fields_of(endpoint, self.spec.operation, payload) if self.spec.before else payload
        result = endpoint.call(self.spec.operation, call_payload)
        refused = faults.functional_rejection(result.answer, system=endpoint.settings.system)
        if refused is not None:
            refused.detail = {"reference": result.document_id or result.message_id}
            return Outcome(error=refused, response=result.answer)
        reference = None
        if self._reference is not None:
            found = self._reference.search(result.answer)
            reference = None if found is None else str(found)
        reference = reference or result.document_id or result.message_id
        return Outcome(reference=reference, response=result.answer)

    def render(self, item: Item) -> str:
        """The envelope that would be sent, unsigned (signing happens at send time)."""
        endpoint = self._endpoint()
        payload = {**self.spec.fixed, **item.payload} if isinstance(item.payload, dict) else {}
        lines = []
        for name in self.spec.before:
            lines.append(f"<!-- first {name}; its answer's fields are added to the payload -->")
        operation_payload = _fields_of(endpoint, self.spec.operation, payload) if self.spec.before else payload
        try:
            envelope, _, _ = endpoint.build(self.spec.operation, operation_payload, sign=False)
        except RecordError as exc:
            return f"<!-- {self.spec.operation}: {exc} -->"
        if endpoint.settings.signed:
            lines.append("<!-- WS-Security signature (2W-be-S) is added when sent -->")
        lines.append(etree.tostring(envelope, pretty_print=True, encoding="unicode"))
        return redact.text("\n".join(lines))


def _fields_of(endpoint: SoapEndpoint, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The part of the payload that the operation's request element has fields for."""
    body_type = endpoint.operation(operation).input.body.type
    names = {name for name, _ in getattr(body_type, "elements", [])}
    return {k: v for k, v in payload.items() if k in names}

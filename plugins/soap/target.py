"""``SoapCallTarget``: one SOAP call per item, the mapped payload as the request body.

The Outcome's ``reference`` is, in order of preference: the spec's ``reference`` JMESPath into
the serialised answer; the ``identificatiecodeBedrijfsdocument`` we sent (DUO's track & trace
id); the ``wsa:MessageID``. ``response`` is the serialised answer, for write-back (the ECK-iD).

Every call's failure is that item's Outcome: a contract error or functional rejection (the
record's own problem) and a transient one (timeout, fault 5xx, 429), which the engine retries for
that record alone while the others go on. Configuration errors are raised: they stop the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree

from runtime import redact
from runtime.errors import ConfigError, RecordError, TransientError
from runtime.plugin import Item, Outcome, PluginContext, Target

from . import faults, systemfields
from .client import SoapEndpoint
from .settings import from_context
from .spec import SoapTarget


class SoapCallTarget(Target):
    def __init__(self, spec: SoapTarget, ctx: PluginContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.endpoint: SoapEndpoint | None = None
        self._reference = None
        self._system_values: dict[str, Any] | None = None
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

    def payload_of(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``fixed`` under the mapped payload, the ``system_fields`` of this environment over it (the
        catalog's licence or chain wins, ``systemfields``); ConfigError when an option is missing."""
        if self._system_values is None:
            self._system_values = systemfields.values(self.spec.system_fields, self.ctx)
        return systemfields.applied({**self.spec.fixed, **payload}, self._system_values, self.ctx.system_name or "soap")

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        endpoint = self._endpoint()
        if self.spec.batch is not None and len(items) > 1:
            return self._write_batch(endpoint, items)
        outcomes: list[Outcome] = []
        for item in items:
            try:
                outcomes.append(self._call(endpoint, item))
            except ConfigError:
                raise
            except (RecordError, TransientError) as exc:  # this call's failure is this item's
                outcomes.append(Outcome(error=exc))
        return outcomes

    def _write_batch(self, endpoint: SoapEndpoint, items: Sequence[Item]) -> list[Outcome]:
        from .batch import BatchRun

        assert self.spec.batch is not None
        good = [i for i, item in enumerate(items) if isinstance(item.payload, dict)]
        outcomes = [Outcome(error=RecordError("the mapped payload of a SOAP call must be an object", code="payload"))
                    for _ in items]
        run = BatchRun(endpoint, self.spec.batch, lambda op, payload: _fields_of(endpoint, op, payload))
        try:
            delivered = run.deliver([items[i] for i in good], [self.payload_of(items[i].payload) for i in good])
        except (TransientError, ConfigError):
            raise
        except RecordError as exc:  # the whole batch was refused (e.g. an unknown chain)
            delivered = [Outcome(error=exc) for _ in good]
        for i, outcome in zip(good, delivered):
            outcomes[i] = outcome
        return outcomes

    def _call(self, endpoint: SoapEndpoint, item: Item) -> Outcome:
        if not isinstance(item.payload, dict):
            raise RecordError("the mapped payload of a SOAP call must be an object", code="payload")
        payload = self.payload_of(item.payload)
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
        payload = self.payload_of(item.payload if isinstance(item.payload, dict) else {})
        lines = []
        if self.spec.batch is not None:
            stages = ", ".join(stage.submit for stage in self.spec.batch.stages)
            lines.append(f"<!-- in a batch run: {stages}, each answered by {self.spec.batch.retrieve}; "
                         "one record alone takes the calls below -->")
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

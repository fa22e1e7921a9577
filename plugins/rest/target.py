"""``RestApiTarget``: push mapped records to an HTTP API.

Three shapes of delivery:

- one call per record: ``method`` + ``path`` (``{field}`` filled from the payload, URL-encoded);
- ``batch: N``: up to N records as one JSON array per call (≈ 60× the records/s of one call per
  record). Every item still gets its own Outcome: when the answer is a list of the same length,
  item i gets element i (its reference); when the peer refuses the array with a 4xx, the items
  are sent again one by one, so only the record that is at fault fails;
- ``steps``: several calls per record (Signhost: create the transaction, PUT the PDF, PUT start).
  Paths and body expressions see the payload merged with the values ``save``d from earlier
  steps (saved names win); ``reference`` is then evaluated over the saved values.

Errors: a 4xx for a record is ``Outcome(error=RecordError)`` and the other records go on; a body
that does not fit the OpenAPI contract is ``Outcome(error=ContractError)`` and is never sent;
connection failures, timeouts, 5xx and 429 are a TransientError in the Outcome of the item(s)
of that call only (the engine retries those; the idempotency header lets the peer drop repeats);
401/403 raise ConfigError.

The idempotency header carries ``Item.key``; for an array it carries a digest of the items' keys
(the same batch retried sends the same value); for steps ``key:step-number``.

If the OpenAPI document lives under ``${specs}`` and is absent (a clone without the shared
contracts), delivery goes on unchecked with a warning; any other missing document is a
ConfigError.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from runtime import paths, redact
from runtime.errors import ConfigError, RecordError, TransientError
from runtime.plugin import Item, Outcome, PluginContext, Target

from . import bodies, openapi
from .client import OwnsRestClient, RestClient
from .lookup import compile_lookup
from .progress import StepProgress
from .spec import RestStep, RestTarget

log = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


class RestApiTarget(OwnsRestClient, Target):
    def __init__(self, spec: RestTarget, ctx: PluginContext) -> None:
        if not spec.path and not spec.steps:
            raise ConfigError("a rest target needs a path or steps")
        self.spec = spec
        self.ctx = ctx
        self.client: RestClient | None = None
        self.validator: openapi.BodyValidator | None = None
        self._validator_loaded = False
        self._reference = compile_lookup(spec.reference) if spec.reference else None
        self._reference_name = spec.reference if spec.reference and spec.reference.isidentifier() else None
        self._steps = [_CompiledStep(step) for step in spec.steps or []]
        self._checked_step: int | None = None  # with steps: the one whose body the contract is about

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        OwnsRestClient.open(self)
        self._load_validator()

    def close(self) -> None:
        OwnsRestClient.close(self)
        if hasattr(self, "_step_progress"):
            self._step_progress.close()

    def _load_validator(self) -> None:
        if self._validator_loaded or not self.spec.openapi:
            return
        self._validator_loaded = True
        path = paths.expand(self.spec.openapi, self.ctx.project_root)
        if not path.exists() and self.spec.openapi.startswith(paths.SPECS_PLACEHOLDER):
            log.warning("OpenAPI document %s is absent: requests are sent unchecked", path)
            return
        document = openapi.load(path)
        self.validator = document.validator(operation=self.spec.operation, schema_ref=self.spec.schema_ref)
        if self.validator is not None and self._steps:
            self._checked_step = _step_for(self._steps, document.operation(self.spec.operation or ""))
            if self._checked_step is None:
                log.warning("no step with a JSON body matches operation %s: bodies are sent unchecked", self.spec.operation)

    # -- writing -----------------------------------------------------------------------------

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        """One Outcome per item; a failed call fails only the items it carried.

        A call that fails transiently (timeout, reset, 5xx, 429) becomes the Outcome of its own
        item(s), so the items answered before it stay delivered and the ones after it are still
        sent. With more than one item the client does not wait out a short Retry-After itself:
        the engine puts that item on its own retry clock while the others go on.
        """
        self.open()
        client = self.client
        assert client is not None
        inline = client.retry_after_attempts
        if len(items) > 1:
            client.retry_after_attempts = 0
        try:
            if self._steps:
                return [_per_call(self._deliver_steps, item) for item in items]
            if self.spec.batch and self.spec.batch > 1:
                outcomes: list[Outcome] = []
                for start in range(0, len(items), self.spec.batch):
                    chunk = items[start : start + self.spec.batch]
                    try:
                        outcomes.extend(self._deliver_array(chunk))
                    except TransientError as error:
                        outcomes.extend(Outcome(error=error) for _ in chunk)
                return outcomes
            return [_per_call(self._deliver_one, item) for item in items]
        finally:
            client.retry_after_attempts = inline

    def _deliver_one(self, item: Item) -> Outcome:
        try:
            self._check(item.payload)
            url, content, headers = self._request(item)
            response = self.client.send(self.spec.method, url, content=content, headers=headers)  # type: ignore[union-attr]
        except RecordError as error:
            return Outcome(error=error)
        body = bodies.decode(response, f"{self.spec.method} {self.spec.path}")
        return Outcome(reference=self._reference_of(body), response=body)

    def _deliver_array(self, items: Sequence[Item]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        if self.validator is None:
            sendable = list(range(len(items)))
        else:
            sendable = []
            for index, item in enumerate(items):
                try:
                    self.validator.check(item.payload)
                    sendable.append(index)
                except RecordError as error:
                    outcomes[index] = Outcome(error=error)
        if sendable:
            everything = len(sendable) == len(items)
            try:
                answers = self._send_array(items if everything else [items[i] for i in sendable])
            except RecordError:
                # Which record did the peer refuse? Send them one by one (arrays of one) to find out.
                for i in sendable:
                    try:
                        outcomes[i] = self._send_array([items[i]])[0]
                    except (RecordError, TransientError) as error:  # this record's call alone
                        outcomes[i] = Outcome(error=error)
            else:
                if everything:
                    return answers
                for i, outcome in zip(sendable, answers):
                    outcomes[i] = outcome
        return outcomes  # type: ignore[return-value]

    def _send_array(self, chosen: Sequence[Item]) -> list[Outcome]:
        url = self._url(self.spec.path or "", _first_payload(chosen))
        content, ctype = bodies.encode([item.payload for item in chosen], "json")
        headers = {"Content-Type": ctype, **self._idempotency(_digest(chosen))}
        response = self.client.send(self.spec.method, url, content=content, headers=headers)  # type: ignore[union-attr]
        body = bodies.decode(response, f"{self.spec.method} {self.spec.path}")
        answers = body if isinstance(body, list) and len(body) == len(chosen) else [body] * len(chosen)
        reference = self._reference
        if reference is None:
            return [Outcome(None, None, answer) for answer in answers]
        name = self._reference_name
        if name is not None and all(type(answer) is dict for answer in answers):
            # The common case (``reference: id`` over a list of objects), without a call per item.
            return [Outcome(None, None if (v := a.get(name)) is None else str(v), a) for a in answers]
        return [Outcome(None, None if (v := reference(a)) is None else str(v), a) for a in answers]

    def _deliver_steps(self, item: Item) -> Outcome:
        # A retry or replay of this delivery resumes after its last finished call (progress.py)
        progress = self._progress()
        done, saved = progress.load(item.key)
        if done >= len(self._steps):  # delivered before, its answer lost to us: never again
            return Outcome(reference=self._reference_of(saved), response=saved)
        try:
            if self.validator is not None and self._checked_step is not None:
                # Checked before the first call, so a bad record never leaves half a delivery.
                self._check(self._steps[self._checked_step].body_value(_merge(item.payload, {})))
            # Files are read before the first call: a missing PDF must not leave a half-made
            # delivery behind (a Signhost transaction created but never started).
            preloaded = {
                index: step.body(_merge(item.payload, {}), self.ctx.project_root)
                for index, step in enumerate(self._steps)
                if step.file_in(item.payload)
            }
            for number, step in enumerate(self._steps, 1):
                if number <= done:
                    continue
                context = _merge(item.payload, saved)
                url = self._url(step.spec.path, context)
                content, headers = preloaded.get(number - 1) or step.body(context, self.ctx.project_root)
                headers.update(self._idempotency(f"{item.key}:{number}"))
                response = self.client.send(step.spec.method, url, content=content, headers=headers)  # type: ignore[union-attr]
                body = bodies.decode(response, f"{step.spec.method} {step.spec.path}")
                for name, expression in step.save.items():
                    saved[name] = expression(body) if body is not None else None
                progress.record(item.key, number, saved)
        except RecordError as error:
            return Outcome(error=error, response=saved or None)
        return Outcome(reference=self._reference_of(saved), response=saved)

    def _progress(self) -> StepProgress:
        if not hasattr(self, "_step_progress"):
            self._step_progress = StepProgress(self.ctx.state_url, self.ctx.interface_id, self.ctx.system_name)
        return self._step_progress

    # -- building requests -------------------------------------------------------------------

    def _check(self, payload: Any) -> None:
        if self.validator is not None:
            self.validator.check(payload)

    def _request(self, item: Item, *, dry_run: bool = False) -> tuple[str, bytes | None, dict[str, str]]:
        url = self._url(self.spec.path or "", item.payload)
        headers = self._idempotency(item.key)
        content = None
        if self.spec.method != "DELETE" or item.payload:
            payload = self._attach(item.payload, dry_run=dry_run) if self.spec.attach else item.payload
            content, headers["Content-Type"] = bodies.encode(payload, self.spec.body)
        return url, content, headers

    def _attach(self, payload: Any, *, dry_run: bool) -> Any:
        """The payload with the file it names embedded as Base64 and the path itself left out."""
        import base64

        spec = self.spec.attach
        name = compile_lookup(spec.path)(payload)
        body = dict(payload)
        if not name:
            if spec.required:
                raise RecordError(f"no file at '{spec.path}' in the record", path=spec.path)
            return body
        top = spec.path.split(".")[0]
        body.pop(top, None)  # a plain field path: it named the file, it is not part of the message
        path = paths.expand(str(name), self.ctx.project_root)
        if dry_run:
            data = f"<{path.stat().st_size} bytes from {path.name}>" if path.exists() else f"<{path.name}: not found>"
        else:
            try:
                data = base64.b64encode(path.read_bytes()).decode("ascii")
            except OSError as exc:
                raise RecordError(f"cannot read the file to attach ({exc.strerror})", path=spec.path) from None
        body[spec.field] = [*(body.get(spec.field) or []), {spec.name_key: path.name, spec.data_key: data}]
        return body

    def _url(self, template: str, context: Any, *, partial: bool = False) -> str:
        def fill(match: re.Match) -> str:
            name = match.group(1)
            value = compile_lookup(name)(context) if isinstance(context, dict) else None
            if value is None or value == "":
                if partial:  # dry-run: a value saved by an earlier step is not known yet
                    return match.group(0)
                raise RecordError(f"the path {template} needs '{name}', which the record does not have", path=name)
            return quote(str(value), safe="")

        path = _PLACEHOLDER.sub(fill, template) if "{" in template else template
        base = self.client.base_url if self.client else _system_url(self.ctx)
        return path if path.startswith(("http://", "https://")) else f"{base}/{path.lstrip('/')}"

    def _idempotency(self, key: str) -> dict[str, str]:
        header = self.spec.idempotency_header
        return {header: key} if header and header.lower() != "none" else {}

    def _reference_of(self, body: Any) -> str | None:
        if self._reference is None or body is None:
            return None
        value = self._reference(body)
        return None if value is None else str(value)

    # -- dry-run -----------------------------------------------------------------------------

    def render(self, item: Item) -> str:
        """What would be sent, without the auth headers; secrets and BSNs masked."""
        lines: list[str] = []
        if self._steps:
            for number, step in enumerate(self._steps, 1):
                lines.append(f"# step {number}")
                lines.extend(self._render_call(step.spec.method, step.spec.path, item, step, number))
        else:
            lines.extend(self._render_call(self.spec.method, self.spec.path or "", item, None))
        return redact.text("\n".join(lines))

    def _render_call(
        self, method: str, template: str, item: Item, step: _CompiledStep | None, number: int = 0
    ) -> list[str]:
        url = self._url(template, item.payload, partial=True)
        if step is not None:
            try:
                content, headers = step.body(item.payload, self.ctx.project_root, dry_run=True)
            except RecordError as error:
                content, headers = f"<{error}>".encode(), {}
        else:
            content, headers = None, {}
            if method != "DELETE" or item.payload:
                payload = item.payload
                if self.spec.attach:
                    try:
                        payload = self._attach(item.payload, dry_run=True)
                    except RecordError as error:
                        payload = {"error": str(error)}
                content, headers["Content-Type"] = bodies.encode(payload, self.spec.body)
        headers.update(self._idempotency(f"{item.key}:{number}" if step is not None else item.key))
        out = [f"{method} {url}"] + [f"{k}: {v}" for k, v in headers.items()]
        if content:
            text = content.decode("utf-8", "replace")
            if headers.get("Content-Type", "").startswith("application/json"):
                import json

                text = json.dumps(json.loads(text), ensure_ascii=False, indent=2)
            out += ["", text]
        return out


class _CompiledStep:
    def __init__(self, spec: RestStep) -> None:
        self.spec = spec
        self._body = compile_lookup(spec.body) if spec.body else None
        self._file = compile_lookup(spec.file) if spec.file else None
        self.save = {name: compile_lookup(expr) for name, expr in spec.save.items()}

    def body(self, context: Any, root: Path, *, dry_run: bool = False) -> tuple[bytes | None, dict[str, str]]:
        if self._file is not None:
            name = self._file(context)
            if not name:
                raise RecordError(f"no file at '{self.spec.file}' in the record", path=self.spec.file)
            path = paths.expand(str(name), root)
            ctype = self.spec.content_type or "application/octet-stream"
            if dry_run:
                shown = f"<{path.stat().st_size} bytes from {path.name}>" if path.exists() else f"<{path.name}: not found>"
                return shown.encode(), {"Content-Type": ctype}
            try:
                return path.read_bytes(), {"Content-Type": ctype}
            except OSError as exc:
                raise RecordError(f"cannot read the file to upload ({exc.strerror})", path=self.spec.file) from None
        if self._body is not None:
            content, ctype = bodies.encode(self.body_value(context), "json")
            return content, {"Content-Type": self.spec.content_type or ctype}
        return None, {}


    def file_in(self, payload: Any) -> bool:
        """This step uploads a file named by the payload itself (not by a saved value)."""
        return self._file is not None and bool(self._file(payload))

    def body_value(self, context: Any) -> Any:
        return self._body(context) if self._body is not None else None


def _step_for(steps: list[_CompiledStep], operation: openapi.Operation | None) -> int | None:
    """The step that calls ``operation`` (same method, path ending alike), else the first with a
    body when only a schema is named."""

    def shape(path: str) -> str:
        return _PLACEHOLDER.sub("{}", path).strip("/")

    for index, step in enumerate(steps):
        if step.spec.body is None:
            continue
        if operation is None or (
            step.spec.method == operation.method and shape(operation.path).endswith(shape(step.spec.path))
        ):
            return index
    return None


def _system_url(ctx: PluginContext) -> str:
    return ((ctx.system.url if ctx.system else None) or "").rstrip("/")


def _merge(payload: Any, saved: dict[str, Any]) -> Any:
    return {**payload, **saved} if isinstance(payload, dict) else {"payload": payload, **saved}


def _first_payload(items: Sequence[Item]) -> Any:
    return items[0].payload if items else {}


def _digest(items: Sequence[Item]) -> str:
    return hashlib.sha256("\n".join(item.key for item in items).encode()).hexdigest()[:32]


def _per_call(deliver: Any, item: Item) -> Outcome:
    """One call's transient failure as its item's Outcome (configuration errors still stop)."""
    try:
        return deliver(item)
    except TransientError as error:
        return Outcome(error=error)

"""Check request bodies against a public OpenAPI document (OOAPI v5, NED OKE, Signhost).

The document is loaded once per path and kept. OpenAPI 3.0 schemas are JSON Schema with a few
dialect differences; the one that matters for validation is ``nullable: true``, which is turned
into ``type: [..., "null"]`` here. 3.1 documents are JSON Schema 2020-12 as they are.
``$ref`` pointers resolve against the document itself, so the whole document is the root schema
and the schema to check is addressed by a JSON pointer.

Only request bodies are checked: the spec's own examples are never validated (the OOAPI v5
``/programs`` example breaks its own ``oneOf``, see research/soap-library-notes.md).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def _pointer_escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _convert_nullable(node: Any, memo: dict[int, Any]) -> Any:
    """A copy of an OpenAPI 3.0 schema tree with ``nullable`` made JSON Schema (cycle-safe)."""
    if isinstance(node, dict):
        if id(node) in memo:
            return memo[id(node)]
        out: dict[str, Any] = {}
        memo[id(node)] = out
        for key, value in node.items():
            out[key] = _convert_nullable(value, memo)
        if out.pop("nullable", False) is True and "type" in out:
            kind = out["type"]
            out["type"] = list(kind) + ["null"] if isinstance(kind, list) else [kind, "null"]
        return out
    if isinstance(node, list):
        if id(node) in memo:
            return memo[id(node)]
        items: list[Any] = []
        memo[id(node)] = items
        items.extend(_convert_nullable(v, memo) for v in node)
        return items
    return node


class OpenApiDocument:
    def __init__(self, path: Path) -> None:
        self.path = path
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
        self.version = str(raw.get("openapi", "3.0"))
        self.doc = _convert_nullable(raw, {}) if self.version.startswith("3.0") else raw
        self._validators: dict[str, Any] = {}
        self._operations = self._index_operations()

    def _index_operations(self) -> list[tuple[str, re.Pattern, str]]:
        ops = []
        for template, item in (self.doc.get("paths") or {}).items():
            regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method in ("get", "put", "post", "patch", "delete"):
                if method in item:
                    ops.append((method, regex, template))
        return ops

    def _validator(self, pointer: str):
        with _lock:
            if pointer not in self._validators:
                import jsonschema

                cls = jsonschema.Draft202012Validator if self.version.startswith("3.1") else jsonschema.Draft7Validator
                root = dict(self.doc)
                root["$ref"] = pointer
                # Draft 7 ignores siblings of $ref; 2020-12 ignores the unknown OpenAPI keys.
                # the 2020-12 checker knows "uuid" (OOAPI ids), which Draft 7's does not
                checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
                self._validators[pointer] = cls(root, format_checker=checker)
            return self._validators[pointer]

    def errors(self, pointer: str, instance: Any, limit: int = 10) -> list[str]:
        """Readable violations of the schema at ``pointer`` (empty: valid)."""
        found = []
        for error in self._validator(pointer).iter_errors(instance):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            found.append(f"{where}: {_short(error.message)}")
            if len(found) >= limit:
                break
        return found

    def schema_errors(self, name: str, instance: Any) -> list[str]:
        """Violations of ``#/components/schemas/<name>``."""
        return self.errors(f"#/components/schemas/{_pointer_escape(name)}", instance)

    def request_errors(self, method: str, path: str, instance: Any, content_type: str = "application/json") -> list[str]:
        """Violations of the request body schema of the operation matching ``method path``.

        ``path`` is relative to the document's paths (without the server's base path). An
        operation that is not in the document is itself an error.
        """
        method = method.lower()
        for op_method, regex, template in self._operations:
            if op_method == method and regex.match(path):
                content = ((self.doc["paths"][template][method].get("requestBody") or {}).get("content")) or {}
                if content_type not in content:
                    return [f"{method.upper()} {template} does not accept {content_type}"]
                pointer = f"#/paths/{_pointer_escape(template)}/{method}/requestBody/content/{_pointer_escape(content_type)}/schema"
                return self.errors(pointer, instance)
        return [f"{method.upper()} {path} is not an operation of {self.path.name}"]


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


@functools.lru_cache(maxsize=8)
def load(path: Path) -> OpenApiDocument:
    return OpenApiDocument(path)

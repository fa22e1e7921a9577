"""Secret references: ``${env:NAME}`` and ``${file:PATH}``. YAML holds references, never values.

A resolved value is registered with ``runtime.redact`` at once, so it is masked in every log
line, error and dry-run listing from then on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from runtime import redact
from runtime.errors import ConfigError

REFERENCE = re.compile(r"^\$\{(env|file):([^}\s]+)\}$")
PATTERN = r"^\$\{(env|file):[^}\s]+\}$"


def _check_reference(value: str) -> str:
    if not REFERENCE.match(value):
        raise ValueError(
            "a secret must be a reference such as ${env:NAME} or ${file:path}, never the value itself"
        )
    return value


#: A field that holds a secret. The JSON Schema pattern lets editors flag a pasted value too.
SecretRef = Annotated[
    str,
    AfterValidator(_check_reference),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PATTERN,
            "description": "A secret reference: ${env:NAME} or ${file:path}. Never the value itself.",
        }
    ),
]


def is_reference(value: object) -> bool:
    return isinstance(value, str) and bool(REFERENCE.match(value))


def resolve(reference: str, *, base: Path | None = None) -> str:
    """The secret's value. Raises ConfigError naming the reference (never the value)."""
    match = REFERENCE.match(reference)
    if not match:
        raise ConfigError("not a secret reference: expected ${env:NAME} or ${file:path}")
    kind, name = match.groups()
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise ConfigError(f"secret {reference}: environment variable {name} is not set")
    else:
        path = Path(os.path.expanduser(name))
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"secret {reference}: cannot read {path} ({exc.strerror})") from exc
    redact.register_secret(value)
    return value

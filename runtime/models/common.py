"""Building blocks shared by every definition model."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from runtime.secrets import SecretRef


class Model(BaseModel):
    """Base of every YAML model: an unknown (misspelled) field is an error, never ignored.

    Each model's validator is built when it is first used, not when its class is made
    (``defer_build``): most models are only ever used inside another (an auth type inside the
    catalog's systems, a trigger inside an interface), whose validator holds their schema, and
    ``koppel run N`` uses a few of them. Building all 50-odd at import took ~80 ms of every
    command's start-up, measured; the one validator of each model that is validated is built
    from the same schema, so what is accepted and every error stay the same."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"250ms"`` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as 30s, 5m, 2h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError(f"'{value}' is not a duration; write e.g. 30s, 5m, 2h or 1d")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


#: seconds, written in YAML as ``30s``, ``5m``, ``2h``, ``1d`` or a plain number
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _DURATION.pattern}],
            "description": "Seconds, or a string such as 250ms, 30s, 5m, 2h, 1d.",
        }
    ),
]


def _compile_jmespath(value: str) -> str:
    import jmespath
    from jmespath.exceptions import ParseError

    try:
        jmespath.compile(value)
    except ParseError as exc:
        raise ValueError(f"invalid JMESPath expression '{value}': {exc.msg} at column {exc.lex_position}") from exc
    return value


#: a JMESPath expression, compiled when the definitions are loaded so a typo fails at validate time
Expression = Annotated[
    str,
    AfterValidator(_compile_jmespath),
    Field(json_schema_extra={"format": "jmespath"}),
]


class TLS(Model):
    verify: bool = Field(True, description="Verify the peer's certificate. Leave on outside tests.")
    ca_file: str | None = Field(None, description="CA bundle to trust instead of the system's.")
    client_cert: str | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    client_key: SecretRef | None = Field(
        None, description="Reference to the client key file, e.g. ${file:/etc/koppel/pki.key}."
    )


__all__ = ["Duration", "Expression", "Model", "SecretRef", "TLS", "parse_duration"]

"""Value maps: code lists in mappings/valuemaps/<name>.yaml, translating source codes to target codes.

Codes are compared as text, so ``30`` in a record finds the key ``30`` whether either side is
written as a number or a string; ``true``/``false`` are the text of booleans. An unknown code does
what the field's ``fallback`` says: ``error`` fails the record (the reason names the map, never
the code, which could be personal data), ``default`` gives the field's or the map's default,
``pass`` keeps the code. Without a fallback, the map's ``default`` is used if it declares one,
else it is an error. Null is never looked up: it stays null (and a field ``default`` can fill it).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.mapping.functions import FunctionError

MISSING: Any = object()


def code_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class UnknownCode(FunctionError):
    """A code is not in the value map and the fallback is error."""


@dataclass
class ValueMap:
    name: str
    codes: dict[str, Any]
    default: Any = MISSING
    description: str | None = None

    @classmethod
    def from_data(cls, name: str, data: dict) -> "ValueMap":
        codes = {code_key(k): v for k, v in (data.get("codes") or {}).items()}
        default = data.get("default", MISSING)
        return cls(name, codes, default, data.get("description"))

    def lookup(self, value: Any, fallback: str | None = None, default: Any = MISSING) -> Any:
        """``value`` translated; ``default`` is a field-level default that wins over the map's."""
        if value is None:
            return None
        if isinstance(value, (list, dict)):
            raise FunctionError(f"value map '{self.name}': expected a code, got a structure")
        try:
            return self.codes[code_key(value)]
        except KeyError:
            pass
        if fallback == "pass":
            return value
        if fallback in (None, "default"):
            if default is not MISSING:
                return default
            if self.default is not MISSING:
                return self.default
            if fallback == "default":
                raise UnknownCode(f"code not in value map '{self.name}', which has no default")
        raise UnknownCode(f"code not in value map '{self.name}'")


def valuemap_dir(project_root: Path) -> Path:
    return project_root / "mappings" / "valuemaps"


def available(project_root: Path) -> list[str]:
    return sorted(p.stem for p in valuemap_dir(project_root).glob("*.yaml"))


def load(project_root: Path, name: str) -> ValueMap:
    """Load one value map (validated against ValueMapFile); ConfigError when absent or invalid."""
    from runtime.errors import ConfigError
    from runtime.yamlsource import YamlProblem, load_file

    path = valuemap_dir(project_root) / f"{name}.yaml"
    if not path.is_file():
        names = available(project_root)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"unknown value map '{name}' ({hint}mappings/valuemaps/{name}.yaml not found; "
                          f"known: {', '.join(names) or 'none'})")
    try:
        doc = load_file(path, f"mappings/valuemaps/{name}.yaml")
    except YamlProblem as exc:
        raise ConfigError(str(exc)) from exc
    from pydantic import ValidationError

    from runtime.mapping.model import ValueMapFile

    try:
        ValueMapFile.model_validate(doc.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(str(doc.diagnostic(first["loc"], first["msg"]))) from exc
    return ValueMap.from_data(name, doc.data)

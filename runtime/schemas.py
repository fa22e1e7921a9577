"""JSON Schema for the YAML files, generated from the pydantic models (the single source of truth)."""

from __future__ import annotations

import json
from pathlib import Path

from runtime.models.catalog import Catalog
from runtime.models.interface import interface_model
from runtime.models.objects import ObjectDeclaration
from runtime.registry import registry


def schemas() -> dict[str, dict]:
    """File name → JSON Schema."""
    out = {
        "interface.schema.json": interface_model(registry()).model_json_schema(),
        "catalog.schema.json": Catalog.model_json_schema(by_alias=True),
        "object.schema.json": ObjectDeclaration.model_json_schema(),
    }
    try:
        from runtime.mapping.model import MappingFile, MappingTests, ValueMapFile
    except ModuleNotFoundError:  # the mapping engine is optional for the definitions
        pass
    else:
        out["mapping.schema.json"] = MappingFile.model_json_schema()
        out["valuemap.schema.json"] = ValueMapFile.model_json_schema()
        out["mapping-tests.schema.json"] = MappingTests.model_json_schema()
    for name, schema in out.items():
        schema.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
        schema.setdefault("$id", f"https://koppel.kw1c.nl/schemas/{name}")
    return out


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = folder / name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written

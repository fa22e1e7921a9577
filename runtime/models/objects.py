"""``objects/*.yaml``: SIS objects and fields a specialist declares, next to the built-in ones.

One file declares either a new object (``name``, its ``key`` and ``fields``) or new fields on an
existing object (``extends``). A field that ``references`` another object's key makes the two
includable from each other: ``internship_hours`` with ``internship_id: {references:
internship.internship_id}`` can include ``internship``, and an internship can include its
``internship_hours`` (a list). ``koppel sis init`` creates and evolves the tables, outbox triggers
included; a field that is removed or changes type is refused unless a migration is asked for.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from runtime.models.common import Model

FieldType = Literal["string", "text", "integer", "number", "boolean", "date", "datetime"]
NAME = r"^[a-z][a-z0-9_]*$"


class DeclaredField(Model):
    type: FieldType = Field("string", description="string (up to `length`), text, integer, number, boolean, "
                            "date or datetime.")
    length: int = Field(200, ge=1, le=10_000, description="Maximum length of a string.")
    nullable: bool = Field(True, description="May be empty. Key fields never are.")
    references: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$",
        description="object.field this field refers to (its natural key), e.g. internship.internship_id.")
    personal: bool = Field(False, description="Holds a personal number or other identifying data: masked by "
                           "its name in every record, payload and log extra Koppel shows (runtime/redact.py).")
    description: str | None = None


class ObjectDeclaration(Model):
    name: str | None = Field(None, pattern=NAME, description="A new SIS object (its table's name).")
    extends: str | None = Field(None, pattern=NAME, description="An existing object that gets new fields.")
    description: str | None = None
    key: list[str] = Field(default_factory=list, description="A new object's natural key fields, in order.")
    fields: dict[str, DeclaredField] = Field(min_length=1, description="The fields, by name.")
    plural: str | None = Field(None, pattern=NAME, description="The name under which the referenced object "
                               "includes these rows; default: the object's name.")

    @model_validator(mode="after")
    def _one_kind(self) -> ObjectDeclaration:
        if (self.name is None) == (self.extends is None):
            raise ValueError("give either name (a new object) or extends (new fields on an existing one)")
        if self.name is not None:
            if not self.key:
                raise ValueError("a new object needs a key: the fields that identify one row")
            missing = [k for k in self.key if k not in self.fields]
            if missing:
                raise ValueError(f"key field(s) {missing} are not among the fields")
        elif self.key:
            raise ValueError("an extension has no key of its own: the object keeps its key")
        bad = [f for f in self.fields if not re.match(NAME, f)]
        if bad:
            raise ValueError(f"field names are lower case with underscores: {bad}")
        return self

    @property
    def object(self) -> str:
        return self.name or self.extends or ""

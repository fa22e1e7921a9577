"""Specs of the ``sis`` plugin: the central SIS store as a source and as a target."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runtime.models.common import Expression
from runtime.models.interface import SpecBase, TargetSpecBase


class SisSource(SpecBase):
    """Read one object type from the SIS store, incrementally."""

    type: Literal["sis"]
    object: str = Field(description="SIS object type, e.g. student, enrollment, application.")
    mode: Literal["outbox", "watermark", "full"] = Field(
        "outbox",
        description="outbox: changes by outbox sequence; watermark: rows with updated_at after the "
        "cursor; full: every row on each run.",
    )
    include: list[str] = Field(
        default_factory=list, description="Related objects joined into each record, e.g. person, program."
    )
    where: Expression | None = Field(None, description="JMESPath filter over the record; false drops it.")
    follow_includes: bool = Field(
        True,
        description="outbox mode: a change of an included object (a student's person, an enrollment's "
        "periods) sends the records that include it again.",
    )

    def wake_objects(self) -> list[str]:
        """The SIS objects whose outbox changes concern this source (what wakes a realtime
        interface reading it): its object and, when it follows them, every object it includes."""
        if self.mode != "outbox":
            return []
        objects = {self.object}
        if self.follow_includes and self.include:
            # every object along every include chain (RelatedChanges.objects), from the relations
            # alone: runtime.sis.related would build the ORM for validate's wake-up explanation
            from runtime.sis.relations import resolve

            objects.update(relation.target for include in self.include for _, relation in resolve(self.object, include))
        return sorted(objects)


class SisTarget(TargetSpecBase):
    """Upsert records into the SIS store by natural key."""

    type: Literal["sis"]
    object: str = Field(description="SIS object type to write.")
    operation: Literal["upsert", "update", "delete", "replace"] = Field(
        "upsert",
        description="upsert: insert or update by key; update: only existing rows; delete; "
        "replace: delete what the run did not write within `replace_scope`.",
    )
    key: list[str] = Field(default_factory=list, description="Natural key fields; default: the object's own.")
    match_on: list[list[str]] = Field(
        default_factory=list,
        description="Other unique fields that identify an existing row, tried in order when no row has the "
        "record's key, e.g. [[bsn], [onderwijsnummer]]: an applicant who is already a person in the SIS. "
        "The row found keeps its key and its values; the record only fills its empty fields, and "
        "children in the record attach to it.",
    )
    replace_scope: str | None = Field(None, description="With replace: the field that scopes it (e.g. date).")
    replace_children: list[str] = Field(
        default_factory=list,
        description="Child lists in the payload (relation names, e.g. recognitions) that are the parent's "
        "complete set: its other children are deleted. Other child lists are only upserted.",
    )

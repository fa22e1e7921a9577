"""The files integration specialists write: mappings, value maps and mapping tests.

These pydantic models are the single source of truth for the file formats: ``koppel schema``
emits their JSON Schema for editors, ``koppel validate`` checks files against them. The engine
itself compiles from the plain YAML data (positions kept), after these models accepted it.

An output value is one of (``Discriminator`` picks by shape, never by guessing between models):
- a string: a JMESPath expression;
- ``{const: ...}``: a constant;
- ``{expr: ..., default, valuemap, fallback, required, when}``: an expression with options;
- ``{each: ..., output: ..., where, when}``: a list, one entry per item of ``each``;
- ``{object: {...}, when}``: a nested object written explicitly (for a ``when`` on it, or
  target field names that are keywords here);
- any other mapping: a nested object, one output field per key;
- a list: a list of fixed length, each entry an output value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator
from typing_extensions import TypeAliasType

from runtime.models.common import Model

KEYWORDS = ("const", "expr", "each", "object")
Fallback = Literal["error", "default", "pass"]

_WHEN = "JMESPath condition; the field is left out of the output when it is false or null."


def output_kind(value: Any) -> str:
    """Which kind of output value ``value`` is: expression, const, expr, each, object or nested."""
    if isinstance(value, str):
        return "expression"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        for keyword in KEYWORDS:
            if keyword in value:
                return keyword
        return "nested"
    if isinstance(value, (ConstField, ExprField, EachField, ObjectField)):
        return {ConstField: "const", ExprField: "expr", EachField: "each", ObjectField: "object"}[type(value)]
    return "expression"  # anything else fails as a string, with a clear message


def _tag(value: Any) -> str:
    # The tags are spelled so they can never equal a YAML key: error locations then skip them.
    return {"expression": "string-expression", "nested": "nested-object", "list": "list-output"}.get(kind := output_kind(value), f"{kind}-field")


class ConstField(Model):
    const: Any = Field(description="The constant value, written as is.")
    when: str | None = Field(None, description=_WHEN)


class ExprField(Model):
    expr: str = Field(description="JMESPath expression over the source record (functions allowed).")
    default: Any = Field(None, description="Used when the expression gives null (or for an unknown code with fallback: default).")
    valuemap: str | None = Field(None, description="Translate the value through mappings/valuemaps/<name>.yaml.")
    fallback: Fallback | None = Field(
        None,
        description="What an unknown code does: error (the record fails), default (this field's or the map's default) "
        "or pass (the code unchanged). Without it: the map's default if it has one, else error.",
    )
    required: bool = Field(False, description="A null result (after default) fails the record instead of writing null.")
    when: str | None = Field(None, description=_WHEN)

    @model_validator(mode="after")
    def _fallback_needs_valuemap(self) -> "ExprField":
        if self.fallback is not None and self.valuemap is None:
            raise ValueError("fallback only applies with a valuemap")
        return self


class EachField(Model):
    each: str = Field(description="JMESPath expression giving a list; one output entry per item (null: empty list).")
    output: "OutputValue" = Field(description="The entry per item; expressions in it see the item (root() is the whole record).")
    where: str | None = Field(None, description="JMESPath condition per item; items where it is false or null are left out.")
    when: str | None = Field(None, description=_WHEN)


class ObjectField(Model):
    object: dict[str, "OutputValue"] = Field(description="The nested object's fields.")
    when: str | None = Field(None, description=_WHEN)


OutputValue = TypeAliasType(
    "OutputValue",
    Annotated[
    Union[
        Annotated[str, Tag("string-expression")],
        Annotated[ConstField, Tag("const-field")],
        Annotated[ExprField, Tag("expr-field")],
        Annotated[EachField, Tag("each-field")],
        Annotated[ObjectField, Tag("object-field")],
        Annotated[dict[str, "OutputValue"], Tag("nested-object")],
        Annotated[list["OutputValue"], Tag("list-output")],
    ],
    Discriminator(_tag),
    ],
)


class JsonSchemaContract(Model):
    json_schema: dict[str, Any] = Field(description="The target record's JSON Schema, inline.")


class JsonSchemaFileContract(Model):
    json_schema_file: str = Field(description="Path of a JSON Schema file (relative to the project, or ${specs}/...).")


class OpenApiRef(Model):
    file: str = Field(description="The OpenAPI document, e.g. ${specs}/ooapi/v5/ooapi.yaml.")
    schema_: str = Field(alias="schema", description="Name of the schema under components/schemas.")


class OpenApiContract(Model):
    openapi: OpenApiRef


class XsdRef(Model):
    file: str = Field(description="An XSD, or a WSDL with the schema embedded in its types section.")
    element: str = Field(description="The global element the record must fit, as {namespace}Name.")


class XsdContract(Model):
    xsd: XsdRef


def _contract_tag(value: Any) -> str:
    keys = ("json_schema", "json_schema_file", "openapi", "xsd")
    if isinstance(value, dict):
        return next((f"{k}-contract" for k in keys if k in value), "json_schema-contract")
    return {JsonSchemaContract: "json_schema", JsonSchemaFileContract: "json_schema_file",
            OpenApiContract: "openapi", XsdContract: "xsd"}.get(type(value), "json_schema") + "-contract"


Contract = Annotated[
    Union[
        Annotated[JsonSchemaContract, Tag("json_schema-contract")],
        Annotated[JsonSchemaFileContract, Tag("json_schema_file-contract")],
        Annotated[OpenApiContract, Tag("openapi-contract")],
        Annotated[XsdContract, Tag("xsd-contract")],
    ],
    Discriminator(_contract_tag),
]


class MappingFile(Model):
    """mappings/<name>.yaml: how one source record becomes one target record."""

    name: str = Field(description="Equal to the file name without .yaml.", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str | None = None
    source: str | None = Field(None, description="Informational: what the input record is (student, enrollment, ...).")
    target: str | None = Field(None, description="Informational: what the output is for.")
    where: str | None = Field(None, description="JMESPath filter; a record for which it is false or null is skipped, not failed.")
    omit_null: bool = Field(False, description="Leave fields whose value is null out of the output (for XML targets).")
    parallel: bool = Field(
        False,
        description="Map the records of a batch on every core at once (results stay in order). For mappings "
        "whose functions spend their time outside the interpreter lock, such as eckid_hpgn (scrypt).",
    )
    output: dict[str, OutputValue] = Field(description="The target record's fields.")
    contract: Contract | None = Field(None, description="The shape the output must have; a record that does not fit is not sent.")

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The schema, with the nested-object branch excluding the keywords, so that editors see
        ``{expr: ...}`` as exactly one kind of output value (the oneOf stays unambiguous)."""
        schema = super().model_json_schema(*args, **kwargs)
        for branch in schema.get("$defs", {}).get("OutputValue", {}).get("oneOf", []):
            if branch.get("type") == "object" and "properties" not in branch:
                branch["not"] = {"anyOf": [{"required": [k]} for k in KEYWORDS]}
        return schema


class ValueMapFile(Model):
    """mappings/valuemaps/<name>.yaml: a code list, source code → target code."""

    name: str | None = Field(None, description="Equal to the file name when given.")
    description: str | None = None
    source: str | None = Field(None, description="Informational: where the codes come from.")
    target: str | None = Field(None, description="Informational: where the translated codes go.")
    codes: dict[str | int | bool, Any] = Field(description="source code → target value")
    default: Any = Field(None, description="The value for an unknown code, when a field's fallback allows it.")


class ErrorExpectation(Model):
    path: str | None = Field(None, description="The output field path the error must name, e.g. niveau or items[0].code.")
    contains: str | None = Field(None, description="Text the reason must contain.")
    kind: Literal["mapping", "contract"] | None = Field(None, description="mapping (the mapping failed) or contract (the output broke the contract).")


class MappingTestCase(Model):
    name: str
    input: dict[str, Any] = Field(description="The source record.")
    expect: dict[str, Any] | None = Field(None, description="The exact expected output.")
    expect_error: ErrorExpectation | None = None
    expect_skip: bool | None = Field(None, description="True: the mapping's where filter skips this record.")
    now: str | None = Field(None, description="Fix now()/today() for this case, ISO 8601, e.g. 2026-09-01T09:00:00+02:00.")
    contract: bool = Field(True, description="Also check the output against the mapping's contract.")

    @model_validator(mode="after")
    def _one_expectation(self) -> "MappingTestCase":
        given = [k for k in ("expect", "expect_error", "expect_skip") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of expect, expect_error, expect_skip")
        return self


def _list_or_object(schema: dict[str, Any]) -> None:
    # The file is usually a bare list of cases; editors must accept that form too.
    as_object = {k: schema.pop(k) for k in ("type", "properties", "required", "additionalProperties") if k in schema}
    schema["anyOf"] = [{"type": "array", "items": dict(as_object["properties"]["cases"]["items"])}, as_object]


class MappingTests(Model):
    """mappings/tests/<name>.yaml: the test cases of mapping <name>: a list, or {mapping, cases}."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_list_or_object)

    mapping: str | None = Field(None, description="The mapping under test; default: the file name.")
    cases: list[MappingTestCase]

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        return {"cases": data} if isinstance(data, list) else data


EachField.model_rebuild()
ObjectField.model_rebuild()
MappingFile.model_rebuild()

"""The OpenAPI document as the contract: it states every rule the server applies to a request.

Litestar documents a msgspec Struct's fields and their ``Meta`` bounds, but not
what the struct's own config enforces (``forbid_unknown_fields``: an unknown
field is a 400) nor the rules the domain applies after decoding (a phone
number's shape, "name at least one field"). ``ContractStructSchemaPlugin``
adds both: ``additionalProperties: false`` from the config, and the rules of
a ``RuleBook`` (api/schema_rules.py), built from the same constants and
patterns the domain checks with, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import (
    Encoding,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.typing import FieldDefinition

SchemaRule = Callable[[Schema], None]


class RuleBook:
    """Functions that complete the published schema of a struct, by struct."""

    def __init__(self) -> None:
        self._rules: dict[type, list[SchemaRule]] = {}

    def rule(self, *structs: type) -> Callable[[SchemaRule], SchemaRule]:
        def register(rule: SchemaRule) -> SchemaRule:
            for struct in structs:
                self._rules.setdefault(struct, []).append(rule)
            return rule

        return register

    def apply(self, struct: Any, schema: Schema) -> None:
        for rule in self._rules.get(struct, ()):
            rule(schema)


def constrain(schema: Schema, field: str, **attributes: Any) -> None:
    """Set Schema attributes (``pattern=...``, ``max_length=...``) on one property of
    ``schema``: the rules the domain applies to that field after decoding."""
    properties = schema.properties or {}
    target = properties[field]
    if isinstance(target, Reference):  # pragma: no cover - rules only name plain fields
        raise TypeError(f"{field} is a reference; constrain its component instead")
    for name, value in attributes.items():
        setattr(target, name, value)


class ContractStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's Struct schemas, completed with what the struct and the domain enforce."""

    def __init__(self, rules: RuleBook) -> None:
        self._book = rules

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct = field_definition.type_
        info = msgspec.inspect.type_info(struct)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        self._book.apply(struct, schema)
        return schema


def multipart_operation(
    fields: dict[str, Schema], required: list[str], *, file_type: str
) -> type[Operation]:
    """An Operation class that documents a multipart/form-data body: the upload routes read
    their form as a stream (api/multipart_upload.py), so Litestar sees no body to document.
    ``file`` is the one file part, of ``file_type``; the text fields are ``fields``."""
    form = Schema(
        type=OpenAPIType.OBJECT,
        properties={**fields, "file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)},
        required=sorted({*required, "file"}),
        additional_properties=False,
    )
    body = RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=form, encoding={"file": Encoding(content_type=file_type)}
            )
        },
    )

    @dataclass
    class MultipartUpload(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return MultipartUpload


@dataclass
class OptionalBodyOperation(Operation):
    """An operation whose JSON body may be left out (its handler has a default for it);
    Litestar marks every body required."""

    def __post_init__(self) -> None:
        if self.request_body is not None:
            self.request_body.required = False

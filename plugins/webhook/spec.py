"""Spec of the ``webhook`` source: inbound calls served by Koppel's own server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runtime.models.auth import InboundAuth
from runtime.models.common import Expression
from runtime.models.interface import SpecBase


class WebhookSource(SpecBase):
    type: Literal["webhook"]
    path: str = Field(
        pattern=r"^(/([A-Za-z0-9_\-]+|\{[A-Za-z_][A-Za-z0-9_]*\}))+/?$",
        description="URL path on Koppel's server. A segment {name} is a path parameter: its value is added to "
        "the stored record as field `name` (NED: /hooks/remindo/associations/{associationId}).",
    )
    methods: list[Literal["POST", "PUT", "PATCH"]] = Field(
        default_factory=lambda: ["POST", "PUT"], min_length=1,
        description="HTTP methods accepted (style json); NED's results come as PATCH.",
    )
    auth: InboundAuth | None = Field(
        None,
        description="How a caller proves who it is. Default: the system's `inbound_auth` in catalog.yaml "
        "for the environment, so each environment has its own secret.",
    )
    style: Literal["json", "scim"] = Field(
        "json", description="json: one record per call (or a list); scim: SCIM 2.0 Users/Groups endpoints."
    )
    resource: Literal["User", "Group"] | None = Field(None, description="With style scim: which resource.")
    key: Expression = Field("id", description="JMESPath to a record's key in the body.")
    max_body: int = Field(5_000_000, gt=0, description="Larger bodies are refused with 413.")

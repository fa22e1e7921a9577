"""Inbound webhooks (and SCIM provisioning): what callers send, stored before it is answered."""

from __future__ import annotations

from runtime.plugin import Plugin

from .spec import WebhookSource


def _source(spec, ctx):
    from .source import WebhookInboxSource

    return WebhookInboxSource(spec, ctx)


plugin = Plugin(
    type="webhook",
    description="Inbound HTTP calls (JSON or SCIM 2.0), authenticated and stored durably.",
    source_spec=WebhookSource,
    create_source=_source,
)

"""Inbound webhooks (and SCIM provisioning): what callers send, stored before it is answered."""

from __future__ import annotations

from runtime.plugin import Plugin, lazy

from .spec import WebhookSource

plugin = Plugin(
    type="webhook",
    description="Inbound HTTP calls (JSON or SCIM 2.0), authenticated and stored durably.",
    source_spec=WebhookSource,
    create_source=lazy("plugins.webhook.source:WebhookInboxSource"),
    inbox=True,  # reads a channel of the durable inbox: callbacks (runtime/engine/callbacks.py)
)

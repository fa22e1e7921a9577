"""HTTP APIs with httpx: auth, paging, rate limits, OpenAPI checks."""

from __future__ import annotations

from runtime.plugin import Plugin, lazy

from .spec import RestSource, RestTarget

plugin = Plugin(
    type="rest",
    description="HTTP/JSON APIs: bearer, API-key, basic and OAuth2 auth; paging; 429 handling.",
    source_spec=RestSource,
    target_spec=RestTarget,
    create_source=lazy("plugins.rest.source:RestApiSource"),
    create_target=lazy("plugins.rest.download:create_target"),
    check=lazy("plugins.rest.check:check_spec"),
)

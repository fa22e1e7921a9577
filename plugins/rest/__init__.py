"""HTTP APIs with httpx: auth, paging, rate limits, OpenAPI checks."""

from __future__ import annotations

from runtime.plugin import Plugin

from .spec import RestSource, RestTarget


def _source(spec, ctx):
    from .source import RestApiSource

    return RestApiSource(spec, ctx)


def _target(spec, ctx):
    from .target import RestApiTarget

    return RestApiTarget(spec, ctx)


def _check(spec, ctx):
    from .check import check_spec

    return check_spec(spec, ctx)


plugin = Plugin(
    type="rest",
    description="HTTP/JSON APIs: bearer, API-key, basic and OAuth2 auth; paging; 429 handling.",
    source_spec=RestSource,
    target_spec=RestTarget,
    create_source=_source,
    create_target=_target,
    check=_check,
)

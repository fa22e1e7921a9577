"""SOAP with zeep, plus Edukoppeling: WS-Addressing with OIN, WS-Security signing, faults."""

from __future__ import annotations

from runtime.plugin import Plugin

from .spec import SoapSource, SoapTarget


def _source(spec, ctx):
    from .source import SoapPullSource

    return SoapPullSource(spec, ctx)


def _target(spec, ctx):
    from .target import SoapCallTarget

    return SoapCallTarget(spec, ctx)


def _check(spec, ctx):
    from .check import check_spec

    return check_spec(spec, ctx)


plugin = Plugin(
    type="soap",
    description="SOAP 1.1 document/literal with zeep; Edukoppeling addressing and signing.",
    source_spec=SoapSource,
    target_spec=SoapTarget,
    create_source=_source,
    create_target=_target,
    check=_check,
)

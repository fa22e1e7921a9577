"""SOAP with zeep, plus Edukoppeling: WS-Addressing with OIN, WS-Security signing, faults."""

from __future__ import annotations

from runtime.plugin import Plugin, lazy

from .spec import SoapSource, SoapTarget

plugin = Plugin(
    type="soap",
    description="SOAP 1.1 document/literal with zeep; Edukoppeling addressing and signing.",
    source_spec=SoapSource,
    target_spec=SoapTarget,
    create_source=lazy("plugins.soap.source:SoapPullSource"),
    create_target=lazy("plugins.soap.target:SoapCallTarget"),
    check=lazy("plugins.soap.check:check_spec"),
)

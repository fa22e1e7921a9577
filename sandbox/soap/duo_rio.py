"""DUO RIO (Beheren V4) stand-in, interface 17. Profile 2W-be-S: addressing and signature checked.

Contract: DUO's real ``DUO_RIO_Beheren_OnderwijsOrganisatie_V4`` WSDL/XSD from ../shared/specs,
or the project's minimal fallback with the same names. Serves ``aanleveren_aangebodenOpleiding``
and ``verwijderen_aangebodenOpleiding``: the answer echoes the request's
identificatiecodeBedrijfsdocument (as DUO does) with ``requestGoedgekeurd`` true. "reject"
answers ``requestGoedgekeurd`` false with a ``foutmelding`` (N09030, invalid leertraject), the
functional refusal RIO gives. Other operations of the contract answer Server.DK0050.
"""

from __future__ import annotations

from urllib.parse import urlparse

from sandbox.standin import StandinContext

from .base import SoapFault, SoapStandin, build, contract, settings_profile_signed
from .duo_common import answer_header

NAME = "DUO_RIO_Beheren_OnderwijsOrganisatie_V4"
NS = f"http://duo.nl/schema/{NAME}"
SERVED = ("aanleveren_aangebodenOpleiding", "verwijderen_aangebodenOpleiding")


def _code(body) -> str:
    for child in body.iter():
        if isinstance(child.tag, str) and child.tag.endswith("}onderwijsaanbiedercode"):
            return (child.text or "").strip()
    return "onbekend"


def create_app(ctx: StandinContext):
    own_oin = getattr(ctx.settings, "oin", None)

    def result(operation: str, approved: bool):
        def handler(body, exchange):
            content = {**answer_header(body, exchange, own_oin, echo_id=True), "requestGoedgekeurd": approved}
            if not approved:
                content["foutmelding"] = [{"foutcode": "N09030", "fouttekst": "Leertraject is ongeldig (sandbox)", "sleutelgegeven": [{"sleutelnaam": "onderwijsaanbiedercode", "sleutelwaarde": _code(body)}]}]
            return build(NS, f"{operation}_response", content)

        return handler

    def reject(body, exchange):
        if exchange.operation not in SERVED:
            raise SoapFault("Client.DK0004", "record rejected (sandbox fault)")
        return result(exchange.operation, False)(body, exchange)

    wsdl_path = contract(ctx, f"duo-rio/{NAME}.wsdl", f"fallback/duo-rio/{NAME}.wsdl")
    standin = SoapStandin(
        ctx,
        wsdl_path=wsdl_path,
        path=urlparse(ctx.settings.url).path or "/",
        handlers={op: result(op, True) for op in SERVED},
        edukoppeling_checks=True,
        signed=settings_profile_signed(ctx, True),
        reject=reject,
    )
    standin.handlers.update(
        {op: _unsupported for op in standin.info.operations if op not in SERVED}
    )
    return standin.app()


def _unsupported(body, exchange):
    raise SoapFault("Server.DK0050", f"{exchange.operation} is not served by the sandbox")

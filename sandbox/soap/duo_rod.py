"""DUO ROD (BRON MBO) stand-in, interface 15. Profile 2W-be-S: addressing and signature checked.

Contract: the project's own ``contracts/duo-rod`` (DUO's MBO contract is not public). Operations
``aanleveren_inschrijving`` (with its periods), ``aanleveren_bpv`` and ``aanleveren_diploma``.
Each accepted message gets an Ontvangstbevestiging with DUO's own document id (the target's
reference), ``referentieBedrijfsdocument`` = the school's id and ``ontvangstBevestiging`` J.
"reject" answers ``ontvangstBevestiging`` N with a signal (a functional refusal), unless a fault
``code`` is given, which is then sent as a SOAP fault.
"""

from __future__ import annotations

from urllib.parse import urlparse

from sandbox.standin import StandinContext

from .base import SoapStandin, build, own_contract, settings_profile_signed, text
from .duo_common import answer_header

NAME = "KOPPEL_DUO_MBO_ROD_Aanleveren_V1"
NS = f"http://koppel.standin/schema/{NAME}"
OPERATIONS = ("aanleveren_inschrijving", "aanleveren_bpv", "aanleveren_diploma")


def create_app(ctx: StandinContext):
    own_oin = getattr(ctx.settings, "oin", None)

    def acknowledge(operation: str, accepted: bool):
        def handler(body, exchange):
            content = {
                **answer_header(body, exchange, own_oin, echo_id=False),
                "referentieBedrijfsdocument": text(body, "identificatiecodeBedrijfsdocument"),
                "ontvangstBevestiging": "J" if accepted else "N",
            }
            if not accepted:
                content["signaal"] = [{"signaalcode": "R001", "signaalomschrijving": "gegevens afgekeurd (sandbox)"}]
            return build(NS, f"{operation}_response", content)

        return handler

    def reject(body, exchange):
        return acknowledge(exchange.operation, False)(body, exchange)

    standin = SoapStandin(
        ctx,
        wsdl_path=own_contract(ctx, f"duo-rod/{NAME}.wsdl"),
        path=urlparse(ctx.settings.url).path or "/",
        handlers={op: acknowledge(op, True) for op in OPERATIONS},
        edukoppeling_checks=True,
        signed=settings_profile_signed(ctx, True),
        reject=reject,
    )
    return standin.app()

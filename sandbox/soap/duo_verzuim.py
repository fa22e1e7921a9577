"""DUO verzuimregister stand-in, interface 16. Profile 2W-be-S: addressing and signature checked.

Contract: the project's own ``contracts/duo-verzuim``. ``melden_verzuim`` registers a melding and
answers its ``nummerMelding`` (the target's reference) with status Geregistreerd;
``intrekken_verzuimmelding`` withdraws one (status Ingetrokken). "reject" answers
``ontvangstBevestiging`` N.
"""

from __future__ import annotations

import itertools
from urllib.parse import urlparse

from sandbox.standin import StandinContext

from .base import SoapFault, SoapStandin, build, own_contract, settings_profile_signed, text
from .duo_common import answer_header

NAME = "KOPPEL_DUO_Verzuimregister_V1"
NS = f"http://koppel.standin/schema/{NAME}"


def create_app(ctx: StandinContext):
    own_oin = getattr(ctx.settings, "oin", None)
    numbers = itertools.count(1)
    registered: set[str] = set()

    def answer(operation, body, exchange, **fields):
        return build(NS, f"{operation}_response", {
            **answer_header(body, exchange, own_oin, echo_id=False),
            "referentieBedrijfsdocument": text(body, "identificatiecodeBedrijfsdocument"),
            **fields,
        })

    def melden(body, exchange):
        number = f"VZ{next(numbers):08d}"
        registered.add(number)
        return answer("melden_verzuim", body, exchange, ontvangstBevestiging="J", nummerMelding=number, status="Geregistreerd")

    def intrekken(body, exchange):
        number = text(body, "nummerMelding")
        if number not in registered:
            raise SoapFault("Server.DK0050", "melding onbekend")
        return answer("intrekken_verzuimmelding", body, exchange, ontvangstBevestiging="J", nummerMelding=number, status="Ingetrokken")

    def reject(body, exchange):
        return answer(exchange.operation, body, exchange, ontvangstBevestiging="N")

    standin = SoapStandin(
        ctx,
        wsdl_path=own_contract(ctx, f"duo-verzuim/{NAME}.wsdl"),
        path=urlparse(ctx.settings.url).path or "/",
        handlers={"melden_verzuim": melden, "intrekken_verzuimmelding": intrekken},
        edukoppeling_checks=True,
        signed=settings_profile_signed(ctx, True),
        reject=reject,
    )
    return standin.app()

"""Kennisnet Nummervoorziening (ECK-iD) stand-in, interface 13. Profile 2W-be: addressing, no signature.

Serves ``ping``, ``retrieveStampseudonym`` and ``retrieveEckId`` of the real WSDL (or the fallback
contract). Answers are deterministic: the stampseudonym is derived from the hPGN, the ECK-iD
from the stampseudonym, chain and sector, so the same student always gets the same ECK-iD.
An hPGN that is not 64 lower-case hex characters is refused the way Kennisnet does: a fault.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from urllib.parse import urlparse

from sandbox.standin import StandinContext

from .base import SoapFault, SoapStandin, build, contract, text

NS = "http://ketenid.nl/eck/schemas/v1_0"
HPGN = re.compile(r"^[0-9a-f]{64}$")


def stampseudonym_for(hpgn: str) -> str:
    return "https://ketenid.nl/sppilot/" + hashlib.sha256(f"sp:{hpgn}".encode()).hexdigest()


def eckid_for(stampseudonym: str, chain: str, sector: str) -> str:
    return "https://ketenid.nl/pilot/" + hashlib.sha256(f"{stampseudonym}|{chain}|{sector}".encode()).hexdigest()


def create_app(ctx: StandinContext):
    def ping(body, exchange):
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        return build(NS, "pingResponse", {"available": True, "applicationVersion": "koppel-sandbox", "systemTime": now})

    def retrieve_stampseudonym(body, exchange):
        hpgn = text(body, "hpgn") or ""
        if not HPGN.match(hpgn):
            raise SoapFault("Client.DK0004", "hpgn is not a 64-character lower-case hex scrypt hash")
        return build(NS, "retrieveStampseudonymResponse", {"stampseudonym": stampseudonym_for(hpgn)})

    def retrieve_eckid(body, exchange):
        pseudonym, chain, sector = text(body, "stampseudonym"), text(body, "chainId"), text(body, "sectorId")
        if not (pseudonym or "").startswith("https://ketenid.nl/sppilot/"):
            raise SoapFault("Client.DK0004", "unknown stampseudonym")
        return build(NS, "retrieveEckIdResponse", {"eckId": eckid_for(pseudonym, chain or "", sector or "")})

    standin = SoapStandin(
        ctx,
        wsdl_path=contract(ctx, "eckid-nummervoorziening/eckid.wsdl", "fallback/eckid-nummervoorziening/eckid.wsdl"),
        path=urlparse(ctx.settings.url).path or "/",
        handlers={"ping": ping, "retrieveStampseudonym": retrieve_stampseudonym, "retrieveEckId": retrieve_eckid},
        edukoppeling_checks=True,
        signed=False,
    )
    return standin.app()

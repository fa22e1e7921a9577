"""Kennisnet Nummervoorziening (ECK-iD) stand-in, interface 13. Profile 2W-be: addressing, no signature.

Serves ``ping``, ``retrieveStampseudonym``, ``retrieveEckId``, the batch operations
(``submitStampseudonymBatch``, ``submitEckIdBatch``, ``retrieveBatch``), ``replaceStampseudonym``,
``retrieveChains`` and ``retrieveSectors`` of the real WSDL (the fallback contract has all but the
last two). Answers are deterministic: the stampseudonym is derived from the hPGN, the ECK-iD
from the stampseudonym, chain and sector, so the same student always gets the same ECK-iD.

Refused the way Kennisnet does (a fault; in a batch, that entry in ``failed[]``): an hPGN that is
not 64 lower-case hex characters, a stampseudonym it never issued, a chain or sector it does not
know (this stand-in knows Kennisnet's test chain and test sector, as its test environment does),
a replace whose old hPGN it never saw. A batch is processed ``options.batch_delay`` seconds
(default 0.3) after its submit; until then ``retrieveBatch`` answers a Server fault, as a batch
still in progress does (assumed: the reference clients wait before they retrieve). After
``replaceStampseudonym`` the new hPGN gives the old stampseudonym, so the ECK-iD stays the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
import uuid
from urllib.parse import urlparse

from lxml import etree

from sandbox.standin import StandinContext

from .base import SoapFault, SoapStandin, build, contract, text

NS = "http://ketenid.nl/eck/schemas/v1_0"
HPGN = re.compile(r"^[0-9a-f]{64}$")
TEST_CHAIN = "http://purl.edustandaard.nl/begrippenkader/e7ec7d3c-c235-4513-bfb6-e54e66854795"
TEST_SECTOR = "http://purl.edustandaard.nl/begrippenkader/512e4729-03a4-43a2-95ba-758071d1b725"
CHAINS = {TEST_CHAIN: ("Testketen", "Kennisnet's test chain")}
SECTORS = {TEST_SECTOR: ("Primair Onderwijs", "the sector of Kennisnet's reference tests")}


def stampseudonym_for(hpgn: str) -> str:
    return "https://ketenid.nl/sppilot/" + hashlib.sha256(f"sp:{hpgn}".encode()).hexdigest()


def eckid_for(stampseudonym: str, chain: str, sector: str) -> str:
    return "https://ketenid.nl/pilot/" + hashlib.sha256(f"{stampseudonym}|{chain}|{sector}".encode()).hexdigest()


def create_app(ctx: StandinContext):
    lock = threading.Lock()
    replaced: dict[str, str] = {}  # new hPGN → the stampseudonym of the old one
    seen: set[str] = set()  # hPGNs this stand-in issued a stampseudonym for
    batches: dict[str, tuple[float, dict]] = {}  # batchIdentifier → (ready at, answer)
    delay = float((ctx.settings.options or {}).get("batch_delay", 0.3))

    def pseudonym(hpgn: str) -> str:
        if not HPGN.match(hpgn):
            raise SoapFault("Client.DK0004", "hpgn is not a 64-character lower-case hex scrypt hash")
        with lock:
            seen.add(hpgn)
            return replaced.get(hpgn) or stampseudonym_for(hpgn)

    def eckid(stampseudonym: str | None, chain: str | None, sector: str | None) -> str:
        if chain not in CHAINS:
            raise SoapFault("Client.DK0004", "unknown chainId")
        if sector not in SECTORS:
            raise SoapFault("Client.DK0004", "unknown sectorId")
        if not (stampseudonym or "").startswith("https://ketenid.nl/sppilot/"):
            raise SoapFault("Client.DK0004", "unknown stampseudonym")
        return eckid_for(stampseudonym or "", chain or "", sector or "")

    def ping(body, exchange):
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        return build(NS, "pingResponse", {"available": True, "applicationVersion": "koppel-sandbox", "systemTime": now})

    def retrieve_stampseudonym(body, exchange):
        return build(NS, "retrieveStampseudonymResponse", {"stampseudonym": pseudonym(text(body, "hpgn") or "")})

    def retrieve_eckid(body, exchange):
        found = eckid(text(body, "stampseudonym"), text(body, "chainId"), text(body, "sectorId"))
        return build(NS, "retrieveEckIdResponse", {"eckId": found})

    def submit(entries: list[tuple[int, str]], work) -> etree._Element:
        success, failed = [], []
        for index, value in entries:
            try:
                success.append({"index": index, "value": work(value)})
            except SoapFault as fault:
                failed.append({"index": index, "errorMessage": fault.message})
        batch_id = str(uuid.uuid4())
        with lock:
            batches[batch_id] = (time.monotonic() + delay, {"success": success, "failed": failed})
        return build(NS, "submitBatchResponse", {"batchIdentifier": batch_id})

    def submit_stampseudonym_batch(body, exchange):
        return submit(_listed(body, "hpgnList", "hPgn"), pseudonym)

    def submit_eckid_batch(body, exchange):
        chain, sector = text(body, "chainId"), text(body, "sectorId")
        eckid("https://ketenid.nl/sppilot/check", chain, sector)  # an unknown chain refuses the whole batch
        return submit(_listed(body, "stampseudonymList", "stampseudonym"), lambda sp: eckid(sp, chain, sector))

    def retrieve_batch(body, exchange):
        with lock:
            found = batches.get(text(body, "batchIdentifier") or "")
        if found is None:
            raise SoapFault("Client.DK0050", "unknown batchIdentifier")
        ready_at, answer = found
        if time.monotonic() < ready_at:
            raise SoapFault("Server.DK0051", "the batch is still being processed; retrieve it later")
        return build(NS, "retrieveBatchResponse", answer)

    def replace_stampseudonym(body, exchange):
        old, new = text(body, "hpgnOld") or "", text(body, "hpgnNew") or ""
        if not HPGN.match(old) or not HPGN.match(new):
            raise SoapFault("Client.DK0004", "hpgnOld and hpgnNew must be 64-character lower-case hex scrypt hashes")
        with lock:
            if old not in seen:
                raise SoapFault("Client.DK0050", "hpgnOld is unknown")
            kept = replaced.get(old) or stampseudonym_for(old)
            replaced[new] = kept
            seen.add(new)
        return build(NS, "replaceStampseudonymResponse", {"stampseudonym": kept})

    def listing(kind: str, known: dict[str, tuple[str, str]]):
        def handler(body, exchange):
            edited = "2017-03-01T00:00:00Z"
            return build(NS, f"retrieve{kind.title()}sResponse", {kind: [
                {"id": i, "name": n, "description": d, "lastEdited": edited} for i, (n, d) in known.items()]})

        return handler

    standin = SoapStandin(
        ctx,
        wsdl_path=contract(ctx, "eckid-nummervoorziening/eckid.wsdl", "fallback/eckid-nummervoorziening/eckid.wsdl"),
        path=urlparse(ctx.settings.url).path or "/",
        handlers={"ping": ping, "retrieveStampseudonym": retrieve_stampseudonym, "retrieveEckId": retrieve_eckid,
                  "submitStampseudonymBatch": submit_stampseudonym_batch, "submitEckIdBatch": submit_eckid_batch,
                  "retrieveBatch": retrieve_batch, "replaceStampseudonym": replace_stampseudonym,
                  "retrieveChains": listing("chain", CHAINS), "retrieveSectors": listing("sector", SECTORS)},
        edukoppeling_checks=True,
        signed=False,
    )
    return standin.app()


def _listed(body: etree._Element, list_name: str, value_name: str) -> list[tuple[int, str]]:
    """``[(index, value)]`` of the request's ``<list_name><index/><value_name/></list_name>`` entries."""
    entries = []
    for child in body:
        if isinstance(child.tag, str) and etree.QName(child).localname == list_name:
            entries.append((int(text(child, "index") or 0), text(child, value_name) or ""))
    return entries

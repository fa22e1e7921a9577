"""Benchmark: SOAP calls per second through the soap plugin vs a hand-built lxml envelope.

Koppel's path: ``SoapCallTarget.write`` per item (zeep serialises the mapped payload, Koppel adds
the Edukoppeling headers, ``requests`` posts it, the answer is parsed safely and read by zeep),
for ECK-iD ``retrieveStampseudonym`` (2W-be: addressing, no signature).

Baselines: plain zeep on the same WSDL with its WS-Addressing plugin (what a Python team would
use without Koppel), and the same envelope built by hand with lxml (addressing headers
included), posted with a keep-alive ``httpx.Client``, the answer parsed with lxml and the value read with find():
what a hand-written client for this one operation would do (performance-notes.md: zeep ≈ 970
calls/s vs hand-built ≈ 1.66 k). Both talk to the same canned-answer server in a subprocess.

Also measured without a network: building and signing a RIO ``aanleveren_aangebodenOpleiding``
(2W-be-S, RSA-2048) per message. Runs are interleaved; medians compared. Target: ratio ≥ 0.5.

    .venv/bin/python bench/bench_soap.py [--calls 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HPGN = "9735dfd2235eaeb5f0300886bcc99c82ffc1d6420c4e0bde8de7218def2135fa"
SERVER = r'''
import sys, uvicorn
ANSWER = (b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
          b'<soapenv:Body><e:retrieveStampseudonymResponse xmlns:e="http://ketenid.nl/eck/schemas/v1_0">'
          b'<e:stampseudonym>https://ketenid.nl/sppilot/abc</e:stampseudonym></e:retrieveStampseudonymResponse>'
          b'</soapenv:Body></soapenv:Envelope>')
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/xml; charset=utf-8")]})
    await send({"type": "http.response.body", "body": ANSWER})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def koppel_target(url: str):
    from plugins.soap.spec import SoapTarget
    from plugins.soap.target import SoapCallTarget
    from runtime.models.catalog import SystemEnvironment
    from runtime.plugin import PluginContext

    ctx = PluginContext(environment="sandbox", project_root=ROOT, system_name="kennisnet",
                        system=SystemEnvironment(url=url, oin="00000001819013404000"),
                        options={"profile": "edukoppeling-2W-be", "sender_oin": "0000000700025LX00000"})
    spec = SoapTarget(type="soap", wsdl="contracts/fallback/eckid-nummervoorziening/eckid.wsdl",
                      operation="retrieveStampseudonym", reference="stampseudonym")
    return SoapCallTarget(spec, ctx)


def run_koppel(url: str, calls: int) -> float:
    from runtime.plugin import Item

    target = koppel_target(url)
    target.open()
    items = [Item(key=str(i), source_key=str(i), payload={"hpgn": HPGN}) for i in range(calls)]
    start = time.perf_counter()
    for item in items:
        [outcome] = target.write([item])
        assert outcome.ok
    elapsed = time.perf_counter() - start
    target.close()
    return calls / elapsed


def run_zeep(url: str, calls: int) -> float:
    """Plain zeep, as a Python team would call ECK-iD without Koppel: the same WSDL, WS-Addressing
    by zeep's own plugin, zeep's default transport (a keep-alive requests session)."""
    from zeep import Client
    from zeep.wsa import WsAddressingPlugin

    client = Client(str(ROOT / "contracts/fallback/eckid-nummervoorziening/eckid.wsdl"), plugins=[WsAddressingPlugin()])
    service = client.create_service("{http://ketenid.nl/eck/schemas/v1_0}EckIDSoapBinding", url)
    start = time.perf_counter()
    for _ in range(calls):
        answer = service.retrieveStampseudonym(hpgn=HPGN)
        assert answer is not None
    elapsed = time.perf_counter() - start
    client.transport.session.close()
    return calls / elapsed


def run_baseline(url: str, calls: int) -> float:
    import httpx
    from lxml import etree

    soap, wsa, eck = "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2005/08/addressing", "http://ketenid.nl/eck/schemas/v1_0"
    action = f"{eck}/retrieveStampseudonym"
    session = httpx.Client()
    start = time.perf_counter()
    for _ in range(calls):
        env = etree.Element(f"{{{soap}}}Envelope", nsmap={"soapenv": soap, "wsa": wsa})
        header = etree.SubElement(env, f"{{{soap}}}Header")
        etree.SubElement(header, f"{{{wsa}}}To").text = f"{url}?oin=00000001819013404000"
        etree.SubElement(header, f"{{{wsa}}}Action").text = action
        etree.SubElement(header, f"{{{wsa}}}MessageID").text = f"urn:uuid:{uuid.uuid4()}"
        sender = etree.SubElement(header, f"{{{wsa}}}From")
        etree.SubElement(sender, f"{{{wsa}}}Address").text = "http://www.w3.org/2005/08/addressing/anonymous?oin=0000000700025LX00000"
        request = etree.SubElement(etree.SubElement(env, f"{{{soap}}}Body"), f"{{{eck}}}retrieveStampseudonymRequest")
        etree.SubElement(request, f"{{{eck}}}hpgn").text = HPGN
        response = session.post(url, content=etree.tostring(env, xml_declaration=True, encoding="UTF-8"),
                                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'})
        root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
        assert root.findtext(f".//{{{eck}}}stampseudonym")
    elapsed = time.perf_counter() - start
    session.close()
    return calls / elapsed


def run_signing(count: int) -> tuple[float, float]:
    """(messages/s Koppel build+sign of a RIO message, messages/s sign only of a prebuilt one)."""
    from plugins.soap import edukoppeling
    from plugins.soap.client import SoapEndpoint
    from plugins.soap.settings import SoapSettings
    from sandbox.soap.pki import make_self_signed

    sys.path.insert(0, str(ROOT / "tests" / "plugins" / "soap"))
    from soap_helpers import rio_payload

    key, cert = make_self_signed("bench", "0000000700025LX00000")
    settings = SoapSettings(system="duo-rio", endpoint="http://127.0.0.1:1/rio", profile="edukoppeling-2W-be-S",
                            sender_oin="0000000700025LX00000", receiver_oin="00000001800866472000", timeout=5,
                            options={}, tls=None, project_root=ROOT)
    endpoint = SoapEndpoint("contracts/fallback/duo-rio/DUO_RIO_Beheren_OnderwijsOrganisatie_V4.wsdl", settings)
    endpoint._signing = (key, cert)
    start = time.perf_counter()
    for _ in range(count):
        endpoint.build("aanleveren_aangebodenOpleiding", rio_payload(), sign=True)
    full = count / (time.perf_counter() - start)
    envelope, _, _ = endpoint.build("aanleveren_aangebodenOpleiding", rio_payload(), sign=False)
    from lxml import etree

    data = etree.tostring(envelope)
    start = time.perf_counter()
    for _ in range(count):
        edukoppeling.sign(etree.fromstring(data), key, cert)
    return full, count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    url = f"http://127.0.0.1:{port}/eck"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        run_koppel(url, 50), run_baseline(url, 50), run_zeep(url, 50)  # warm-up: WSDL load, connections
        koppel, baseline, zeep, loads = [], [], [], []
        for _ in range(args.runs):
            loads.append(os.getloadavg()[0])
            koppel.append(run_koppel(url, args.calls))
            baseline.append(run_baseline(url, args.calls))
            zeep.append(run_zeep(url, args.calls))
        k, b, z = statistics.median(koppel), statistics.median(baseline), statistics.median(zeep)
        print("stands for: the ECK-iD target's retrieveStampseudonym calls of `koppel run 13`, one call per item")
        print(f"soap plugin (zeep + Edukoppeling addressing): {k:8.0f} calls/s")
        print(f"hand-built lxml envelope over httpx:          {b:8.0f} calls/s  ratio {k / b:.2f} (target >= 0.5)")
        print(f"plain zeep with WS-Addressing (the peer):     {z:8.0f} calls/s  ratio {k / z:.2f}")
        print(f"load average {statistics.median(loads):.1f}")
        full, sign_only = run_signing(200)
        print(f"RIO aanleveren_aangebodenOpleiding build + 2W-be-S sign: {full:6.0f} messages/s (sign only {sign_only:.0f}/s)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

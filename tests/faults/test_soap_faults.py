"""The soap plugin (one call per record) against the DUO ROD stand-in, through a TCP proxy that
resets or stalls the HTTP connections at random. The plugin is the real one; only its context
(the stand-in's settings, certificates and OINs) is given directly instead of through a catalog."""

from __future__ import annotations

import urllib.parse

import pytest
from faultcheck import FAULTS_SLOW, Stream, check_outcome, deliver_through, streams
from hypothesis import given
from hypothesis import strategies as st
from proxy import TcpFaultProxy

from plugins.soap import plugin as soap
from runtime.plugin import Plugin, PluginContext, Record

ROD_WSDL = "contracts/duo-rod/KOPPEL_DUO_MBO_ROD_Aanleveren_V1.wsdl"


@pytest.fixture(scope="module")
def rod(project_root):
    from sandbox.runner import Sandbox, load_catalog
    from sandbox.soap.pki import ensure_sandbox_pki

    ensure_sandbox_pki(project_root)
    with Sandbox(project_root, names=["duo-rod"], free_ports=True, include_services=False).start() as sandbox:
        yield sandbox, load_catalog(project_root).systems["duo-rod"]


def _inschrijvingen(stream: Stream) -> Stream:
    """The stream as ROD registrations: inschrijvingvolgnummer is the key, the version moves
    the start date, so the stand-in's record says which version arrived."""
    records = []
    for r in stream.records:
        day = 1 + r.data["version"]
        records.append(Record(key=r.key, object="inschrijving", data={
            "persoon": {"burgerservicenummer": "111222333", "geboortedatum": "2008-05-01", "geslacht": "V"},
            "brin": "25LX", "inschrijvingvolgnummer": r.key, "datumInschrijving": f"2026-08-{day:02d}",
            "inschrijvingsperiode": [{"datumBegin": f"2026-08-{day:02d}", "opleidingcode": "25998",
                                      "leertraject": "BOL", "niveau": "MBO-4", "indicatieBekostigbaar": True,
                                      "onderwijsaanbieder": "110A133", "onderwijslocatie": "107X215"}]}))
    return Stream(records, set())


def _find(body, name: str):
    if isinstance(body, dict):
        for key, value in body.items():
            if key.split("}")[-1] == name:
                return value
            found = _find(value, name)
            if found is not None:
                return found
    elif isinstance(body, list):
        for value in body:
            found = _find(value, name)
            if found is not None:
                return found
    return None


@FAULTS_SLOW
@given(stream=streams(min_size=100, max_size=120).map(_inschrijvingen), rate=st.floats(0.1, 0.5),
       seed=st.integers(0, 2**16))
def test_resets_and_stalls_of_the_soap_connection_leave_duo_with_the_latest(workdir, rod, project_root, stream,
                                                                           rate, seed) -> None:
    sandbox, system = rod
    standin = sandbox.context("duo-rod")
    standin.received.items.clear()
    upstream = urllib.parse.urlsplit(sandbox.url("duo-rod"))
    root = workdir()
    # per chunk the client sends (a call is one or two): a third of the rate fails about half of
    # that share of the calls; a stalled call times out after 0.25 s (the answer comes at 0.4 s)
    with TcpFaultProxy((upstream.hostname, upstream.port), rate=rate / 3, kinds=("reset", "reset", "delay"),
                       delay=0.4, seed=seed) as proxy:
        proxied = upstream._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
        settings = standin.settings.model_copy(update={"url": proxied, "timeout": 0.25})
        ctx = PluginContext(environment="sandbox", project_root=project_root, system_name="duo-rod",
                            system=settings, options={"profile": system.profile, "sender_oin": system.sender_oin})
        real = Plugin("soap", "the soap plugin with the stand-in's context", target_spec=soap.target_spec,
                      create_target=lambda spec, _ctx: soap.create_target(spec, ctx))
        target = {"type": "soap", "system": "duo-rod", "wsdl": str(project_root / ROD_WSDL),
                  "operation": "aanleveren_inschrijving"}
        summary, letters = deliver_through(root, {"soap": real}, target, stream, interface_id=15,
                                           objects=["inschrijving"])
    arrived: dict[str, dict] = {}
    by_key = {r.key: r.data for r in stream.records}
    for entry in standin.received.items:
        if entry["kind"] != "accepted":
            continue
        key = _find(entry["body"], "inschrijvingvolgnummer")
        date = _find(entry["body"], "datumInschrijving")
        if key in by_key:  # the latest accepted version, compared on what tells them apart
            arrived[key] = {**by_key[key], "datumInschrijving": date}
    check_outcome(stream, arrived, set(arrived), letters)
    assert summary.outcome == "ok" and proxy.chunks > 0

"""SoapCallTarget against the SOAP stand-ins on 127.0.0.1: envelopes, addressing, signing, faults."""

from __future__ import annotations

import pytest

from plugins.soap.spec import SoapTarget
from plugins.soap.target import SoapCallTarget
from runtime.errors import ConfigError, ContractError, RecordError, TransientError
from runtime.plugin import Item

from soap_helpers import ECK_CHAIN, ECK_SECTOR, ECK_WSDL, HPGN, RIO_WSDL, ROD_WSDL, VERZUIM_WSDL, rio_payload, rod_inschrijving


def target(ctx, **spec) -> SoapCallTarget:
    return SoapCallTarget(SoapTarget(type="soap", **spec), ctx)


def test_eckid_two_steps_give_a_deterministic_eckid(context, soap_sandbox):
    t = target(context("kennisnet"), wsdl=ECK_WSDL, operation="retrieveEckId", before=["retrieveStampseudonym"], reference="eckId")
    item = Item(key="S1", source_key="S1", payload={"hpgn": HPGN, "chainId": ECK_CHAIN, "sectorId": ECK_SECTOR})
    first, second = t.write([item, item])
    assert first.ok and first.reference.startswith("https://ketenid.nl/pilot/")
    assert first.reference == second.reference == first.response["eckId"]
    accepted = [r for r in soap_sandbox.context("kennisnet").received.items if r["kind"] == "accepted"]
    assert [r["operation"] for r in accepted] == ["retrieveStampseudonym", "retrieveEckId"] * 2
    assert all(r["sender_oin"] == "0000000700025LX00000" and not r["signed"] for r in accepted)
    t.close()


def test_fixed_fields_complete_the_payload(context):
    t = target(context("kennisnet"), wsdl=ECK_WSDL, operation="retrieveEckId", before=["retrieveStampseudonym"],
               fixed={"chainId": ECK_CHAIN, "sectorId": ECK_SECTOR}, reference="eckId")
    [outcome] = t.write([Item(key="S1", source_key="S1", payload={"hpgn": HPGN})])
    assert outcome.ok and outcome.reference.startswith("https://ketenid.nl/pilot/")
    t.close()


def test_rio_aangeboden_opleiding_is_signed_and_accepted(context, soap_sandbox):
    t = target(context("duo-rio"), wsdl=RIO_WSDL, operation="aanleveren_aangebodenOpleiding")
    [outcome] = t.write([Item(key="o1", source_key="o1", payload=rio_payload())])
    assert outcome.ok, outcome.error
    assert outcome.response["requestGoedgekeurd"] is True
    # the reference is the identificatiecodeBedrijfsdocument we sent, which RIO echoes
    assert outcome.reference == outcome.response["identificatiecodeBedrijfsdocument"]
    [record] = soap_sandbox.context("duo-rio").received.items
    assert record["kind"] == "accepted" and record["signed"]
    assert record["body"]["aangebodenMboOpleiding"]["aangebodenMboOpleidingCohort"]["cohortcode"] == "2026-BOL-SEP"


def test_rod_acknowledgement_gives_duos_message_id(context, soap_sandbox):
    t = target(context("duo-rod"), wsdl=ROD_WSDL, operation="aanleveren_inschrijving", reference="identificatiecodeBedrijfsdocument")
    [outcome] = t.write([Item(key="e1", source_key="e1", payload=rod_inschrijving())])
    assert outcome.ok, outcome.error
    assert outcome.response["ontvangstBevestiging"] == "J"
    assert outcome.reference == outcome.response["identificatiecodeBedrijfsdocument"]
    assert outcome.reference != outcome.response["referentieBedrijfsdocument"]
    # the stand-in keeps what it received with the BSN masked
    [record] = soap_sandbox.context("duo-rod").received.items
    assert "111222333" not in str(record)


def test_verzuim_melding_gets_a_number(context):
    t = target(context("duo-verzuim"), wsdl=VERZUIM_WSDL, operation="melden_verzuim", reference="nummerMelding")
    payload = {
        "kenmerkMeldingSchool": "A-1",
        "onderwijsontvanger": {"burgerservicenummer": "111222333"},
        "brin": "25LX",
        "verzuimsoort": "16U4W",
        "datumBeginVerzuim": "2026-10-01",
        "datumEindeVerzuim": "2026-10-20",
        "aantalUrenVerzuim": "17.5",
        "melder": {"naam": "Verzuimcoördinator"},
    }
    [outcome] = t.write([Item(key="v1", source_key="v1", payload=payload)])
    assert outcome.ok, outcome.error
    assert outcome.reference.startswith("VZ")


def test_messageid_form_bare_is_accepted(context, soap_sandbox):
    t = target(context("duo-rod", options={"messageid_form": "bare"}), wsdl=ROD_WSDL, operation="aanleveren_inschrijving")
    [outcome] = t.write([Item(key="e1", source_key="e1", payload=rod_inschrijving())])
    assert outcome.ok
    message_id = soap_sandbox.context("duo-rod").received.items[0]["message_id"]
    assert not message_id.startswith("urn:") and len(message_id) == 36


def test_unsigned_message_to_duo_is_a_configuration_error(context):
    # the DUO stand-in demands 2W-be-S; a Koppel set up for 2W-be sends no signature: EK0031
    t = target(context("duo-rod", profile="edukoppeling-2W-be"), wsdl=ROD_WSDL, operation="aanleveren_inschrijving")
    with pytest.raises(ConfigError) as caught:
        t.write([Item(key="e1", source_key="e1", payload=rod_inschrijving())])
    assert caught.value.code == "Client.EK0031"


def test_wrong_receiver_oin_is_a_configuration_error(context):
    t = target(context("duo-rio", oin="00000001999999999000"), wsdl=RIO_WSDL, operation="aanleveren_aangebodenOpleiding")
    with pytest.raises(ConfigError) as caught:
        t.write([Item(key="o1", source_key="o1", payload=rio_payload())])
    assert caught.value.code == "Client.EK0022"


def test_payload_that_does_not_fit_the_contract_fails_alone(context, soap_sandbox):
    t = target(context("duo-rio"), wsdl=RIO_WSDL, operation="aanleveren_aangebodenOpleiding")
    broken = rio_payload()
    del broken["aangebodenMboOpleiding"]["toegankelijkheid"]
    bad_pattern = rio_payload("c0ffee00-0000-4000-8000-000000000001")
    bad_pattern["aangebodenMboOpleiding"]["onderwijsaanbiedercode"] = "XYZ"  # zeep passes it; DUO's XSD does not
    outcomes = t.write([
        Item(key="a", source_key="a", payload=broken),
        Item(key="b", source_key="b", payload=bad_pattern),
        Item(key="c", source_key="c", payload=rio_payload("c0ffee00-0000-4000-8000-000000000002")),
    ])
    assert isinstance(outcomes[0].error, ContractError)
    assert isinstance(outcomes[1].error, ContractError) and outcomes[1].error.code == "Client.DK0004"
    assert outcomes[2].ok


def test_functional_rejection_by_rio_is_a_record_error(context, soap_sandbox):
    soap_sandbox.context("duo-rio").faults.add(_fault("reject", match="c0ffee00-0000-4000-8000-00000000000b"))
    t = target(context("duo-rio"), wsdl=RIO_WSDL, operation="aanleveren_aangebodenOpleiding")
    outcomes = t.write([
        Item(key="a", source_key="a", payload=rio_payload("c0ffee00-0000-4000-8000-00000000000a")),
        Item(key="b", source_key="b", payload=rio_payload("c0ffee00-0000-4000-8000-00000000000b")),
    ])
    assert outcomes[0].ok
    assert isinstance(outcomes[1].error, RecordError) and outcomes[1].error.code == "N09030"


@pytest.mark.parametrize(
    ("fault", "expected", "code"),
    [
        ({"mode": "fault"}, TransientError, "Server.DK0051"),
        ({"mode": "fault", "code": "Server.DK0050"}, RecordError, "Server.DK0050"),
        ({"mode": "fault", "code": "Client.DK0002"}, ConfigError, "Client.DK0002"),
        ({"mode": "reject", "code": "Client.DK0004"}, ContractError, "Client.DK0004"),
        ({"mode": "500"}, TransientError, "500"),
        ({"mode": "429", "retry_after": 7}, TransientError, "429"),
    ],
)
def test_faults_map_to_the_taxonomy(context, soap_sandbox, fault, expected, code):
    soap_sandbox.context("duo-rod").faults.add(_fault(**fault))
    t = target(context("duo-rod"), wsdl=ROD_WSDL, operation="aanleveren_inschrijving")
    item = Item(key="e1", source_key="e1", payload=rod_inschrijving())
    if issubclass(expected, ConfigError):  # stops the run; every other failure is the item's
        with pytest.raises(expected) as caught:
            t.write([item])
        error = caught.value
    else:
        [outcome] = t.write([item])
        error = outcome.error
    assert isinstance(error, expected) and error.code == code
    if code == "429":
        assert error.retry_after == 7
    # the next call goes through: the fault was used up
    assert t.write([item])[0].ok


def test_timeout_is_transient(context, soap_sandbox):
    soap_sandbox.context("kennisnet").faults.add(_fault("slow", delay=1.5))
    t = target(context("kennisnet", timeout=0.3), wsdl=ECK_WSDL, operation="retrieveStampseudonym")
    [outcome] = t.write([Item(key="s", source_key="s", payload={"hpgn": HPGN})])
    assert isinstance(outcome.error, TransientError) and outcome.error.code == "timeout"


def test_connection_refused_is_transient(context):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = target(context("kennisnet", url=f"http://127.0.0.1:{port}/eck"), wsdl=ECK_WSDL, operation="retrieveStampseudonym")
    [outcome] = t.write([Item(key="s", source_key="s", payload={"hpgn": HPGN})])
    assert isinstance(outcome.error, TransientError) and outcome.error.code == "connection"


def test_render_shows_the_envelope_without_bsn(context):
    t = target(context("duo-rod"), wsdl=ROD_WSDL, operation="aanleveren_inschrijving")
    text = t.render(Item(key="e1", source_key="e1", payload=rod_inschrijving()))
    assert "aanleveren_inschrijving_request" in text and "wsa:Action" in text
    assert "111222333" not in text
    assert "signature" in text.lower()


def _fault(mode: str, **kwargs):
    from sandbox.standin import Fault

    return Fault(mode=mode, **kwargs)


@pytest.mark.parametrize("system", ["duo-rod", "duo-verzuim"])
def test_functional_rejection_by_duo_is_a_record_error(context, soap_sandbox, system):
    soap_sandbox.context(system).faults.add(_fault("reject"))
    if system == "duo-rod":
        t, payload = target(context(system), wsdl=ROD_WSDL, operation="aanleveren_inschrijving"), rod_inschrijving()
    else:
        t = target(context(system), wsdl=VERZUIM_WSDL, operation="melden_verzuim")
        payload = {"kenmerkMeldingSchool": "A-2", "onderwijsontvanger": {"onderwijsnummer": "100000009"}, "brin": "25LX",
                   "verzuimsoort": "LUXE", "datumBeginVerzuim": "2026-10-01", "melder": {"naam": "M"}}
    [outcome] = t.write([Item(key="r", source_key="r", payload=payload)])
    assert isinstance(outcome.error, RecordError) and outcome.error.code == "ontvangstBevestiging=N"
    assert outcome.response["ontvangstBevestiging"] == "N"
    assert [r["kind"] for r in soap_sandbox.context(system).received.items] == ["rejected"]

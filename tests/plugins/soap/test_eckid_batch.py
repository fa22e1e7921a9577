"""ECK-iD through Kennisnet's batch operations and per-environment chain/sector, against the stand-in.

The stand-in follows the real WSDL (``specs/eckid-nummervoorziening/eckid.wsdl``): these tests need it.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from soap_helpers import ECK_WSDL, ROOT, requires_specs

from plugins.soap.spec import SoapTarget
from plugins.soap.target import SoapCallTarget
from runtime.errors import ConfigError, TransientError
from runtime.plugin import Item
from sandbox.runner import Sandbox
from sandbox.soap.eckid import TEST_CHAIN, TEST_SECTOR, eckid_for, stampseudonym_for

pytestmark = requires_specs

BATCH = {
    "stages": [
        {"submit": "submitStampseudonymBatch", "list": "hpgnList", "entry": "hPgn", "input": "hpgn", "output": "stampseudonym"},
        {"submit": "submitEckIdBatch", "list": "stampseudonymList", "entry": "stampseudonym", "input": "stampseudonym",
         "output": "eckId"},
    ],
    "retrieve": "retrieveBatch", "poll_interval": 0.05, "max_wait": 5,
}


def hpgn(n: int) -> str:
    return hashlib.sha256(f"student {n}".encode()).hexdigest()


def eckid_target(ctx, **spec) -> SoapCallTarget:
    base = {"type": "soap", "wsdl": ECK_WSDL, "operation": "retrieveEckId", "before": ["retrieveStampseudonym"],
            "system_fields": {"chainId": "chain_id", "sectorId": "sector_id"}, "reference": "eckId", "batch": BATCH}
    return SoapCallTarget(SoapTarget(**{**base, **spec}), ctx)


def items(hpgns: list[str]) -> list[Item]:
    return [Item(key=f"S{i}", source_key=f"S{i}", payload={"hpgn": h}) for i, h in enumerate(hpgns)]


def operations(soap_sandbox) -> list[str]:
    return [r["operation"] for r in soap_sandbox.context("kennisnet").received.items if r["kind"] == "accepted"]


def test_a_batch_goes_through_the_batch_operations_and_keeps_its_order(context, soap_sandbox):
    t = eckid_target(context("kennisnet"))
    hpgns = [hpgn(n) for n in range(7)]
    outcomes = t.write(items(hpgns))
    assert [o.reference for o in outcomes] == [eckid_for(stampseudonym_for(h), TEST_CHAIN, TEST_SECTOR) for h in hpgns]
    assert [o.response for o in outcomes] == [{"eckId": o.reference} for o in outcomes]
    ops = operations(soap_sandbox)
    # one submit per stage, retrieveBatch polled until the stand-in has processed each batch
    assert [op for op in ops if op.startswith("submit")] == ["submitStampseudonymBatch", "submitEckIdBatch"]
    assert ops.count("retrieveBatch") >= 2 and "retrieveEckId" not in ops and "retrieveStampseudonym" not in ops
    first_submit = next(r for r in soap_sandbox.context("kennisnet").received.items
                        if r.get("operation") == "submitStampseudonymBatch")
    assert [int(e["index"]) for e in first_submit["body"]["hpgnList"]] == list(range(7))
    t.close()


def test_one_refused_entry_is_that_records_error_only(context):
    t = eckid_target(context("kennisnet"))
    # the contract (xsd:string) lets a malformed hPGN through; the service refuses it in failed[]
    hpgns = [hpgn(1), "not-a-hash", hpgn(3)]
    first, bad, third = t.write(items(hpgns))
    assert first.ok and third.ok
    assert third.reference == eckid_for(stampseudonym_for(hpgn(3)), TEST_CHAIN, TEST_SECTOR)
    assert not bad.ok and bad.error.code == "batch-failed"
    assert "submitStampseudonymBatch" in str(bad.error) and "64-character" in str(bad.error)
    t.close()


def test_a_batch_not_ready_in_time_is_transient(context):
    t = eckid_target(context("kennisnet", options={"batch_delay": 30}), batch={**BATCH, "max_wait": 0.2})
    with pytest.raises(TransientError, match=r"not ready after 0\.2s"):
        t.write(items([hpgn(1), hpgn(2)]))
    t.close()


def test_chain_and_sector_come_from_the_environment(context, soap_sandbox):
    # the same spec, another chain: the stand-in refuses a chain Kennisnet's test service does not know
    t = eckid_target(context("kennisnet", options={"chain_id": "invalidchainguid"}))
    outcomes = t.write(items([hpgn(1), hpgn(2)]))
    assert [o.ok for o in outcomes] == [False, False]
    assert all("unknown chainId" in str(o.error) for o in outcomes)
    t.close()


def test_an_environment_without_the_option_stops_the_run(context):
    ctx = context("kennisnet")
    ctx.system = ctx.system.model_copy(update={"options": {}})
    t = eckid_target(ctx)
    with pytest.raises(ConfigError, match=r"options\.chain_id for environment 'sandbox'"):
        t.write(items([hpgn(1), hpgn(2)]))
    t.close()


def test_a_single_record_takes_the_single_calls(context, soap_sandbox):
    t = eckid_target(context("kennisnet"))
    [outcome] = t.write(items([hpgn(5)]))
    assert outcome.reference == eckid_for(stampseudonym_for(hpgn(5)), TEST_CHAIN, TEST_SECTOR)
    assert operations(soap_sandbox) == ["retrieveStampseudonym", "retrieveEckId"]
    t.close()


def test_replace_keeps_the_eckid_of_the_onderwijsnummer(context):
    """replaceStampseudonym(old onderwijsnummer hPGN → new BSN hPGN): the student keeps the ECK-iD."""
    ctx = context("kennisnet")
    before = eckid_target(ctx)
    [first] = before.write(items([hpgn(100)]))
    replace = eckid_target(ctx, before=["replaceStampseudonym"], batch=None)
    [again] = replace.write([Item(key="S", source_key="S", payload={"hpgnOld": hpgn(100), "hpgnNew": hpgn(200)})])
    assert again.ok and again.reference == first.reference
    [unknown] = replace.write([Item(key="S", source_key="S", payload={"hpgnOld": hpgn(999), "hpgnNew": hpgn(201)})])
    assert not unknown.ok and "hpgnOld is unknown" in str(unknown.error)
    before.close()
    replace.close()


@pytest.fixture(scope="module")
def quick_kennisnet():
    """A Kennisnet stand-in of its own that has a batch ready after 0.05 s, not the shared one's
    0.3 s per stage: the property below still polls retrieveBatch through both stages of every
    example (every 0.05 s), at a sixth of the waiting."""
    box = Sandbox(ROOT, names=["kennisnet"], free_ports=True, include_services=False,
                  options={"kennisnet": {"batch_delay": 0.05}})
    with box.start():
        yield box.url("kennisnet")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.integers(0, 50).map(hpgn), st.sampled_from(["", "XYZ", "a" * 63])), min_size=2, max_size=12))
def test_any_mix_of_good_and_bad_entries_answers_each_in_place(context, quick_kennisnet, hpgns):
    t = eckid_target(context("kennisnet", url=quick_kennisnet))
    outcomes = t.write(items(hpgns))
    assert len(outcomes) == len(hpgns)
    for h, outcome in zip(hpgns, outcomes):
        if len(h) == 64:
            assert outcome.reference == eckid_for(stampseudonym_for(h), TEST_CHAIN, TEST_SECTOR)
        else:
            assert not outcome.ok
    t.close()

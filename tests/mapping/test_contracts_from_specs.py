"""Contracts that point into the real public specs: the ECK-iD WSDL and OOAPI v5."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import paths
from runtime.errors import ContractError
from runtime.mapping import compile_mapping, load_mapping

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.specs

needs_specs = pytest.mark.skipif(
    not (paths.specs_dir(ROOT) / "eckid-nummervoorziening" / "eckid.wsdl").is_file(),
    reason="the public specs (../shared/specs or KOPPEL_SPECS_DIR) are not on this machine",
)
ECKID = "{http://ketenid.nl/eck/schemas/v1_0}"


@needs_specs
def test_xsd_element_behind_the_eckid_wsdl():
    m = compile_mapping({
        "name": "x", "output": {"hpgnList": {"each": "items", "output": {"index": "i", "hPgn": "h"}}},
        "contract": {"xsd": {"file": "${specs}/eckid-nummervoorziening/eckid.wsdl", "element": f"{ECKID}submitStampseudonymBatchRequest"}},
    }, ROOT)
    m.validate(m({"items": [{"i": 0, "h": "ab"}, {"i": 1, "h": "cd"}]}))
    with pytest.raises(ContractError) as info:
        m.validate(m({"items": [{"i": 0, "h": "ab"}, {"i": "nr 123456782", "h": "cd"}]}))
    assert info.value.path == "hpgnList[1].index"
    assert "123456782" not in str(info.value)


@needs_specs
def test_eckid_mapping_rejects_a_record_without_hpgn():
    m = load_mapping(ROOT, "eckid-aanvraag")
    assert m.has_contract
    with pytest.raises(ContractError):
        m.validate({})


@needs_specs
def test_openapi_schema_of_ooapi_v5():
    m = load_mapping(ROOT, "opleiding-ooapi")
    record = {"code": "SD4", "crebo": "25604", "name": "Software Developer", "level": 4, "cohorts": []}
    m.validate(m(record))
    broken = m(record)
    broken["teachingLanguage"] = "nl"
    with pytest.raises(ContractError) as info:
        m.validate(broken)
    assert info.value.path == "teachingLanguage"


def test_an_absent_specs_folder_skips_the_check_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("KOPPEL_SPECS_DIR", str(tmp_path / "nowhere"))
    m = compile_mapping({
        "name": "x", "output": {"a": "a"},
        "contract": {"openapi": {"file": "${specs}/ooapi/v5/ooapi.yaml", "schema": "Program"}},
    }, ROOT)
    assert not m.has_contract
    assert "not checked" in m.contract_warning and "KOPPEL_SPECS_DIR" in m.contract_warning
    m.validate({"a": 1})  # skipped, not failed


@needs_specs
def test_a_missing_xml_element_is_reported_at_its_own_path():
    m = compile_mapping({
        "name": "x", "output": {"stampseudonym": "s", "chainId": "c"},
        "contract": {"xsd": {"file": "${specs}/eckid-nummervoorziening/eckid.wsdl", "element": f"{ECKID}retrieveEckIdRequest"}},
    }, ROOT)
    with pytest.raises(ContractError) as info:
        m.validate(m({"s": "x", "c": "y"}))
    assert info.value.path == "sectorId" and info.value.message == "required field is missing"

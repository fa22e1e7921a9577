"""Masking follows the field as well as the digits (issue 14): a field that holds a personal number
is masked whatever it holds, and a code field's nine digits are not taken for a BSN."""

from __future__ import annotations

import pytest

from runtime import redact

SBB_CODE = "100000009"  # nine digits that pass the elfproef: a BSN by pattern, an SBB code by field
assert redact.elfproef(SBB_CODE)


def test_a_code_field_is_not_masked_as_a_bsn_but_free_text_still_is() -> None:
    record = {"sbb_code": SBB_CODE, "leerbedrijf": {"sbbCode": int(SBB_CODE), "naam": f"code {SBB_CODE}"}}
    shown = redact.data(record)
    assert shown["sbb_code"] == SBB_CODE and shown["leerbedrijf"]["sbbCode"] == int(SBB_CODE)
    assert shown["leerbedrijf"]["naam"] == "code *****0009"  # in text the digits alone decide


@pytest.mark.parametrize("field", ["bsn", "BSN", "burgerservicenummer", "onderwijsnummer", "Onderwijs_nummer"])
@pytest.mark.parametrize("value", ["123456783", 123456783, "12345", "BSN-onbekend"])
def test_a_personal_number_field_is_masked_whatever_it_holds(field: str, value: object) -> None:
    shown = redact.data({"persoon": {field: value}})["persoon"][field]
    assert str(value) not in str(shown)
    assert str(shown).startswith(redact.MASK)


def test_a_secret_in_a_code_field_is_still_masked(monkeypatch) -> None:
    monkeypatch.setattr(redact, "_secrets", set())
    monkeypatch.setattr(redact, "_secret_pattern", None)
    redact.register_secret("geheim-1234")
    assert redact.data({"brin": "xgeheim-1234"}) == {"brin": "x*****"}


def test_declared_personal_fields_are_masked_by_field(monkeypatch) -> None:
    monkeypatch.setattr(redact, "PERSONAL_FIELDS", set(redact.PERSONAL_FIELDS))
    monkeypatch.setattr(redact, "CODE_FIELDS", set(redact.CODE_FIELDS))
    assert redact.data({"huisarts_nummer": "A-77"}) == {"huisarts_nummer": "A-77"}
    redact.register_fields(personal=["huisarts_nummer"])
    assert redact.data({"huisarts_nummer": "A-77"}) == {"huisarts_nummer": redact.MASK}

"""Tests that an independent, hand-written mutation audit (issue 19) found missing.

Each test stands for a bug a developer could plausibly write and that the module's own tests did
not notice: a statement dropped, a wrong variable, a loop that stops early. Grouped by module.
"""

from __future__ import annotations

from runtime import redact


# -- runtime/redact.py --------------------------------------------------------------------------


def test_nine_digits_that_are_no_bsn_are_left_exactly_as_written() -> None:
    # a phone number or order number written with spaces or points stays as the user wrote it
    for written in ("tel 123 456 789", "order 1234.56.789", "987654321"):
        assert redact.text(written) == written


def test_a_list_of_personal_numbers_is_masked_item_by_item() -> None:
    # onderwijsnummers fail the elfproef on purpose: only the field says they are personal
    shown = redact.data({"onderwijsnummer": ["123456789", 987654321]})["onderwijsnummer"]
    assert "123456789" not in str(shown) and "987654321" not in str(shown)
    assert all(str(v).startswith(redact.MASK) for v in shown)


def test_a_list_of_codes_under_a_code_field_is_not_taken_for_bsns() -> None:
    assert redact.elfproef("111222333")
    assert redact.data({"sbb_code": ["111222333", 111222333]}) == {"sbb_code": ["111222333", 111222333]}

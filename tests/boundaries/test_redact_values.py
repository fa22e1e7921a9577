"""runtime/redact.py at its edges: which values are masked, exactly how, and which are left alone.

Every BSN here is generated (hypothesis) or varied, not one fixed string; the secrets are 4 to 7
characters long and overlap, because those are the cases a single 19-character test secret and
one BSN string never reached.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import redact

WEIGHTS = range(9, 1, -1)


@pytest.fixture(autouse=True)
def _forget_secrets_afterwards():
    """The registry is process-wide: a random secret (``0000``) must not mask other tests' text."""
    saved = (set(redact._secrets), redact._secret_pattern)
    yield
    with redact._lock:
        redact._secrets.clear()
        redact._secrets.update(saved[0])
        redact._secret_pattern = saved[1]


def make_bsn(first8: str) -> str | None:
    """The nine-digit BSN that completes ``first8``, or None when no check digit fits."""
    total = sum(w * int(d) for w, d in zip(WEIGHTS, first8))
    check = total % 11
    return first8 + str(check) if check < 10 and int(first8 + str(check)) else None


bsns = st.text("0123456789", min_size=8, max_size=8).map(make_bsn).filter(bool)


def unique(length: int) -> str:
    """A fresh secret of ``length`` characters (the registry is process-wide, so never reuse one)."""
    return ("S" + uuid.uuid4().hex)[:length]


# -- the elfproef -------------------------------------------------------------------------------


@pytest.mark.parametrize("number, valid", [
    ("111222333", True), ("123456782", True), ("012345672", True), ("999999990", True),
    ("123456781", False), ("123456783", False), ("000000000", False), ("12345678", False),
    ("1234567820", False), ("12345678a", False), ("", False), ("１２３４５６７８２", False),
])
def test_elfproef_on_known_numbers(number, valid):
    assert redact.elfproef(number) is valid


@given(bsns)
def test_every_valid_bsn_passes_and_every_other_last_digit_fails(bsn):
    assert redact.elfproef(bsn)
    for other in "0123456789":
        if other != bsn[-1]:
            assert not redact.elfproef(bsn[:-1] + other), bsn[:-1] + other


def test_mask_keeps_the_last_four_digits_behind_five_stars():
    assert redact.MASK == "*****"
    assert redact.mask_bsn("123456782") == "*****6782"


# -- BSNs in text -------------------------------------------------------------------------------


@given(bsns, st.sampled_from(["", "bsn ", "nr.", "(", "NL", "a-", "\n"]), st.sampled_from(["", " ", ".", ")", "B01", ".0", "\n"]))
def test_a_bsn_in_text_is_masked_wherever_it_stands(bsn, before, after):
    assert redact.text(f"{before}{bsn}{after}") == f"{before}*****{bsn[-4:]}{after}"


@given(bsns)
def test_a_bsn_written_with_points_or_spaces_is_masked_too(bsn):
    dotted = f"{bsn[:4]}.{bsn[4:6]}.{bsn[6:]}"
    spaced = f"{bsn[:3]} {bsn[3:6]} {bsn[6:]}"
    assert redact.text(f"a {dotted} b {spaced} c") == f"a *****{bsn[-4:]} b *****{bsn[-4:]} c"


@given(bsns)
def test_nine_digits_inside_a_longer_number_are_not_a_bsn(bsn):
    for longer in (f"1{bsn}", f"{bsn}1", f"1.{bsn}", f"{bsn}{bsn}"):
        assert redact.text(longer) == longer


def test_nine_digits_that_fail_the_elfproef_are_left_alone():
    assert redact.text("order 123456781, 2026.12.01, 12:00:00") == "order 123456781, 2026.12.01, 12:00:00"


def test_every_bsn_of_a_line_is_masked():
    assert redact.text("111222333,123456782;012345672") == "*****2333,*****6782;*****5672"


# -- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [4, 5, 6, 7])
def test_a_short_secret_is_masked(length):
    secret = unique(length)
    redact.register_secret(secret)
    assert redact.text(f"token={secret}; again {secret}") == "token=*****; again *****"


@pytest.mark.parametrize("value", ["", "a", "ab", "abc"])
def test_a_value_shorter_than_four_is_not_registered(value):
    redact.register_secret(value)
    assert redact.text("a abc ab") == "a abc ab"


def test_overlapping_secrets_leave_no_part_of_either():
    left, right = unique(8), None
    right = left[4:] + "wxyz"  # shares its first four characters with the end of ``left``
    redact.register_secret(left)
    redact.register_secret(right)
    joined = left[:4] + right  # contains both: left then the rest of right
    assert redact.text(f"<{joined}>") == "<*****>"
    assert redact.text(f"<{right}> <{left}>") == "<*****> <*****>"


def test_a_secret_inside_a_longer_secret_masks_the_longer_one_whole():
    outer = unique(12)
    inner = outer[3:8]
    redact.register_secret(inner)
    redact.register_secret(outer)
    assert redact.text(f"[{outer}] [{inner}]") == "[*****] [*****]"


def test_a_secret_that_begins_another_does_not_unmask_the_rest_of_the_longer_one():
    longer = unique(11)
    shorter = longer[:5]
    redact.register_secret(shorter)
    redact.register_secret(longer)
    assert redact.text(f"({longer}) ({shorter})") == "(*****) (*****)"


def test_registering_twice_changes_nothing():
    secret = unique(6)
    redact.register_secret(secret)
    redact.register_secret(secret)
    assert redact.text(secret + secret) == "*****"  # adjacent occurrences merge into one mask


def test_a_secret_with_regex_characters_is_matched_literally():
    secret = "a.b*" + unique(4)
    redact.register_secret(secret)
    assert redact.text(f"x {secret} aXb* {secret[:-1]}") == f"x ***** aXb* {secret[:-1]}"


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=4, max_size=7, alphabet=st.characters(codec="utf-8", exclude_characters="*")),
       st.text(max_size=20), st.text(max_size=20))
def test_a_registered_secret_never_survives_in_any_surrounding(secret, before, after):
    redact.register_secret(secret)
    assert secret not in redact.text(before + secret + after)


# -- nested values ------------------------------------------------------------------------------


def test_data_masks_integers_tuples_sets_bytes_keys_and_nested_values():
    secret = unique(5)
    redact.register_secret(secret)
    value = {
        "bsn": 123456782,                   # an integer BSN
        "oud": 12345672,                    # ... that lost its leading zero (012345672)
        "pair": ("111222333", 123456782),   # a tuple
        "set": {"111222333"},
        "raw": b"<bsn>123456782</bsn>",
        "111222333": "keyed by a BSN",
        "deep": [{"x": [{"token": f"Bearer {secret}"}]}],
        "count": 123456781, "small": 42, "flag": True, "none": None, "float": 1.5,
    }
    assert redact.data(value) == {
        "bsn": "*****6782",
        "oud": "*****5672",
        "pair": ["*****2333", "*****6782"],
        "set": ["*****2333"],
        "raw": "<bsn>*****6782</bsn>",
        "*****2333": "keyed by a BSN",
        "deep": [{"x": [{"token": "Bearer *****"}]}],
        "count": 123456781, "small": 42, "flag": True, "none": None, "float": 1.5,
    }
    assert value["bsn"] == 123456782 and value["pair"] == ("111222333", 123456782)  # not changed in place


@given(bsns.filter(lambda b: int(b) >= 10_000_000))  # 8 or 9 digits as a number; see redact's docstring
def test_an_integer_bsn_is_masked_and_its_neighbours_are_not(bsn):
    number = int(bsn)
    assert redact.data(number) == f"*****{bsn[-4:]}"
    neighbour = int(bsn[:-1] + str((int(bsn[-1]) + 1) % 10))  # another check digit fails the elfproef
    assert redact.data([neighbour]) == [neighbour]


def test_bytes_that_are_not_utf8_are_shown_with_replacement_characters_not_an_error():
    assert redact.data(b"\xff 111222333 \xfe") == "\ufffd *****2333 \ufffd"
    assert redact.data(bytearray(b"123456782")) == "*****6782"


def test_a_ten_digit_integer_is_not_a_bsn():
    assert redact.data(1_234_567_820) == 1_234_567_820


def test_true_is_not_the_number_one_and_small_numbers_stay_numbers():
    assert redact.data([True, False, 0, 1, 9_999_999]) == [True, False, 0, 1, 9_999_999]


def test_a_bsn_in_fullwidth_digits_is_masked_in_text_though_it_is_not_a_valid_bsn_value():
    fullwidth = "".join(chr(0xFF10 + int(c)) for c in "123456782")
    assert not redact.elfproef(fullwidth)
    assert redact.text(f"bsn {fullwidth}") == "bsn *****6782"


# -- masking by field: the edges a mutation run found untested ------------------------------------


@pytest.fixture
def registered_fields():
    """register_fields changes process-wide sets: each test gets them back as they were."""
    personal, codes = set(redact.PERSONAL_FIELDS), set(redact.CODE_FIELDS)
    yield
    redact.PERSONAL_FIELDS.clear()
    redact.PERSONAL_FIELDS.update(personal)
    redact.CODE_FIELDS.clear()
    redact.CODE_FIELDS.update(codes)


def test_an_empty_or_boolean_personal_field_stays_what_it_is():
    # nothing to hide in "no BSN known": a null stays null (not "*****", which reads as "there is one")
    assert redact.data({"bsn": None, "onderwijsnummer": True, "pgn": False}) == {
        "bsn": None, "onderwijsnummer": True, "pgn": False}


def test_a_personal_field_keeps_its_last_four_digits_from_four_digits_on():
    assert redact.data({"bsn": "1234"}) == {"bsn": "*****1234"}
    assert redact.data({"bsn": "123"}) == {"bsn": "*****"}  # fewer than four: nothing of it shown
    assert redact.data({"bsn": "12ab"}) == {"bsn": "*****"}
    assert redact.data({"bsn": 1234567}) == {"bsn": "*****4567"}


def test_an_object_under_a_personal_field_is_masked_inside_not_dropped():
    masked = redact.data({"bsn": {"nummer": "123456782", "bron": "DUO"}})
    assert masked == {"bsn": {"nummer": "*****6782", "bron": "DUO"}}


def test_a_list_of_codes_keeps_its_codes_though_they_pass_the_elfproef():
    assert redact.elfproef("123456782")
    assert redact.data({"sbb_code": ["123456782", "100000041"]}) == {"sbb_code": ["123456782", "100000041"]}
    assert redact.data({"notes": ["123456782"]}) == {"notes": ["*****6782"]}  # no code field: by pattern


def test_field_names_are_compared_without_case_underscores_or_dashes():
    masked = redact.data({"Leerbedrijf-Id": "123456782", "Onderwijs-Nummer": "1234567", "BSN": "7"})
    assert masked == {"Leerbedrijf-Id": "123456782", "Onderwijs-Nummer": "*****4567", "BSN": "*****"}


def test_registered_personal_and_code_fields_are_masked_by_their_own_names(registered_fields):
    redact.register_fields(personal=["leerling_id"], codes=["klant-nr"])
    assert redact.data({"LeerlingId": "A12345", "klant_nr": "123456782"}) == {
        "LeerlingId": "*****2345", "klant_nr": "123456782"}
    assert "none" not in redact.PERSONAL_FIELDS and "none" not in redact.CODE_FIELDS
    # a code field later declared personal is masked from then on, and a code that is personal
    # already is never made a code
    redact.register_fields(personal=["klant_nr"], codes=["bsn"])
    assert redact.data({"klant_nr": "123456782", "bsn": "123456782"}) == {
        "klant_nr": "*****6782", "bsn": "*****6782"}


def test_a_personal_field_shows_its_last_four_only_when_they_are_digits():
    assert redact.data({"bsn": "1234ab5678"}) == {"bsn": "*****5678"}
    assert redact.data({"bsn": "ab1234"}) == {"bsn": "*****1234"}
    assert redact.data({"bsn": "12345ab"}) == {"bsn": "*****"}


def test_every_number_of_a_list_under_a_personal_field_is_masked():
    # onderwijsnummers fail the elfproef on purpose: only the field says they are personal
    assert redact.data({"onderwijsnummer": ["1234567", "7654321", None]}) == {
        "onderwijsnummer": ["*****4567", "*****4321", None]}


def test_a_code_is_never_registered_over_a_personal_field(registered_fields):
    redact.register_fields(codes=["bsn", "Onderwijs_Nummer"])
    assert "bsn" not in redact.CODE_FIELDS and "onderwijsnummer" not in redact.CODE_FIELDS

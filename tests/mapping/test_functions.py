"""The expression function library: what integration specialists rely on, function by function."""

from __future__ import annotations

import uuid

import pytest

from runtime.errors import ConfigError

from runtime.mapping.functions import FUNCTIONS, FunctionError, all_functions
from runtime.mapping.functions import dates, ids, text, values


@pytest.mark.parametrize(
    ("pgn", "expected"),
    [
        ("063138219", "9735dfd2235eaeb5f0300886bcc99c82ffc1d6420c4e0bde8de7218def2135fa"),
        ("20DP teacher@school.com", "0b870ff044775ef0360655c40d5b284b7e3ae2b72207a6894794d787eb019e60"),
    ],
)
def test_eckid_hpgn_reproduces_kennisnets_test_vectors(pgn, expected, monkeypatch):
    monkeypatch.delenv(ids.ECKID_SALT_ENV, raising=False)
    monkeypatch.setenv("KOPPEL_ENV", "sandbox")
    assert ids.eckid_hpgn(pgn) == expected
    assert ids.eckid_hpgn(pgn, ids.ECKID_REFERENCE_SALT) == expected


def test_eckid_hpgn_refuses_to_guess_the_salt_outside_the_sandbox(monkeypatch):
    monkeypatch.delenv(ids.ECKID_SALT_ENV, raising=False)
    monkeypatch.setenv("KOPPEL_ENV", "productie")
    with pytest.raises(ConfigError, match="KOPPEL_ECKID_SALT"):
        ids.eckid_hpgn("063138219")
    # in a mapping too: the run stops, the students do not all become dead letters
    from runtime.mapping import compile_mapping

    with pytest.raises(ConfigError):
        compile_mapping({"name": "e", "output": {"h": "eckid_hpgn(bsn)"}}, None)({"bsn": "063138219"})
    assert ids.eckid_hpgn(None) is None


def test_dates_read_odata_dutch_compact_and_iso_in_amsterdam_time():
    # 1641034800000 ms = 2022-01-01T11:00:00Z = 12:00 in Amsterdam (winter, +01:00)
    assert dates.to_datetime("/Date(1641034800000)/") == "2022-01-01T12:00:00+01:00"
    assert dates.to_datetime("/Date(1641034800000+0100)/") == "2022-01-01T12:00:00+01:00"
    assert dates.to_utc("2026-08-01T09:30:00") == "2026-08-01T07:30:00Z"  # summer, +02:00
    assert dates.to_datetime("2026-08-01T07:30:00Z", "UTC") == "2026-08-01T07:30:00+00:00"
    assert dates.to_date("01-08-2026") == "2026-08-01"
    assert dates.to_date("20260801") == "2026-08-01"
    assert dates.to_date("2026-08-01T23:30:00Z") == "2026-08-02"  # the Amsterdam date
    assert dates.to_date("/Date(1780264800000)/") == "2026-06-01"  # midnight Amsterdam
    assert dates.to_date("01/08/2026", "%d/%m/%Y") == "2026-08-01"
    assert dates.format_date("2026-08-01", "%d-%m-%Y") == "01-08-2026"
    assert dates.to_odata_date("2022-01-01T12:00:00+01:00") == "/Date(1641034800000)/"
    assert dates.add_days("2026-02-27", 2) == "2026-03-01"
    assert dates.age("2008-08-02", "2026-08-01") == 17
    assert dates.age("2008-08-01", "2026-08-01") == 18
    assert dates.to_date(None) is None


def test_a_bad_date_is_an_error_that_does_not_quote_the_value():
    with pytest.raises(FunctionError) as info:
        dates.to_date("123456782")
    assert "123456782" not in str(info.value)
    with pytest.raises(FunctionError, match="time zone"):
        dates.to_datetime("2026-01-01T00:00:00", "Mars/Olympus")


def test_string_functions():
    assert text.concat("a", None, 1, "-", 2.0) == "a1-2"
    assert text.concat_ws(" ", "Jan", None, "", "Berg") == "Jan Berg"
    assert text.trim("  Jan   Peter ") == "Jan Peter"
    assert text.upper("jan") == "JAN" and text.lower("JAN") == "jan"
    assert text.capitalize("jan-peter o'neill") == "Jan-Peter O'Neill"
    assert text.pad_left(4, 3) == "004" and text.pad_left("7", 3, " ") == "  7"
    assert text.pad_right("ab", 4) == "ab  "
    assert text.substring("Software Developer", 0, 8) == "Software"
    assert text.split("a; b ;c", ";") == ["a", "b", "c"]
    assert text.replace("25-604", "-", "") == "25604"
    assert text.initials("Jan Peter") == "J.P."
    assert text.full_name("Jan", None, "Berg") == "Jan Berg"
    assert text.sort_name("van der", "Berg") == "Berg, van der"
    with pytest.raises(FunctionError):
        text.upper({"a": 1})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Jan Peter van den Heuvel", ("Jan Peter", "van den", "Heuvel")),
        ("Anna de Vries", ("Anna", "de", "Vries")),
        ("Piet Jansen", ("Piet", None, "Jansen")),
        ("Kees van 't Hek", ("Kees", "van 't", "Hek")),
        ("Heuvel, Jan van den", ("Jan", "van den", "Heuvel")),
        ("Jansen", (None, None, "Jansen")),
        ("Anna Van Dijk", ("Anna", "van", "Dijk")),  # the tussenvoegsel is written in lower case
    ],
)
def test_split_name_finds_the_tussenvoegsel(name, expected):
    got = text.split_name(name)
    assert (got["voornamen"], got["tussenvoegsel"], got["achternaam"]) == expected


def test_split_surname():
    assert text.split_surname("van der Berg") == {"tussenvoegsel": "van der", "achternaam": "Berg"}
    assert text.split_surname("Berg") == {"tussenvoegsel": None, "achternaam": "Berg"}


def test_uuid5_is_stable_and_namespaced():
    a = ids.uuid5("koppel", "program", "25604", "SD4")
    assert a == ids.uuid5("koppel", "program", 25604, "SD4")  # numbers read as their text
    assert a != ids.uuid5("url", "program", "25604", "SD4")
    assert uuid.UUID(a).version == 5
    assert ids.uuid5(str(uuid.NAMESPACE_DNS), "kw1c.nl") == str(uuid.uuid5(uuid.NAMESPACE_DNS, "kw1c.nl"))
    assert ids.uuid5("koppel", None) is None
    with pytest.raises(FunctionError):
        ids.uuid5("no-namespace", "x")


def test_hashes_bsn_checks_and_masking():
    assert ids.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert ids.hash_("abc", "sha1") == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert ids.elfproef("123456782") is True
    assert ids.elfproef("123456789") is False
    assert ids.elfproef(63138219) is True  # the leading zero restored
    assert ids.elfproef(None) is False
    assert ids.is_onderwijsnummer("100000004") is True
    assert ids.is_onderwijsnummer("123456782") is False
    assert ids.mask("123456782") == "*****6782"
    assert ids.mask("geheim", 0) == "*****"
    assert ids.mask_bsn("bsn 123456782 en 123456789") == "bsn *****6782 en 123456789"


def test_value_functions():
    assert values.coalesce(None, "", "x") == ""
    assert values.iif(0, "a", "b") == "a"  # JMESPath truth: 0 is true
    assert values.iif([], "a", "b") == "b"
    assert values.to_int("0042") == 42 and values.to_int("") is None
    assert values.to_bool("J") is True and values.to_bool("nee") is False
    assert values.round_to(2.675, 2) == 2.68 and values.round_to(2.5) == 3
    with pytest.raises(FunctionError):
        values.to_int("12a")


def test_every_function_is_documented_with_its_category():
    registry = all_functions()
    assert {"to_date", "eckid_hpgn", "lookup", "split_name", "elfproef", "mask", "uuid5"} <= set(registry)
    for name, spec in FUNCTIONS.items():
        assert spec.doc, f"{name} has no documentation"
        assert spec.category in {"dates", "strings", "ids", "values"}


def test_the_reference_for_integration_specialists_lists_every_function():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "mappings" / "README.md").read_text(encoding="utf-8")
    missing = [spec.usage for spec in all_functions().values() if f"`{spec.usage}`" not in readme]
    assert not missing, f"mappings/README.md does not document {missing}"


def test_text_is_a_null_safe_to_string() -> None:
    """to_string(null) is the string "null" in JMESPath; text(null) stays null (issue 14)."""
    from runtime.mapping import compile_mapping

    mapping = compile_mapping({"name": "t", "output": {"a": "text(n)", "b": "text(missing)", "c": "to_string(missing)",
                                                       "d": "text(flag)", "e": "text(f)"}}, None)
    assert mapping({"n": 12, "flag": True, "f": 2.0}) == {"a": "12", "b": None, "c": "null", "d": "true", "e": "2"}

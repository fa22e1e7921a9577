"""``koppel sbb zoek|details``: SBB White Label's identificatie and detailgegevens on demand, through
the real CLI against the SBB stand-in, with the catalog's licence, masked output and nothing kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from soap_helpers import ROOT

from runtime.cli import main
from runtime.redact import elfproef
from sandbox.soap.sbb import register

LICENCE = (ROOT / "sandbox" / "secrets" / "sbb-licentie").read_text().strip()


@pytest.fixture()
def project(tmp_path, soap_sandbox, context) -> Path:
    """A project folder whose catalog points SBB's sandbox settings at the running stand-in."""
    context("sbb")  # clears what the stand-in received
    catalog = (ROOT / "catalog.yaml").read_text(encoding="utf-8")
    assert "http://127.0.0.1:8508" in catalog
    (tmp_path / "catalog.yaml").write_text(catalog.replace("http://127.0.0.1:8508", soap_sandbox.url("sbb").rstrip("/")),
                                           encoding="utf-8")
    shutil.copytree(ROOT / "contracts" / "sbb", tmp_path / "contracts" / "sbb")
    (tmp_path / "sandbox" / "secrets").mkdir(parents=True)
    shutil.copy(ROOT / "sandbox" / "secrets" / "sbb-licentie", tmp_path / "sandbox" / "secrets" / "sbb-licentie")
    return tmp_path


def koppel(project: Path, *args: str):
    return CliRunner().invoke(main, ["--project", str(project), *args], catch_exceptions=False)


def calls(soap_sandbox, kind: str = "accepted") -> list[dict]:
    return [i for i in soap_sandbox.context("sbb").received.items if i["kind"] == kind]


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_zoek_finds_the_leerbedrijf_by_name_and_postcode_with_the_licence_and_stores_nothing(project, soap_sandbox):
    company = register()[0]
    postcode = company["Vestigingsadres"]["Postcode"].replace(" ", "")
    before = files_in(project)
    result = koppel(project, "sbb", "zoek", "--naam", company["Naam"][:6].upper(),
                    "--postcode", f"{postcode[:4]} {postcode[4:].lower()}", "--format", "json")
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert company["CodeLeerbedrijf"] in [h["CodeLeerbedrijf"] for h in hits]
    for hit in hits:  # every one answers the question asked: that postcode, that part of the name
        assert hit["Vestigingsadres"]["Postcode"].replace(" ", "") == postcode
        assert company["Naam"][:6].lower() in hit["LeerbedrijfNaam"].lower()
    [call] = calls(soap_sandbox)
    assert call["operation"] == "Identificatie"
    assert call["body"]["request"] == {"Licentie": "*****", "LeerbedrijfNaam": company["Naam"][:6].upper(),
                                       "Postcode": postcode}
    assert LICENCE not in result.output
    assert files_in(project) == before  # no state store, no SIS, no cache file


def test_zoek_with_a_house_number_narrows_to_that_establishment(project, soap_sandbox):
    company = register()[0]
    address = company["Vestigingsadres"]
    result = koppel(project, "sbb", "zoek", "--naam", company["Naam"], "--postcode", address["Postcode"],
                    "--huisnummer", address["Huisnummer"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(f"{company['CodeLeerbedrijf']}  {company['Naam']}  ") for line in lines)
    assert f"{address['Straat']} {address['Huisnummer']}" in lines[0]
    assert "not stored" in result.stderr
    assert calls(soap_sandbox)[0]["body"]["request"]["Huisnummer"] == address["Huisnummer"]


def test_details_shows_sbbs_detailgegevens_and_every_erkenning(project, soap_sandbox):
    company = register()[0]
    result = koppel(project, "sbb", "details", company["CodeLeerbedrijf"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"CodeLeerbedrijf:      {company['CodeLeerbedrijf']}" in out
    assert f"Naam:                 {company['Naam']}" in out
    assert f"KvkNummer:            {company['KvkNummer']}" in out
    assert f"Erkenningen ({len(company['Erkenningen'])}):" in out
    contact = company["Contactpersoon"]  # shown as SBB gives it, in that order, and nowhere kept
    assert f"Contactpersoon:       {contact['Naam']}, {contact['Email']}, {contact['Telefoonnummer']}" in out
    listed = [line.split()[:2] for line in out.splitlines() if line.startswith("  ")]
    assert listed == [[e["Crebonummer"], e["Leerweg"]] for e in company["Erkenningen"]]
    [call] = calls(soap_sandbox)
    assert call["operation"] == "GeefDetails" and call["body"]["request"]["Licentie"] == "*****"


def test_details_as_json_keeps_the_answers_shape(project):
    company = register()[0]
    before = files_in(project)
    result = koppel(project, "sbb", "details", company["CodeLeerbedrijf"], "--format", "json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["CodeLeerbedrijf"] == company["CodeLeerbedrijf"] and answer["KvkNummer"] == company["KvkNummer"]
    assert [e["Crebonummer"] for e in answer["Erkenningen"]["Erkenning"]] == [e["Crebonummer"] for e in company["Erkenningen"]]
    assert "Signaalcode" not in answer
    assert answer["Contactpersoon"] == company["Contactpersoon"]
    assert files_in(project) == before


def test_an_sbb_code_that_passes_the_elfproef_is_shown_as_the_code_it_is(project):
    company = next((c for c in register() if elfproef(c["CodeLeerbedrijf"])), None)
    if company is None:
        pytest.skip("no SBB code in the generated register passes the elfproef")
    result = koppel(project, "sbb", "details", company["CodeLeerbedrijf"])
    assert result.exit_code == 0, result.output
    assert f"CodeLeerbedrijf:      {company['CodeLeerbedrijf']}" in result.stdout


def test_an_unknown_leerbedrijf_is_sbbs_signal_101_and_exit_1(project):
    result = koppel(project, "sbb", "details", "999999990")
    assert result.exit_code == 1
    assert "koppel: sbb refused the record: Signaalcode 101 Leerbedrijf onbekend bij SBB" in result.stderr


def test_nothing_found_is_sbbs_signal_110(project):
    result = koppel(project, "sbb", "zoek", "--naam", "Bestaat Niet BV", "--postcode", "9999ZZ")
    assert result.exit_code == 1
    assert "Signaalcode 110 Geen leerbedrijf gevonden met deze naam en postcode" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["zoek", "--naam", "Bakkerij", "--postcode", "12345"], "'12345' is not a Dutch postcode"),
    (["zoek", "--naam", " ", "--postcode", "1234AB"], "give (part of) the name"),
    (["details", "12345"], "'12345' is not an SBB code (nine digits)"),
])
def test_bad_input_is_refused_before_anything_is_sent(project, soap_sandbox, args, message):
    result = koppel(project, "sbb", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert soap_sandbox.context("sbb").received.items == []


def test_a_wrong_licence_is_sbbs_996_a_configuration_error_and_never_printed(project, soap_sandbox):
    wrong = "wl-0000-not-the-schools-licence"
    (project / "sandbox" / "secrets" / "sbb-licentie").write_text(wrong + "\n")
    result = koppel(project, "sbb", "details", register()[0]["CodeLeerbedrijf"])
    assert result.exit_code == 1
    assert "Signaalcode 996" in result.stderr
    assert "check the Licentie in the catalog (options.licentie, the request's system_fields)" in result.stderr
    assert wrong not in result.output
    [refused] = calls(soap_sandbox, "refused")
    assert refused["body"] == {"signaalcode": 996, "operation": "GeefDetails"}


def test_a_system_the_catalog_lacks_names_it(project):
    catalog = (project / "catalog.yaml").read_text(encoding="utf-8")
    (project / "catalog.yaml").write_text(catalog.replace("\n  sbb:\n", "\n  sbb-old:\n"), encoding="utf-8")
    result = koppel(project, "sbb", "details", register()[0]["CodeLeerbedrijf"])
    assert result.exit_code == 1 and "koppel: catalog.yaml has no system 'sbb'" in result.stderr


def test_an_environment_without_the_licence_option_says_what_to_set_and_sends_nothing(project, soap_sandbox, monkeypatch):
    monkeypatch.delenv("KOPPEL_SBB_LICENTIE", raising=False)
    result = koppel(project, "--env", "acceptatie", "sbb", "details", register()[0]["CodeLeerbedrijf"])
    assert result.exit_code == 1
    assert "KOPPEL_SBB_LICENTIE" in result.stderr
    assert soap_sandbox.context("sbb").received.items == []

"""Helpers the REST stand-in tests share (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sandbox.runner import Sandbox

PROJECT = Path(__file__).resolve().parents[3]

#: one client for all tests: a new httpx client costs ~70 ms (it builds an SSL context)
client = httpx.Client(timeout=10)


def secret(name: str) -> str:
    return (PROJECT / "sandbox" / "secrets" / name).read_text().strip()


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + secret(name)}


def control(box: Sandbox, name: str) -> str:
    """The stand-in's root (where /_sandbox/... lives)."""
    url = httpx.URL(box.url(name))
    return f"{url.scheme}://{url.host}:{url.port}"


def fault(box: Sandbox, name: str, **spec) -> None:
    r = client.post(control(box, name) + "/_sandbox/faults", json=spec)
    assert r.status_code == 201


def specs_present(box: Sandbox, relative: str) -> None:
    if box.context("website").contract(relative) is None:
        pytest.skip(f"{relative} is absent from the specs folder (KOPPEL_SPECS_DIR, default ../shared/specs): "
                    "the contract check needs the public spec")


PROGRAM_ID = "3f2b6c1e-5d4a-4b8e-9c7d-1a2b3c4d5e6f"


def program(program_id: str = PROGRAM_ID) -> dict:
    """An OOAPI v5 Program as interface 4's mapping must produce it."""
    return {
        "programId": program_id,
        "programType": "program",
        "primaryCode": {"codeType": "programCode", "code": "25604-BOL"},
        "name": [{"language": "nl-NL", "value": "Software developer"}],
        "abbreviation": "SD",
        "description": [{"language": "nl-NL", "value": "Mbo-4 opleiding software developer (BOL)."}],
        "teachingLanguage": "nld",
        "level": "secondary vocational education 4",
        "sector": "secondary vocational education",
    }


def vva_status(status: str = "aangemeld") -> dict:
    return {"aanmeldId": "CA-2027-000001", "bsn": "111222333", "brinMbo": "30RR", "opleiding": "25604",
            "status": status, "statusDatum": "2026-11-28"}


def signhost_headers() -> dict[str, str]:
    return {"Application": "APPKey " + secret("signhost-app-key"),
            "Authorization": "APIKey " + secret("signhost-user-token")}


def dms_auth() -> tuple[str, str]:
    return ("koppel", secret("dms-password"))


def therefore_document() -> dict:
    return {"CategoryNo": 2,
            "IndexDataItems": [{"StringIndexData": {"FieldName": "Studentnummer", "DataValue": "S100001"}},
                               {"DateIndexData": {"FieldName": "Documentdatum", "DataValue": "2026-11-28"}}],
            "Streams": [{"FileName": "ook-S100001.pdf", "FileDataBase64JSON": "JVBERi0xLjQK"}]}


def verbintenis() -> dict:
    return {"enrollmentId": "S100001-1", "studentnummer": "S100001", "crebo": "25604", "leerweg": "BOL",
            "startdatum": "2026-08-24", "einddatum": None, "status": "actief"}


_exact_refresh: dict[int, str] = {}


def exact_refresh(box: Sandbox) -> dict:
    """One refresh at Exact's token endpoint, keeping the rotated refresh token for the next."""
    auth = box.context("exact").settings.auth
    current = _exact_refresh.get(id(box)) or (PROJECT / "var" / "sandbox" / "exact-refresh-token").read_text().strip()
    r = client.post(auth.token_url, data={"grant_type": "refresh_token", "refresh_token": current,
                                         "client_id": auth.client_id, "client_secret": secret("exact-client-secret")})
    assert r.status_code == 200, r.text
    _exact_refresh[id(box)] = r.json()["refresh_token"]
    return r.json()


def exact_headers(box: Sandbox) -> dict[str, str]:
    return {"Authorization": "Bearer " + exact_refresh(box)["access_token"]}


def xedule_headers(box: Sandbox) -> dict[str, str]:
    auth = box.context("xedule").settings.auth
    r = client.post(auth.token_url, data={"grant_type": "client_credentials", "client_id": auth.client_id,
                                         "client_secret": secret("xedule-client-secret"), "scope": auth.scope})
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"],
            "Ocp-Apim-Subscription-Key": secret("xedule-subscription-key")}


def valid_request(box: Sandbox, name: str) -> dict:
    """A request the stand-in accepts, as keyword arguments for httpx.request."""
    u = box.url(name)
    table = {
        "website": lambda: dict(method="PUT", url=f"{u}/programs/{PROGRAM_ID}", json=program(), headers=bearer("website-token")),
        "centraal-aanmelden": lambda: dict(method="GET", url=f"{u}/aanmeldingen", headers=bearer("centraal-aanmelden-token")),
        "intergrip": lambda: dict(method="GET", url=f"{u}/doorstroomdossiers?brin=30RR", headers=bearer("intergrip-token")),
        "vva": lambda: dict(method="POST", url=f"{u}/aanmeldstatussen", json=vva_status(), headers=bearer("vva-token")),
        "signhost": lambda: dict(method="POST", url=f"{u}/transaction", json={"Seal": False, "Reference": "OOK-1",
                         "Context": {"documentKind": "onderwijsovereenkomst", "studentIsMinor": False},
                         "Signers": [{"Email": "student@example.nl", "Context": {"role": "student"}}]}, headers=signhost_headers()),
        "dms": lambda: dict(method="POST", url=f"{u}/CreateDocument", json=therefore_document(), auth=dms_auth()),
        "crm": lambda: dict(method="PUT", url=f"{u}/applications/CA-2027-000001",
                    json={"aanmeldId": "CA-2027-000001", "status": "aangemeld"}, headers=bearer("crm-token")),
        "exact": lambda: dict(method="GET", url=f"{u}/salesinvoice/SalesInvoiceLines", headers=exact_headers(box)),
        "xedule": lambda: dict(method="GET", url=f"{u}/activities?startDate=2026-11-30&endDate=2026-11-30",
                       headers=xedule_headers(box)),
        "b3net": lambda: dict(method="PUT", url=f"{u}/verbintenissen/S100001-1", json=verbintenis(),
                              headers=bearer("b3net-token")),
        "remindo": lambda: dict(method="PUT", url=f"{u}/persons/{PERSON_ID}", json=ned_person(), headers=bearer("remindo-token")),
        "dlo": lambda: dict(method="GET", url=f"{u}/resultaten", headers=bearer("dlo-token")),
    }
    return table[name]()


PERSON_ID = "0b6f1a52-0d39-5a1e-9a57-2f0c0b4f5a11"
OFFERING_ID = "7c1e6a7e-2b9b-4f7a-9d8a-1f2e3d4c5b6a"
ASSOCIATION_ID = "5d1c0b8e-8a3f-4f0e-b5a2-6c7d8e9f0a1b"


def ned_person() -> dict:
    """A NED OKE Person (flow 1.2b) as interface 25's mapping must produce it."""
    return {"personId": PERSON_ID, "primaryCode": {"codeType": "studentNumber", "code": "S100001"},
            "givenName": "Emma", "surname": "Jansen", "displayName": "Emma Jansen", "affiliations": ["student"],
            "mail": "s100001@student.kw1c.nl", "activeEnrollment": True,
            "consumers": [{"consumerKey": "nl-test-admin", "idCheckName": "Jansen, Emma",
                           "assignedNeeds": [{"code": "ExtraTime25%", "description": [
                               {"language": "nl-NL", "value": "25% extra tijd"}]}]}]}


def ned_offering() -> dict:
    return {"offeringId": OFFERING_ID, "primaryCode": {"codeType": "offeringCode", "code": "NED-2F-2026-12"},
            "offeringType": "component", "name": [{"language": "nl-NL", "value": "Nederlands 2F"}],
            "description": [{"language": "nl-NL", "value": "Centraal examen Nederlands 2F"}],
            "teachingLanguage": "nld", "resultExpected": True,
            "startDateTime": "2026-12-10T09:00:00+01:00", "endDateTime": "2026-12-10T11:00:00+01:00",
            "consumers": [{"consumerKey": "nl-test-admin", "offeringState": "active", "duration": "PT60M"}]}


def ned_association() -> dict:
    return {"associationId": ASSOCIATION_ID, "associationType": "componentOfferingAssociation", "role": "student",
            "state": "associated", "person": PERSON_ID, "offering": OFFERING_ID,
            "consumers": [{"consumerKey": "nl-test-admin", "personalNeeds": ["extraTime"], "additionalTimeInMin": 30}]}


def well_inside_a_clock_minute(margin: float = 5.0) -> None:
    """Rate limits count per clock minute: wait for the next one when this one is nearly over,
    so a few quick calls are sure to share one window."""
    import time

    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.2)

"""Stand-ins that receive: VVA, DMS (Therefore), B3Net verbintenis, CRM."""

from __future__ import annotations

import pytest
from standin_helpers import bearer, client, dms_auth, therefore_document, verbintenis, vva_status

from sandbox.rest.vva import STATUSES


@pytest.mark.parametrize("status", STATUSES)
def test_vva_accepts_the_five_legal_statuses(sandbox, status):
    r = client.post(sandbox.url("vva") + "/aanmeldstatussen", json=vva_status(status), headers=bearer("vva-token"))
    assert r.status_code == 201 and r.json()["id"] == "CA-2027-000001"
    assert sandbox.context("vva").received.items[-1]["body"]["status"] == status


@pytest.mark.parametrize("status", ["afgewezen", "Aangemeld", "ingeschreven "])
def test_vva_refuses_any_other_status_with_422(sandbox, status):
    r = client.post(sandbox.url("vva") + "/aanmeldstatussen", json=vva_status(status), headers=bearer("vva-token"))
    assert r.status_code == 422 and "legal statuses" in r.json()["detail"]


def test_vva_refuses_an_invalid_bsn_without_repeating_it(sandbox):
    body = {**vva_status(), "bsn": "123456789"}
    r = client.post(sandbox.url("vva") + "/aanmeldstatussen", json=body, headers=bearer("vva-token"))
    assert r.status_code == 422 and "123456789" not in r.text


def test_vva_takes_the_onderwijsnummer_of_an_applicant_without_bsn_but_not_both(sandbox):
    url, headers = sandbox.url("vva") + "/aanmeldstatussen", bearer("vva-token")
    without_bsn = {k: v for k, v in vva_status().items() if k != "bsn"}
    assert client.post(url, json={**without_bsn, "onderwijsnummer": "107588026"}, headers=headers).status_code == 201
    assert client.post(url, json=without_bsn, headers=headers).status_code == 422
    both = {**vva_status(), "onderwijsnummer": "107588026"}
    assert client.post(url, json=both, headers=headers).status_code == 422


def test_dms_stores_a_document_with_index_fields(sandbox):
    url = sandbox.url("dms")
    r = client.post(url + "/CreateDocument", json=therefore_document(), auth=dms_auth())
    assert r.status_code == 200 and r.json()["VersionNo"] == 1
    doc = client.post(url + "/GetDocument", json={"DocNo": r.json()["DocNo"]}, auth=dms_auth()).json()
    assert doc["CategoryNo"] == 2 and doc["FileNames"] == ["ook-S100001.pdf"]


def test_dms_wants_basic_auth_with_the_right_password(sandbox):
    r = client.post(sandbox.url("dms") + "/CreateDocument", json=therefore_document(), auth=("koppel", "wrong"))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("change, word", [
    ({"CategoryNo": 99}, "CategoryNo"),
    ({"IndexDataItems": [{"StringIndexData": {"FieldName": "Titel", "DataValue": "x"}}]}, "Studentnummer"),
    ({"Streams": [{"FileName": "a.pdf", "FileDataBase64JSON": "not base64!"}]}, "base64"),
])
def test_dms_refuses_a_document_therefore_would_refuse(sandbox, change, word):
    r = client.post(sandbox.url("dms") + "/CreateDocument", json={**therefore_document(), **change}, auth=dms_auth())
    assert r.status_code == 400 and word in r.json()["ErrorMessage"]


def test_b3net_takes_verbintenis_changes(sandbox):
    url = sandbox.url("b3net") + "/verbintenissen/S100001-1"
    assert client.put(url, json=verbintenis(), headers=bearer("b3net-token")).status_code in (200, 201)
    bad = client.put(url, json={**verbintenis(), "leerweg": "DUAAL"}, headers=bearer("b3net-token"))
    assert bad.status_code == 422 and "leerweg" in bad.json()["detail"]


def test_crm_takes_applications_by_aanmeld_id(sandbox):
    url = sandbox.url("crm") + "/applications/AM-2027-000001"
    r = client.put(url, json={"aanmeldId": "AM-2027-000001", "status": "aangemeld"}, headers=bearer("crm-token"))
    assert r.status_code in (200, 201)
    assert client.put(url, json={"aanmeldId": "AM-2027-000001"}, headers=bearer("crm-token")).status_code == 400

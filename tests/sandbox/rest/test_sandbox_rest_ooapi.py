"""The website (OOAPI v5 Programs and Offerings) and Remindo (NED OOAPI OKE): what interface 4
and 25 send is checked against the real contracts; Remindo pushes each result to Koppel (NED flow 3/5)."""

from __future__ import annotations

from standin_helpers import (
    ASSOCIATION_ID,
    OFFERING_ID,
    PERSON_ID,
    PROGRAM_ID,
    bearer,
    client,
    ned_association,
    ned_offering,
    ned_person,
    program,
    secret,
    specs_present,
)

from sandbox.rest.remindo import SEEDED_OFFERING

WEB = bearer("website-token")
REMINDO = bearer("remindo-token")


def test_a_program_is_created_then_replaced_and_listed_like_a_provider(sandbox):
    url = f"{sandbox.url('website')}/programs/{PROGRAM_ID}"
    assert client.put(url, json=program(), headers=WEB).status_code in (200, 201)
    assert client.put(url, json=program(), headers=WEB).status_code == 200
    page = client.get(sandbox.url("website") + "/programs", headers=WEB).json()
    assert {"pageSize", "pageNumber", "hasPreviousPage", "hasNextPage", "totalPages", "items"} <= set(page)
    assert any(p["programId"] == PROGRAM_ID for p in page["items"])
    assert client.get(url, headers=WEB).json() == program()
    assert client.delete(url, headers=WEB).status_code == 204
    assert client.get(url, headers=WEB).status_code == 404


def test_a_program_missing_required_fields_is_refused(sandbox):
    body = {k: v for k, v in program().items() if k != "teachingLanguage"}
    r = client.put(f"{sandbox.url('website')}/programs/{PROGRAM_ID}", json=body, headers=WEB)
    assert r.status_code == 400 and "teachingLanguage" in r.json()["detail"]
    assert sandbox.context("website").received.items[-1]["kind"] == "refused"


def test_the_ooapi_schema_decides_enums_and_formats(sandbox):
    specs_present(sandbox, "ooapi/v5/ooapi.json")
    body = {**program(), "programType": "opleiding", "teachingLanguage": "NL"}
    r = client.put(f"{sandbox.url('website')}/programs/{PROGRAM_ID}", json=body, headers=WEB)
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "programType" in detail and "teachingLanguage" in detail


def test_the_id_in_the_path_must_be_the_bodys(sandbox):
    r = client.put(f"{sandbox.url('website')}/programs/11111111-2222-4333-8444-555555555555", json=program(),
                   headers=WEB)
    assert r.status_code == 400 and "programId" in r.json()["detail"]


def test_a_program_offering_needs_its_dates(sandbox):
    specs_present(sandbox, "ooapi/v5/ooapi.json")
    offering = {"offeringId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "offeringType": "program",
                "primaryCode": {"codeType": "offeringCode", "code": "25998-BOL-2027"},
                "name": [{"language": "nl-NL", "value": "Software developer 2027"}],
                "description": [{"language": "nl-NL", "value": "Start augustus 2027"}],
                "teachingLanguage": "nld", "resultExpected": True, "program": PROGRAM_ID}
    url = f"{sandbox.url('website')}/offerings/{offering['offeringId']}"
    refused = client.put(url, json=offering, headers=WEB)
    assert refused.status_code == 400 and "startDate" in refused.json()["detail"]
    offering.update(startDate="2027-08-30", endDate="2030-07-10")
    assert client.put(url, json=offering, headers=WEB).status_code == 201


def test_remindo_takes_persons_offerings_and_associations_and_then_pushes_the_result(sandbox, koppel):
    base = sandbox.url("remindo")
    assert client.put(f"{base}/persons/{PERSON_ID}", json=ned_person(), headers=REMINDO).status_code in (200, 201)
    assert client.put(f"{base}/offerings/{OFFERING_ID}", json=ned_offering(), headers=REMINDO).status_code in (200, 201)
    r = client.put(f"{base}/associations/{ASSOCIATION_ID}", json=ned_association(), headers=REMINDO)
    assert r.status_code in (200, 201), r.text
    [pushed] = koppel.wait_for(lambda c: c["path"] == f"/hooks/remindo/associations/{ASSOCIATION_ID}")
    assert pushed["method"] == "PATCH" and pushed["headers"]["content-type"] == "application/merge-patch+json"
    assert pushed["headers"]["authorization"] == "Bearer " + secret("remindo-results-token")
    body = pushed["json"]
    assert body["person"] == {"personId": PERSON_ID, "primaryCode": {"codeType": "studentNumber", "code": "S100001"}}
    assert body["offering"]["offeringId"] == OFFERING_ID and body["offering"]["primaryCode"]["code"] == "NED-2F-2026-12"
    result = body["result"]
    assert result["state"] == "completed" and result["pass"] in ("passed", "failed")
    assert result["consumers"][0]["consumerKey"] == "nl-test-admin" and result["consumers"][0]["attendance"] == "present"
    stored = client.get(f"{base}/associations/{ASSOCIATION_ID}", headers=REMINDO).json()
    assert stored["result"] == result
    listed = client.get(f"{base}/offerings/{OFFERING_ID}/associations", headers=REMINDO).json()
    assert [a["associationId"] for a in listed["items"]] == [ASSOCIATION_ID]
    assert not client.get(f"{base}/results", headers=REMINDO).is_success  # NED has no feed to poll


def test_an_association_before_its_session_is_refused(sandbox):
    base = sandbox.url("remindo")
    association = {**ned_association(), "associationId": "6e2d1c9f-9b4a-4f1e-a6b3-7d8e9f0a1b2c",
                   "offering": "8d2f7b8f-3cac-4a8b-8e9b-2f3e4d5c6b7a"}
    r = client.put(f"{base}/associations/{association['associationId']}", json=association, headers=REMINDO)
    assert r.status_code == 409
    assert "create the session first (PUT /offerings/8d2f7b8f-3cac-4a8b-8e9b-2f3e4d5c6b7a)" in r.json()["detail"]
    assert client.get(f"{base}/associations/{association['associationId']}", headers=REMINDO).status_code == 404


def test_a_push_koppel_refuses_is_tried_again(sandbox, koppel):
    base = sandbox.url("remindo")
    association_id = "7f3e2d0a-0c5b-4a2f-b7c4-8e9f0a1b2c3d"
    client.put(f"{base}/offerings/{OFFERING_ID}", json=ned_offering(), headers=REMINDO)
    koppel.status = 503
    try:
        client.put(f"{base}/associations/{association_id}", json={**ned_association(), "associationId": association_id},
                   headers=REMINDO)
        sent = lambda: [i for i in sandbox.context("remindo").received.items
                        if i["kind"] == "sent" and i["id"] == association_id]
        koppel.wait_for(lambda c: len(sent()) >= 2)
        assert [i["status"] for i in sent()] == [503, 503]  # push_retries 1: two attempts
    finally:
        koppel.status = 200


def test_remindo_refuses_what_breaks_the_ned_contract(sandbox):
    specs_present(sandbox, "ned-ooapi-oke/ooapiv5_MBO.yaml")
    base = sandbox.url("remindo")
    person = {k: v for k, v in ned_person().items() if k != "surname"}
    r = client.put(f"{base}/persons/{PERSON_ID}", json=person, headers=REMINDO)
    assert r.status_code == 400 and "surname" in r.json()["detail"]
    association = {**ned_association(), "state": "enrolled"}
    assert client.put(f"{base}/associations/{ASSOCIATION_ID}", json=association, headers=REMINDO).status_code == 400


def test_remindo_cancels_an_association_by_merge_patch(sandbox):
    base = sandbox.url("remindo")
    client.put(f"{base}/offerings/{OFFERING_ID}", json=ned_offering(), headers=REMINDO)
    client.put(f"{base}/associations/{ASSOCIATION_ID}", json=ned_association(), headers=REMINDO)
    r = client.patch(f"{base}/associations/{ASSOCIATION_ID}", json={"state": "canceled"},
                     headers={**REMINDO, "Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "canceled" and r.json()["person"] == PERSON_ID


def test_remindo_already_has_sessions_with_results(sandbox):
    base = sandbox.url("remindo")
    offerings = client.get(f"{base}/offerings", headers=REMINDO).json()["items"]
    assert SEEDED_OFFERING in [o["offeringId"] for o in offerings]
    page = client.get(f"{base}/offerings/{SEEDED_OFFERING}/associations", headers=REMINDO,
                      params={"pageSize": 2}).json()
    assert page["totalPages"] == 3 and page["hasNextPage"] and len(page["items"]) == 2
    assert all("result" in a for a in page["items"])


def test_ooapi_ids_must_be_uuids(sandbox):
    specs_present(sandbox, "ooapi/v5/ooapi.json")
    r = client.put(f"{sandbox.url('website')}/programs/25998-BOL", json=program("25998-BOL"), headers=WEB)
    assert r.status_code == 400 and "uuid" in r.json()["detail"]


def test_remindo_checks_the_nl_test_admin_consumer(sandbox):
    specs_present(sandbox, "ned-ooapi-oke/ooapiv5_MBO.yaml")
    association = ned_association()
    association["consumers"][0]["additionalTimeInMin"] = "dertig"
    r = client.put(f"{sandbox.url('remindo')}/associations/{ASSOCIATION_ID}", json=association, headers=REMINDO)
    assert r.status_code == 400 and "additionalTimeInMin" in r.json()["detail"]
    offering = ned_offering()
    offering["consumers"][0]["offeringState"] = "gepland"
    r = client.put(f"{sandbox.url('remindo')}/offerings/{OFFERING_ID}", json=offering, headers=REMINDO)
    assert r.status_code == 400 and "offeringState" in r.json()["detail"]

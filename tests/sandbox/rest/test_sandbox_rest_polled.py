"""The stand-ins Koppel polls: Centraal Aanmelden, Intergrip, Xedule, DLO. Paging, watermarks,
and data that fits the synthetic college."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from standin_helpers import bearer, client, fault, secret, xedule_headers

from runtime.redact import elfproef


def follow(url: str, headers: dict, **params) -> tuple[list[dict], int]:
    items, pages = [], 0
    while url:
        r = client.get(url, headers=headers, params=params if pages == 0 else None)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        url, pages = page["next"], pages + 1
    return items, pages


def test_centraal_aanmelden_pages_and_watermark(sandbox):
    url, headers = sandbox.url("centraal-aanmelden") + "/aanmeldingen", bearer("centraal-aanmelden-token")
    first = client.get(url, headers=headers, params={"pageSize": 10}).json()
    items, pages = follow(url, headers, pageSize=10)
    assert pages == -(-first["totalItems"] // 10) and len(items) == first["totalItems"] >= 45
    assert len({a["aanmeldId"] for a in items}) == len(items)
    stamps = [a["gewijzigdOp"] for a in items]
    assert stamps == sorted(stamps)
    since = stamps[-5]
    newer = client.get(url, headers=headers, params={"gewijzigdSinds": since}).json()
    assert [a["aanmeldId"] for a in newer["items"]] == [a["aanmeldId"] for a in items[-4:]]
    assert client.get(url, headers=headers, params={"gewijzigdSinds": "gisteren"}).status_code == 400


def test_centraal_aanmelden_applications_fit_the_college(sandbox):
    from sandbox.rest import synthetic

    url, headers = sandbox.url("centraal-aanmelden") + "/aanmeldingen", bearer("centraal-aanmelden-token")
    for application in client.get(url, headers=headers, params={"pageSize": 50}).json()["items"]:
        assert elfproef(application["persoon"]["bsn"])
        assert re.fullmatch(r"CA-\d{4}-\d{6}", application["aanmeldId"])
        opleiding = application["opleiding"]
        assert opleiding["crebo"] in synthetic.CREBOS
        assert opleiding["cohortcode"] == f"{opleiding['crebo']}-{opleiding['leerweg']}-{application['cohort']}"
    one = client.get(f"{url}/{application['aanmeldId']}", headers=headers).json()
    assert one == application


def test_intergrip_dossiers_name_the_student_by_bsn_and_the_school_by_brin(sandbox):
    url, headers = sandbox.url("intergrip") + "/doorstroomdossiers", bearer("intergrip-token")
    dossiers, pages = follow(url, headers, pageSize=5, brin="30RR")
    assert pages >= 2 and dossiers and all(elfproef(d["bsn"]) for d in dossiers)
    assert all("aanmeldId" not in d and d["brinMbo"] == "30RR" for d in dossiers)  # Intergrip has no aanmeldId
    assert all(re.fullmatch(r"IG-\d{6}", d["dossierId"]) for d in dossiers)
    # each dossier: its doorstroomdossier first, then none, one or more LOB documents (up to three)
    for d in dossiers:
        kinds = [doc["soort"] for doc in d["documenten"]]
        assert kinds[0] == "doorstroomdossier" and set(kinds[1:]) <= {"lob"} and len(kinds) <= 4
        assert [doc["documentId"] for doc in d["documenten"]] == [
            f"{d['dossierId']}-dd", *(f"{d['dossierId']}-lob{n}" for n in range(1, len(kinds)))]
    assert {len(d["documenten"]) - 1 for d in dossiers} == {0, 1, 2, 3}
    for doc in (d["documenten"][-1] for d in dossiers[:4]):  # a LOB document opens as well as the dossier
        pdf = client.get(doc["url"], headers=headers)
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert client.get(dossiers[0]["documenten"][0]["url"]).status_code == 401  # the bearer is needed here too


def test_intergrip_refuses_a_document_that_is_unknown_another_schools_or_gone(sandbox):
    from sandbox.rest import intergrip

    base, headers = sandbox.url("intergrip"), bearer("intergrip-token")
    listed = client.get(f"{base}/doorstroomdossiers", headers=headers, params={"brin": "30RR"}).json()["items"]
    ours = listed[0]["documenten"][0]["documentId"]
    assert client.get(f"{base}/documenten/{ours}", headers=headers).status_code == 200
    unknown = client.get(f"{base}/documenten/IG-999999-dd", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["title"] == "no such document"
    # IG-000001 is the dossier of an applicant towards another mbo school: never listed for 30RR
    assert "IG-000001" not in {d["dossierId"] for d in listed} and intergrip.OTHER_BRIN != "30RR"
    other = client.get(f"{base}/documenten/IG-000001-dd", headers=headers)
    assert other.status_code == 403 and "another school" in other.json()["title"]
    assert client.get(f"{base}/documenten/IG-000001-dd").status_code == 401  # no bearer: 401 before anything
    # a queued reject is a 404 for the document its match names, the others still open
    fault(sandbox, "intergrip", mode="reject", match=f"/documenten/{ours}", times=-1)
    assert client.get(f"{base}/documenten/{ours}", headers=headers).status_code == 404
    assert client.get(f"{base}/documenten/{listed[1]['documenten'][0]['documentId']}", headers=headers).status_code == 200
    refused = [i for i in sandbox.context("intergrip").received.items if i["kind"] == "refused"]
    assert [r["body"].get("documentId") for r in refused] == ["IG-999999-dd", "IG-000001-dd"]


@pytest.mark.parametrize("params, status", [({}, 400), ({"brin": "99XX"}, 403)])
def test_intergrip_refuses_a_list_without_the_colleges_brin(sandbox, params, status):
    r = client.get(sandbox.url("intergrip") + "/doorstroomdossiers", params=params, headers=bearer("intergrip-token"))
    assert r.status_code == status and "brin" in r.json()["title"]
    assert [i["kind"] for i in sandbox.context("intergrip").received.items] == ["refused"]


def test_intergrip_takes_the_five_statuses_only(sandbox):
    url, headers = sandbox.url("intergrip") + "/aanmeldingen/CA-2027-000002/status", bearer("intergrip-token")
    ok = client.post(url, json={"status": "onderwijsovereenkomst_aangeboden", "statusDatum": "2026-11-28"},
                     headers=headers)
    assert ok.status_code == 202
    bad = client.post(url, json={"status": "afgewezen", "statusDatum": "2026-11-28"}, headers=headers)
    assert bad.status_code == 422 and "afgewezen" in bad.json()["detail"]
    kinds = [(i["kind"], i.get("aanmeldId")) for i in sandbox.context("intergrip").received.items]
    assert kinds == [("status", "CA-2027-000002"), ("refused", "CA-2027-000002")]


def test_xedule_needs_the_subscription_key_and_a_client_credentials_token(sandbox):
    url = sandbox.url("xedule") + "/activities?startDate=2026-11-30"
    headers = xedule_headers(sandbox)
    assert client.get(url, headers=headers).status_code == 200
    no_key = client.get(url, headers={"Authorization": headers["Authorization"]})
    assert no_key.status_code == 401 and "missing subscription key" in no_key.json()["message"]
    wrong_key = client.get(url, headers={**headers, "Ocp-Apim-Subscription-Key": "not-the-key"})
    assert wrong_key.status_code == 401
    no_token = client.get(url, headers={"Ocp-Apim-Subscription-Key": secret("xedule-subscription-key")})
    assert no_token.status_code == 401 and no_token.json()["message"].startswith("Unauthorized")
    auth = sandbox.context("xedule").settings.auth
    assert auth.token_url.endswith("/kw1c-sandbox/oauth2/v2.0/token") and auth.scope == "api://xedule-connect/.default"
    wrong = client.post(auth.token_url, data={"grant_type": "client_credentials", "client_id": auth.client_id,
                                              "client_secret": "wrong", "scope": auth.scope})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.json()["error_description"].startswith("AADSTS7000215")
    basic = client.post(auth.token_url, data={"grant_type": "client_credentials", "scope": auth.scope},
                        auth=(auth.client_id, secret("xedule-client-secret")))
    assert basic.status_code == 200 and basic.json()["token_type"] == "Bearer" and basic.json()["expires_in"] == 3599


@pytest.mark.parametrize("scope, status, error, code", [
    (None, 400, "invalid_request", "AADSTS900144"),  # today's Koppel sent no scope
    ("https://graph.microsoft.com/.default", 400, "invalid_scope", "AADSTS70011"),
    ("api://xedule-connect/.default openid", 400, "invalid_scope", "AADSTS70011"),
])
def test_xedule_token_endpoint_refuses_a_missing_or_other_scope_as_azure_ad_does(sandbox, scope, status, error, code):
    auth = sandbox.context("xedule").settings.auth
    form = {"grant_type": "client_credentials", "client_id": auth.client_id, "client_secret": secret("xedule-client-secret")}
    if scope:
        form["scope"] = scope
    r = client.post(auth.token_url, data=form)
    assert (r.status_code, r.json()["error"]) == (status, error)
    assert r.json()["error_description"].startswith(code + ":")


def test_xedule_token_endpoint_is_per_tenant(sandbox):
    auth = sandbox.context("xedule").settings.auth
    other = auth.token_url.replace("/kw1c-sandbox/", "/other-tenant/")
    r = client.post(other, data={"grant_type": "client_credentials", "client_id": auth.client_id,
                                 "client_secret": secret("xedule-client-secret"), "scope": auth.scope})
    assert r.status_code == 400 and "AADSTS90002" in r.json()["error_description"]


def test_xedule_serves_the_same_days_the_same_way(sandbox):
    url, headers = sandbox.url("xedule") + "/activities", xedule_headers(sandbox)
    week, pages = follow(url, headers, startDate="2026-11-30", endDate="2026-12-06", pageSize=7)
    again, _ = follow(url, headers, startDate="2026-11-30", endDate="2026-12-06", pageSize=50)
    assert week == again and pages > 1
    days = {a["date"] for a in week}
    assert days == {"2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"}  # no weekend
    first = week[0]
    assert re.fullmatch(r"\d{5}-BOL-2026-A", first["groups"][0]) and re.fullmatch(r"D1\d{4}", first["teachers"][0])
    assert dt.datetime.fromisoformat(first["start"]).utcoffset() == dt.timedelta(hours=1)  # CET in winter
    too_long = client.get(url, headers=headers, params={"startDate": "2026-01-01", "endDate": "2026-03-01"})
    assert too_long.status_code == 400


def test_dlo_results_per_student_and_course(sandbox):
    url, headers = sandbox.url("dlo"), bearer("dlo-token")
    results = client.get(url + "/resultaten", headers=headers, params={"limit": 200}).json()["items"]
    assert len(results) >= 100 and len({r["id"] for r in results}) == len(results)
    target = results[0]
    own = client.get(f"{url}/studenten/{target['studentnummer']}/cursussen/{target['cursusCode']}/resultaten",
                     headers=headers).json()["items"]
    assert target in own
    assert all(r["studentnummer"] == target["studentnummer"] and r["cursusCode"] == target["cursusCode"] for r in own)
    newer = client.get(url + "/resultaten", headers=headers, params={"sinds": results[-2]["gewijzigdOp"]}).json()
    assert newer["items"] == results[-1:] and newer["next"] is None


def test_dlo_pages_with_a_cursor(sandbox):
    url, headers = sandbox.url("dlo") + "/resultaten", bearer("dlo-token")
    first = client.get(url, headers=headers, params={"limit": 30}).json()
    second = client.get(url, headers=headers, params={"limit": 30, "cursor": first["next"]}).json()
    assert len(first["items"]) == 30 and first["items"][-1]["id"] < second["items"][0]["id"]
    assert client.get(url, headers=headers, params={"cursor": "!!"}).status_code == 400


def test_xedule_days_from_a_start_and_a_link_header(sandbox):
    r = client.get(sandbox.url("xedule") + "/activities", headers=xedule_headers(sandbox),
                   params={"startDate": "2026-11-30", "days": "7", "pageSize": 5})
    assert r.json()["totalItems"] == 5 * 8  # five weekdays, eight activities a day
    assert r.headers["Link"] == f'<{r.json()["next"]}>; rel="next"'

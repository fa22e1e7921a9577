"""The counterparts as they really are (issue 13, rows 8, 9, 10, 21, 22 and 1), end to end: what
Koppel sends, what the stand-in refuses, and what arrives in the SIS, by value and count."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx


def count(college, table: str, where: str = "1=1", **params) -> int:
    return college.sql(f'SELECT count(*) FROM "{table}" WHERE {where}', **params)[0][0]


def control(college, system: str) -> str:
    url = httpx.URL(college.sandbox.url(system))
    return f"{url.scheme}://{url.host}:{url.port}"


def accepted(college, system: str, operation: str) -> list[dict]:
    return [i for i in college.received(system, "accepted") if i.get("operation") == operation]


ELIGIBLE = ("SELECT i.internship_id FROM internship i JOIN enrollment e ON e.enrollment_id = i.enrollment_id "
            "WHERE e.leertraject IN ('BOL', 'BBL') AND i.status NOT IN ('afgerond', 'afgebroken') "
            "AND i.internship_id NOT LIKE 'B3-%'")  # the seed's, at companies SBB recognises (not other tests' B3Net matches)


# --- row 8: SBB White Label --------------------------------------------------------------------


def test_08_every_agreed_internship_is_verified_with_the_licence_and_marked_recognised(college) -> None:
    eligible = {r[0] for r in college.sql(ELIGIBLE)}
    assert eligible, "the seeded college has internships"
    college.run(8, trigger="poll")  # from now on
    before = len(accepted(college, "sbb", "Verificatie"))
    agreed = ",".join(f"'{i}'" for i in sorted(eligible))
    college.sql(f"UPDATE internship SET agreement_date = '2026-11-30' WHERE internship_id IN ({agreed})")
    summary = college.run(8, trigger="poll")
    # other e2e tests of the shared college may have left a match at a company SBB does not know:
    # none of this test's internships is a dead letter
    assert summary.outcome in ("ok", "partial"), summary
    assert not [d for d in college.engine.store.dead_letters(interface_id=8) if d["source_key"] in eligible]
    calls = [c for c in accepted(college, "sbb", "Verificatie")[before:] if c["body"]["request"]["Kenmerk"] in eligible]
    # one Verificatie per agreed internship, each with that internship as Kenmerk and the licence
    # (masked in what the stand-in keeps: it is a secret); SBB refused none of them
    assert sorted(c["body"]["request"]["Kenmerk"] for c in calls) == sorted(eligible)
    assert {c["body"]["request"]["Licentie"] for c in calls} == {"*****"}
    assert not [r for r in college.received("sbb", "refused")
                if (r.get("body") or {}).get("request", {}).get("Kenmerk") in eligible]
    recognised = college.sql("SELECT internship_id, recognition_checked_on FROM internship "
                             "WHERE recognition_status = 'erkend'")
    assert {r[0] for r in recognised} == eligible
    # the mapping's today() is the college's date (Europe/Amsterdam): from 23:00 or 22:00 UTC it is
    # already tomorrow there, and the machine's own date would say otherwise
    assert {str(r[1]) for r in recognised} == {dt.datetime.now(ZoneInfo("Europe/Amsterdam")).date().isoformat()}
    # nothing of SBB's register was copied: the company table holds what the seed put there
    assert accepted(college, "sbb", "Zoeken") == [] and accepted(college, "sbb", "GeefDetails") == []
    asked = len(accepted(college, "sbb", "Verificatie"))
    again = college.run(8, trigger="poll")  # the write-back is a change, but the same question is not asked again
    assert again.outcome in ("ok", "partial")
    assert not [c for c in accepted(college, "sbb", "Verificatie")[asked:] if c["body"]["request"]["Kenmerk"] in eligible]


def test_08_a_b3net_match_at_a_company_sbb_does_not_know_is_a_dead_letter_saying_so(college) -> None:
    college.run(8, trigger="poll")  # what was there is verified
    before = {r[0] for r in college.sql("SELECT internship_id FROM internship WHERE internship_id LIKE 'B3-%'")}
    push = httpx.post(college.sandbox.url("b3net").rsplit("/api", 1)[0] + "/_sandbox/push",
                      json={"count": 2, "start": 70, "leerbedrijf": "onbekend"}, timeout=30)
    assert push.status_code < 300, push.text
    assert college.run(23, trigger="webhook").outcome == "ok"
    new = {r[0] for r in college.sql("SELECT internship_id FROM internship WHERE internship_id LIKE 'B3-%' "
                                     "AND recognition_status IS NULL")} - before  # this push's, not other tests'
    assert new
    summary = college.run(8, trigger="poll")
    assert summary.outcome == "partial" and summary.dead >= 1, summary
    letters = [d for d in college.engine.store.dead_letters(interface_id=8) if d["source_key"] in new]
    assert letters and {d["source_key"] for d in letters} <= new
    assert all("Signaalcode 101 Leerbedrijf onbekend bij SBB" in d["reason"] for d in letters), letters
    assert count(college, "internship", f"internship_id IN ({','.join(repr(i) for i in new)}) "
                 "AND recognition_status IS NOT NULL") == 0


def test_08_a_b3net_match_at_a_company_sbb_recognises_is_verified(college) -> None:
    from sandbox.rest.b3net import match

    college.run(8, trigger="poll")
    push = httpx.post(college.sandbox.url("b3net").rsplit("/api", 1)[0] + "/_sandbox/push",
                      json={"count": 3, "start": 80}, timeout=30)
    assert push.status_code < 300, push.text
    assert college.run(23, trigger="webhook").outcome == "ok"
    sent = [match(23, i) for i in range(80, 83)]
    summary = college.run(8, trigger="poll")
    # recognised for the match's crebo in BOL: erkend unless the student's enrollment is BBL
    assert len(sent) == 3 and all(len(m["leerbedrijf"]["sbbCode"]) == 9 for m in sent)
    leerwegen = dict(college.sql("SELECT i.internship_id, e.leertraject FROM internship i JOIN enrollment e "
                                 "ON e.enrollment_id = i.enrollment_id WHERE i.internship_id IN "
                                 f"({','.join(repr(m['matchId']) for m in sent)})"))
    statuses = dict(college.sql("SELECT internship_id, recognition_status FROM internship WHERE internship_id IN "
                                f"({','.join(repr(m['matchId']) for m in sent)})"))
    assert len(leerwegen) == 3 and "BOL" in leerwegen.values()
    assert {i: statuses[i] for i, leerweg in leerwegen.items() if leerweg == "BOL"} == \
        {i: "erkend" for i, leerweg in leerwegen.items() if leerweg == "BOL"}
    assert summary.dead == sum(1 for leerweg in leerwegen.values() if leerweg == "BBL"), summary


def test_08_the_mutatieservice_reports_an_ended_erkenning_and_the_internship_says_so(college) -> None:
    college.run(8, trigger="poll")  # from now on
    first = sorted(r[0] for r in college.sql(ELIGIBLE) if not r[0].startswith("B3-"))[0]  # a seeded one
    college.sql("UPDATE internship SET agreement_date = '2026-11-29' WHERE internship_id = :i", i=first)
    assert college.run(8, trigger="poll").dead == 0  # verified: SBB subscribes the agreement
    internship_id, code, crebo, leerweg, start = college.sql(
        "SELECT i.internship_id, i.sbb_code, COALESCE(i.crebo, p.crebo), e.leertraject, i.start_date FROM internship i "
        "JOIN enrollment e ON e.enrollment_id = i.enrollment_id JOIN program p ON p.program_code = e.program_code "
        "WHERE i.internship_id = :i AND i.recognition_status = 'erkend'", i=first)[0]
    day = (dt.date.fromisoformat(str(start)) - dt.timedelta(days=1)).isoformat()
    ended = httpx.post(control(college, "sbb") + "/_sandbox/leerbedrijven",
                       json={"end": {"code": code, "crebo": crebo, "leerweg": leerweg, "date": day}}, timeout=10)
    assert ended.status_code == 200 and ended.json()["mutations"], ended.text
    summary = college.run(8, trigger="poll")
    assert summary.outcome == "partial", summary
    [status] = college.sql("SELECT recognition_status FROM internship WHERE internship_id = :i", i=internship_id)[0:1]
    assert status == ("beeindigd",)
    letters = [d for d in college.engine.store.dead_letters(interface_id=8)
               if "Signaalcode 103" in d["reason"]]
    assert len(letters) == len(ended.json()["mutations"])
    assert college.run(8, trigger="poll").dead == 0  # the mutation is not read twice
    # the next run asked the mutatieservice from the last Volgnummer it read
    last = accepted(college, "sbb", "Mutaties")[-1]
    assert last["body"]["request"]["VanafVolgnummer"] == str(max(ended.json()["mutations"]))


def test_08_sbb_refuses_a_call_without_licence_with_signaalcode_996(college) -> None:
    from lxml import etree

    ns = "http://koppel.standin/schema/KOPPEL_SBB_Leerbedrijven_V1"
    envelope = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:s="{ns}"><soapenv:Body><s:Zoeken><s:request><s:AantalResultatenPerPagina>25'
        '</s:AantalResultatenPerPagina><s:Pagina>1</s:Pagina><s:LeerplaatsErkenningAanduiding>E'
        '</s:LeerplaatsErkenningAanduiding></s:request></s:Zoeken></soapenv:Body></soapenv:Envelope>')
    r = httpx.post(college.sandbox.url("sbb"), content=envelope, timeout=10, headers={
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"http://koppel.standin/contract/KOPPEL_SBB_Leerbedrijven_V1/Zoeken"'})
    assert r.status_code == 200
    answer = etree.fromstring(r.content)
    assert answer.findtext(f".//{{{ns}}}Signaalcode") == "996"
    assert answer.find(f".//{{{ns}}}Resultaten") is None


# --- row 9: SBB lists ------------------------------------------------------------------------


def test_09_the_xlsx_list_arrives_with_its_keuzedelen(college) -> None:
    from runtime.sis.seed import catalogue
    from sandbox.rest.sbb_lijsten import KEUZEDELEN

    summary = college.run(9)
    assert (summary.outcome, summary.dead) == ("ok", 0), summary
    assert summary.read == len(catalogue.qualification_rows()) + len(KEUZEDELEN)
    keuzedelen = college.sql("SELECT crebo, name, level FROM qualification WHERE kind = 'keuzedeel' ORDER BY crebo")
    assert keuzedelen == sorted((code, name, level) for code, name, level in KEUZEDELEN)
    assert count(college, "qualification", "kind = 'kwalificatie'") == len(catalogue.qualification_rows())
    assert [i["body"]["output"] for i in college.received("sbb-lijsten", "download")][-1] == 58500


# --- row 21: Exact ----------------------------------------------------------------------------


def test_21_invoices_with_their_lines_linked_through_the_debtor(college) -> None:
    summary = college.run(21, trigger="poll")
    assert (summary.outcome, summary.dead) == ("ok", 0), summary
    polls = [i["body"] for i in college.received("exact", "poll")]
    invoices = [p for p in polls if p["path"] == "salesinvoice/SalesInvoices"]
    assert invoices and all(p["expand"] == "SalesInvoiceLines" for p in invoices)
    assert invoices[0]["filter"] == "Modified gt datetime'2000-01-01T00:00:00'"
    assert any(p["path"] == "crm/Accounts" for p in polls)
    assert college.received("exact", "refused") == []
    assert summary.read == sum(p["count"] for p in invoices) == summary.delivered
    from sandbox.rest import exact as standin

    # what arrived is what Exact has: per invoice (InvoiceNumber = 26000000 + its index) its lines,
    # amounts and items, under the student whose debtor account it is
    stored = college.sql("SELECT invoice_number, invoice_line_id, student_number, item_code, amount, quantity "
                         "FROM invoice_line ORDER BY invoice_number, invoice_line_id")
    numbers = sorted({int(r[0]) for r in stored})
    assert len(numbers) == summary.delivered
    for number in numbers:
        expected = standin.invoice(21, 123456, number - 26_000_000, 0.0)
        lines = sorted((line["ID"].lower(), expected["YourRef"], line["ItemCode"], line["AmountDC"], line["Quantity"])
                       for line in expected["SalesInvoiceLines"])
        assert [r[1:] for r in stored if int(r[0]) == number] == lines
    again = college.run(21, trigger="poll")
    assert again.read == 0  # the watermark on SalesInvoices.Modified moved on
    later = [i["body"] for i in college.received("exact", "poll") if i["body"]["path"] == "salesinvoice/SalesInvoices"]
    assert later[-1]["filter"].startswith("Modified gt datetime'20") and later[-1]["filter"] != invoices[0]["filter"]


# --- row 22: Xedule ---------------------------------------------------------------------------


def test_22_the_token_comes_from_azure_ad_with_xedules_scope_and_the_key_goes_along(college) -> None:
    summary = college.run(22)
    assert (summary.outcome, summary.dead) == ("ok", 0), summary
    tokens = college.received("xedule", "token")
    assert tokens and {t["body"]["scope"] for t in tokens} == {"api://xedule-connect/.default"}
    assert all(t["path"].endswith("/oauth2/v2.0/token") for t in tokens)
    assert college.received("xedule", "token-refused") == []
    [poll] = college.received("xedule", "poll")
    assert (poll["body"]["page"], summary.delivered) == (1, summary.read) and summary.read > 0
    assert count(college, "timetable_activity", "activity_id LIKE 'XED-%'") == summary.delivered


# --- row 1: roles scoped per team, opleiding or locatie --------------------------------------


def scim_group(college, method: str, external_id: str, members: list[str]) -> httpx.Response:
    token = (college.root / "sandbox" / "secrets" / "iam-scim-token").read_text().strip()
    base = f"http://127.0.0.1:{college.koppel_port}/scim/v2/Groups"
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": external_id,
            "displayName": external_id, "members": [{"value": m, "type": "User"} for m in members]}
    url = base if method == "POST" else f"{base}/{external_id}"
    return httpx.request(method, url, json=body, timeout=10, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})


def grants(college, granted_by: str) -> list[tuple]:
    return college.sql("SELECT person_number, role, scope FROM role_assignment WHERE granted_by = :g "
                       "ORDER BY person_number", g=granted_by)


def test_01_two_groups_grant_one_role_each_in_its_own_scope(college) -> None:
    staff = [r[0] for r in college.sql("SELECT person_number FROM staff ORDER BY person_number LIMIT 3")]
    assert len(staff) == 3
    college.run(1, trigger="webhook")  # whatever waited
    assert scim_group(college, "POST", "docent@team:ICT-A", staff[:2]).status_code == 201
    assert scim_group(college, "POST", "docent@opleiding:25604-BOL", staff[1:]).status_code == 201
    summary = college.run(1, trigger="webhook")
    assert (summary.outcome, summary.read, summary.dead) == ("ok", 2, 0), summary
    assert grants(college, "docent@team:ICT-A") == [(p, "docent", "team:ICT-A") for p in staff[:2]]
    assert grants(college, "docent@opleiding:25604-BOL") == [(p, "docent", "opleiding:25604-BOL") for p in staff[1:]]
    # the team loses a member: only what that group granted goes, the other scope stays
    replaced = scim_group(college, "PUT", "docent@team:ICT-A", staff[:1])
    assert replaced.status_code == 200, replaced.text
    assert college.run(1, trigger="webhook").outcome == "ok"
    assert grants(college, "docent@team:ICT-A") == [(staff[0], "docent", "team:ICT-A")]
    assert grants(college, "docent@opleiding:25604-BOL") == [(p, "docent", "opleiding:25604-BOL") for p in staff[1:]]
    assert college.sql("SELECT count(*) FROM role_assignment WHERE source = 'iam' AND role = 'docent' AND scope = ''") == [(0,)]


def test_01_a_group_with_an_unknown_kind_of_scope_is_refused_before_it_is_stored(college) -> None:
    college.run(1, trigger="webhook")
    staff = college.sql("SELECT person_number FROM staff ORDER BY person_number LIMIT 1")[0][0]
    refused = scim_group(college, "POST", "docent@afdeling:ICT", [staff])
    # Koppel's SCIM server maps a resource with interface 1's mapping and contract before its 201
    assert refused.status_code == 400 and "scope" in refused.json()["detail"], refused.text
    summary = college.run(1, trigger="webhook")
    assert (summary.read, summary.dead) == (0, 0), summary
    assert grants(college, "docent@afdeling:ICT") == []


# --- row 10: Intergrip --------------------------------------------------------------------------


def test_10_dossiers_found_by_bsn_with_every_file_fetched_and_stored(college) -> None:
    import hashlib

    from runtime.settings import documents_dir

    assert college.run(7, trigger="poll").outcome == "ok"  # the applicants (and their BSNs) are in the SIS
    summary = college.run(10, trigger="poll")
    assert (summary.outcome, summary.dead) == ("ok", 0), summary
    polls = [i for i in college.received("intergrip", "poll") if i["path"].endswith("/doorstroomdossiers")]
    assert polls and college.received("intergrip", "refused") == []
    fetched = [i["body"]["documentId"] for i in college.received("intergrip", "document")]
    assert len(fetched) == len(set(fetched)) and len({d.rsplit("-", 1)[0] for d in fetched}) == summary.read
    rows = college.sql(
        "SELECT d.document_id, d.kind, d.file_name, d.sha256, d.aanmeld_id, p.person_number FROM document d "
        "JOIN person p ON p.person_number = d.person_number WHERE d.document_id LIKE 'IG-%' ORDER BY d.document_id")
    # the doorstroomdossier and every LOB document of each dossier (none to three): each a row, each fetched
    assert sorted(r[0] for r in rows) == sorted(fetched)
    assert sum(r[1] == "doorstroomdossier" for r in rows) == summary.read and any(r[1] == "lob" for r in rows)
    folder = documents_dir(college.root)
    for document_id, _kind, file_name, sha256, aanmeld_id, _person in rows:
        assert aanmeld_id is None and file_name == f"{document_id}.pdf"
        data = (folder / file_name).read_bytes()
        assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == sha256
    # each dossier went to the person with its BSN: the same applicant Centraal Aanmelden sent
    people = college.sql("SELECT count(DISTINCT d.person_number) FROM document d JOIN application a "
                         "ON a.person_number = d.person_number WHERE d.document_id LIKE 'IG-%' "
                         "AND a.channel = 'centraal_aanmelden'")
    assert people == [(summary.read,)]


def test_10_intergrip_refuses_a_list_without_the_receiving_brin(college) -> None:
    token = (college.root / "sandbox" / "secrets" / "intergrip-token").read_text().strip()
    url = college.sandbox.url("intergrip") + "/doorstroomdossiers"
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(url, headers=headers, timeout=10).status_code == 400
    assert httpx.get(url, params={"brin": "99XX"}, headers=headers, timeout=10).status_code == 403
    listed = httpx.get(url, params={"brin": "30RR"}, headers=headers, timeout=10).json()["items"]
    assert listed and all("aanmeldId" not in d and d["brinMbo"] == "30RR" for d in listed)


def test_08_dry_run_shows_the_verification_with_the_licence_masked_and_sends_nothing(college) -> None:
    from runtime.engine.dryrun import dry_run

    licence = (college.root / "sandbox" / "secrets" / "sbb-licentie").read_text().strip()
    before = len(college.received("sbb"))
    items = dry_run(college.engine, 8, limit=2, from_start=True)
    sent = [i for i in items if i.status == "send"]
    assert sent, [(i.status, getattr(i, "reason", None)) for i in items]
    text = "\n".join(i.rendered for i in sent)
    assert "Verificatie" in text and "Kenmerk" in text and "*****" in text
    assert licence not in text
    assert len(college.received("sbb")) == before  # a dry-run asks SBB nothing

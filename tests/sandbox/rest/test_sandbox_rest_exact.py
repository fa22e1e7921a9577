"""Exact Online: rotating refresh tokens, SalesInvoices with $expand=SalesInvoiceLines, the debtor
Account, OData paging with __next, Exact's 400 for an unknown property in $filter/$select, and the
60-calls-a-minute limit with its headers."""

from __future__ import annotations

import re
from datetime import UTC

import pytest
from standin_helpers import (
    PROJECT,
    client,
    exact_headers,
    exact_refresh,
    secret,
    well_inside_a_clock_minute,
)

from sandbox.runner import Sandbox

LINES = "/salesinvoice/SalesInvoiceLines"
INVOICES = "/salesinvoice/SalesInvoices"
ACCOUNTS = "/crm/Accounts"


def test_each_refresh_returns_a_new_refresh_token_and_voids_the_old(sandbox):
    auth = sandbox.context("exact").settings.auth
    first = exact_refresh(sandbox)
    second = exact_refresh(sandbox)
    assert first["refresh_token"] != second["refresh_token"] and first["access_token"] != second["access_token"]
    again = client.post(auth.token_url, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                              "client_id": auth.client_id, "client_secret": secret("exact-client-secret")})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert second["expires_in"] == "600"


def test_wrong_client_secret_is_refused(sandbox):
    auth = sandbox.context("exact").settings.auth
    r = client.post(auth.token_url, data={"grant_type": "refresh_token", "refresh_token": "x",
                                          "client_id": auth.client_id, "client_secret": "wrong"})
    assert r.status_code == 401


def test_an_unknown_access_token_is_refused(sandbox):
    r = client.get(sandbox.url("exact") + LINES, headers={"Authorization": "Bearer made-up"})
    assert r.status_code == 401 and r.json()["error"]["message"]["value"]


def all_pages(url: str, headers: dict, **params) -> tuple[list[dict], int]:
    lines, pages = [], 0
    while url:
        r = client.get(url, headers=headers, params=params if pages == 0 else None)
        assert r.status_code == 200, r.text
        d = r.json()["d"]
        assert len(d["results"]) <= 60
        lines += d["results"]
        url, pages = d.get("__next"), pages + 1
    return lines, pages


def test_pages_follow_next_until_it_is_absent(sandbox):
    invoices, pages = all_pages(sandbox.url("exact") + INVOICES, exact_headers(sandbox))
    ids = [i["InvoiceID"] for i in invoices]
    assert pages >= 3 and len(ids) == len(set(ids))
    assert ids == sorted(ids)


def test_top_limits_across_pages(sandbox):
    lines, pages = all_pages(sandbox.url("exact") + INVOICES, exact_headers(sandbox), **{"$top": "70"})
    assert len(lines) == 70 and pages == 2


def test_invoices_expand_their_lines_and_name_a_debtor_account(sandbox):
    headers = exact_headers(sandbox)
    inv = client.get(sandbox.url("exact") + INVOICES, headers=headers,
                     params={"$top": "1", "$expand": "SalesInvoiceLines"}).json()["d"]["results"][0]
    assert re.fullmatch(r"/Date\(\d+\)/", inv["Modified"])
    assert inv["__metadata"]["type"] == "Exact.Web.Api.Models.SalesInvoice"
    lines = inv["SalesInvoiceLines"]["results"]
    assert 1 <= len(lines) <= 3 and {line["InvoiceID"] for line in lines} == {inv["InvoiceID"]}
    assert [line["LineNumber"] for line in lines] == list(range(1, len(lines) + 1))
    assert "Modified" not in lines[0] and lines[0]["__metadata"]["type"] == "Exact.Web.Api.Models.SalesInvoiceLine"
    assert round(sum(line["AmountDC"] for line in lines), 2) == inv["AmountDC"]
    accounts = client.get(sandbox.url("exact") + ACCOUNTS, headers=headers,
                          params={"$filter": f"ID eq guid'{inv['InvoiceTo']}'", "$select": "ID,Code"}).json()["d"]["results"]
    assert len(accounts) == 1 and set(accounts[0]) == {"__metadata", "ID", "Code"}
    assert len(accounts[0]["Code"]) == 18 and re.fullmatch(r" +S1\d{5}", accounts[0]["Code"])
    assert accounts[0]["Code"].strip() == inv["YourRef"]


def test_without_expand_the_lines_are_deferred(sandbox):
    inv = client.get(sandbox.url("exact") + INVOICES + "?$top=1", headers=exact_headers(sandbox)).json()["d"]["results"][0]
    assert set(inv["SalesInvoiceLines"]) == {"__deferred"}


def test_filter_on_modified_and_select_with_nested_fields(sandbox):
    headers = exact_headers(sandbox)
    select = "InvoiceID,Modified,SalesInvoiceLines/ID"
    invoices, _ = all_pages(sandbox.url("exact") + INVOICES, headers, **{"$select": select, "$expand": "SalesInvoiceLines"})
    assert set(invoices[0]) == {"__metadata", "InvoiceID", "Modified", "SalesInvoiceLines"}
    assert set(invoices[0]["SalesInvoiceLines"]["results"][0]) == {"__metadata", "ID"}
    stamps = sorted(int(i["Modified"][6:-2]) for i in invoices)
    middle = stamps[len(stamps) // 2]
    from datetime import datetime

    literal = datetime.fromtimestamp(middle / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    newer, _ = all_pages(sandbox.url("exact") + INVOICES, headers,
                         **{"$filter": f"Modified gt datetime'{literal}'", "$select": "InvoiceID,Modified"})
    got = [int(i["Modified"][6:-2]) for i in newer]
    assert got and all(stamp > middle for stamp in got)
    # the stand-in is shared with the rest of the session: an invoice changed between the two
    # listings is newer still, so the filter's answer lies between the counts before and after
    after, _ = all_pages(sandbox.url("exact") + INVOICES, headers, **{"$select": "InvoiceID,Modified"})
    later = [int(i["Modified"][6:-2]) for i in after]
    assert len([s for s in stamps if s > middle]) <= len(got) <= len([s for s in later if s > middle])


@pytest.mark.parametrize("path, query, message", [
    # today's interface 21: SalesInvoiceLines has no Modified (nor the invented DeliveryDate)
    (LINES, "$filter=Modified gt datetime'2026-01-01T00:00:00'",
     "No property 'Modified' exists in type 'Exact.Web.Api.Models.SalesInvoiceLine' at position 0."),
    (LINES, "$select=ID,Modified", "No property 'Modified' exists in type 'Exact.Web.Api.Models.SalesInvoiceLine' at position 3."),
    (LINES, "$select=ID,DeliveryDate", "No property 'DeliveryDate' exists in type 'Exact.Web.Api.Models.SalesInvoiceLine' at position 3."),
    (INVOICES, "$select=InvoiceID,SalesInvoiceLines/Modified&$expand=SalesInvoiceLines",
     "No property 'Modified' exists in type 'Exact.Web.Api.Models.SalesInvoiceLine' at position 28."),
    (INVOICES, "$select=SalesInvoiceLines/ID", "Only properties specified in $expand can be traversed"),
    (INVOICES, "$expand=Lines", "No property 'Lines' exists in type 'Exact.Web.Api.Models.SalesInvoice'"),
    (INVOICES, "$filter=Modified gt 2026-01-01", "Syntax error at position 0"),
    (INVOICES, "$filter=Bogus eq guid'x'", "No property 'Bogus' exists in type 'Exact.Web.Api.Models.SalesInvoice'"),
])
def test_unknown_properties_get_exacts_400(sandbox, path, query, message):
    r = client.get(sandbox.url("exact") + path + "?" + query, headers=exact_headers(sandbox))
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]["value"]


def test_every_answer_carries_the_rate_limit_headers(sandbox):
    r = client.get(sandbox.url("exact") + LINES + "?$top=1", headers=exact_headers(sandbox))
    for name in ("X-RateLimit-Minutely-Limit", "X-RateLimit-Minutely-Remaining", "X-RateLimit-Minutely-Reset",
                 "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert name in r.headers
    assert r.headers["X-RateLimit-Minutely-Limit"] == "60"
    assert int(r.headers["X-RateLimit-Minutely-Reset"]) % 60_000 == 0  # epoch ms of the next minute


def test_over_the_minutely_limit_is_429():
    with Sandbox(PROJECT, names=["exact"], free_ports=True, include_services=False,
                 options={"exact": {"minutely_limit": 3}}) as box:
        headers = exact_headers(box)
        well_inside_a_clock_minute()
        answers = [client.get(box.url("exact") + LINES + "?$top=1", headers=headers) for _ in range(4)]
        assert len({a.headers["X-RateLimit-Minutely-Reset"] for a in answers}) == 1
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["X-RateLimit-Minutely-Remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert answers[-1].json()["error"]["message"]["value"]

"""Exact Online (interface 21): rotating refresh tokens and OData v2 sales invoices.

    POST /api/oauth2/token     form: grant_type=refresh_token, refresh_token, client_id, client_secret
                               → {"access_token", "token_type": "bearer", "expires_in": "600",
                                  "refresh_token": <new>}; the old refresh token is void from then on
                               (400 {"error": "invalid_grant"} when it is used again)
    GET  /api/v1/{division}/salesinvoice/SalesInvoices
         ?$filter=Modified gt datetime'2026-11-01T00:00:00'   (eq/ne/gt/ge/lt/le, ``and``/``or``;
                                                               also ``InvoiceID eq guid'...'``)
         &$expand=SalesInvoiceLines
         &$select=InvoiceID,Modified,InvoiceTo,SalesInvoiceLines/ID,SalesInvoiceLines/AmountDC
         &$top=N   &$skiptoken=guid'<last InvoiceID>'
         → {"d": {"results": [...], "__next": "<url>"}} (``__next`` absent on the last page)
    GET  /api/v1/{division}/salesinvoice/SalesInvoiceLines   the lines on their own (no Modified)
    GET  /api/v1/{division}/crm/Accounts?$filter=ID eq guid'...' or ID eq guid'...'&$select=ID,Code

Field lists, the 400 for an unknown property in ``$filter``/``$select``/``$expand`` and the
nested-collection shapes are in ``exact_odata``. Records are ordered by their key; a page holds
``options.page_size`` (default 60) entities. Dates are ``/Date(<epoch ms>)/``. An invoice's
debtor (``InvoiceTo``) is an Account whose ``Code`` is the student number, right-aligned in 18
characters as Exact writes account codes (the college's convention: one debtor per student; a
parent who pays is recorded as the student's debtor too). Every API answer carries
``X-RateLimit-Minutely-Limit/-Remaining/-Reset`` (reset in epoch ms) and the daily
``X-RateLimit-Limit/-Remaining/-Reset``; more than ``options.minutely_limit`` (default 60)
calls in a clock minute get 429. Errors use Exact's body
``{"error": {"code": "", "message": {"lang": "", "value": "..."}}}``.

The refresh token the stand-in trusts at start is the one in var/sandbox/exact-refresh-token
(the runner writes one when missing: a fresh "consent").
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import exact_odata, synthetic
from sandbox.rest.common import base_path, form_fields, gate, option, same_secret
from sandbox.standin import StandinContext, control_routes

ITEMS = [("LESGELD", "Lesgeld", 1371.0, "VH"), ("LESMAT", "Lesmateriaal", 245.5, "VH"),
         ("EXCURSIE", "Excursie", 35.0, "VH"), ("LAPTOP", "Laptop (bruikleen)", 399.0, "VH")]
ACCOUNT_CODE_WIDTH = 18  # Exact writes account codes right-aligned in 18 characters


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": "", "message": {"lang": "", "value": message}}}, status_code=status,
                        headers=headers)


def odata_date(ts: float) -> str:
    return f"/Date({int(ts * 1000)})/"


class RateLimit:
    """Exact's per-minute and per-day call budget (clock-aligned windows)."""

    def __init__(self, per_minute: int, per_day: int) -> None:
        self.per_minute, self.per_day = per_minute, per_day
        self.minute = self.day = 0
        self.minute_calls = self.day_calls = 0
        self.lock = threading.Lock()

    def take(self) -> tuple[bool, dict[str, str]]:
        now = time.time()
        with self.lock:
            minute, day = int(now // 60), int(now // 86400)
            if minute != self.minute:
                self.minute, self.minute_calls = minute, 0
            if day != self.day:
                self.day, self.day_calls = day, 0
            allowed = self.minute_calls < self.per_minute and self.day_calls < self.per_day
            if allowed:
                self.minute_calls += 1
                self.day_calls += 1
            headers = {
                "X-RateLimit-Minutely-Limit": str(self.per_minute),
                "X-RateLimit-Minutely-Remaining": str(max(0, self.per_minute - self.minute_calls)),
                "X-RateLimit-Minutely-Reset": str((minute + 1) * 60_000),
                "X-RateLimit-Limit": str(self.per_day),
                "X-RateLimit-Remaining": str(max(0, self.per_day - self.day_calls)),
                "X-RateLimit-Reset": str((day + 1) * 86_400_000),
            }
        if not allowed:
            headers["Retry-After"] = str(max(1, int((minute + 1) * 60 - now) + 1))
        return allowed, headers


def account(seed: Any, division: int, student: str) -> dict[str, Any]:
    """The debtor of one student (the college keeps one per student, the student number as Code)."""
    r = synthetic.rng(seed, "account", student)
    return {"ID": synthetic.guid(r), "Code": student.rjust(ACCOUNT_CODE_WIDTH), "Name": f"Debiteur {student}",
            "Email": None, "City": "'s-Hertogenbosch", "Postcode": "5211 AB", "Status": "C", "IsSales": True,
            "Created": odata_date(1_700_000_000), "Modified": odata_date(1_700_000_000), "Division": division}


def invoice(seed: Any, division: int, index: int, modified: float) -> dict[str, Any]:
    """Invoice ``index`` with one to three lines; its debtor is one student's account."""
    r = synthetic.rng(seed, "exact", index)
    student = synthetic.student_number(r.randrange(10_000))
    debtor = account(seed, division, student)
    invoice_id = synthetic.guid(r)
    lines = []
    for number, (code, description, price, vat) in enumerate(r.sample(ITEMS, r.randint(1, 3)), start=1):
        lines.append({
            "ID": synthetic.guid(r), "AmountDC": price, "AmountFC": price, "CostCenter": "MBO",
            "CostCenterDescription": "Middelbaar beroepsonderwijs", "Description": description, "Discount": 0.0,
            "Division": division, "GLAccount": synthetic.guid(synthetic.rng(seed, "gl", code)), "InvoiceID": invoice_id,
            "Item": synthetic.guid(synthetic.rng(seed, "item", code)), "ItemCode": code, "ItemDescription": description,
            "LineNumber": number, "NetPrice": price, "Notes": None, "Quantity": 1.0, "UnitCode": "stuk",
            "UnitPrice": price, "VATAmountDC": 0.0, "VATAmountFC": 0.0, "VATCode": vat, "VATPercentage": 0.0,
        })
    amount = round(sum(line["AmountDC"] for line in lines), 2)
    day = odata_date(modified - modified % 86400)
    return {
        "InvoiceID": invoice_id, "AmountDC": amount, "AmountFC": amount, "AmountFCExclVat": amount, "Currency": "EUR",
        "Description": f"Schoolkosten {student}", "Division": division, "DueDate": odata_date(modified + 30 * 86400),
        "InvoiceDate": day, "InvoiceNumber": 26_000_000 + index, "InvoiceTo": debtor["ID"],
        "InvoiceToName": debtor["Name"], "Journal": "70", "Modified": odata_date(modified),
        "Created": odata_date(modified), "OrderedBy": debtor["ID"], "OrderedByName": debtor["Name"],
        "PaymentCondition": "30", "Status": 50, "StatusDescription": "Verwerkt", "Type": 8020,
        "TypeDescription": "Verkoopfactuur", "VATAmountDC": 0.0, "VATAmountFC": 0.0, "YourRef": student,
        "SalesInvoiceLines": lines,
    }


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    token_path = base_path(ctx, ctx.settings.auth.token_url)
    division = int(base.rstrip("/").rsplit("/", 1)[-1])
    client_id = ctx.settings.auth.client_id
    client_secret = ctx.secret(ctx.settings.auth.client_secret)
    seed = option(ctx, "seed", 21)
    page_size = int(option(ctx, "page_size", 60))
    ttl = int(option(ctx, "access_token_ttl", 600))
    limit = RateLimit(int(option(ctx, "minutely_limit", 60)), int(option(ctx, "daily_limit", 5000)))
    timeline = synthetic.Timeline(interval=float(option(ctx, "interval", 120)), backlog=int(option(ctx, "backlog", 150)))
    state = {"refresh": ctx.secret(ctx.settings.auth.refresh_token), "access": {}}
    lock = threading.Lock()

    async def token(request: Request) -> Response:
        form = await form_fields(request)
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if form.get("client_id") != client_id or not same_secret(str(form.get("client_secret", "")), client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        early = await gate(ctx, request, b"", lambda f: JSONResponse({"error": "invalid_grant"}, status_code=400))
        if early:
            return early
        with lock:
            if not same_secret(str(form.get("refresh_token", "")), state["refresh"]):
                ctx.received.add("token-refused", None, path=request.url.path)
                return JSONResponse({"error": "invalid_grant", "error_description": "refresh token is not valid"},
                                    status_code=400)
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
            state["refresh"] = refresh
            state["access"] = {k: v for k, v in state["access"].items() if v > time.time()}
            state["access"][access] = time.time() + ttl
        from runtime import redact

        redact.register_secret(access)
        redact.register_secret(refresh)
        ctx.received.add("token", None, path=request.url.path)
        return JSONResponse({"access_token": access, "token_type": "bearer", "expires_in": str(ttl),
                             "refresh_token": refresh})

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        expires = state["access"].get(header[7:].strip()) if header.startswith("Bearer ") else None
        return expires is not None and expires > time.time()

    def invoices(now: float) -> list[dict[str, Any]]:
        return [invoice(seed, division, i, timeline.appeared_at(i)) for i in range(timeline.visible(now))]

    def accounts(now: float) -> list[dict[str, Any]]:
        seen = {}
        for inv in invoices(now):
            student = inv["YourRef"]
            seen.setdefault(student, account(seed, division, student))
        return list(seen.values())

    def lines_of(now: float) -> list[dict[str, Any]]:
        return [line for inv in invoices(now) for line in inv["SalesInvoiceLines"]]

    sets = {  # path → (entity, key, rows)
        "salesinvoice/SalesInvoices": ("SalesInvoice", "InvoiceID", invoices),
        "salesinvoice/SalesInvoiceLines": ("SalesInvoiceLine", "ID", lines_of),
        "crm/Accounts": ("Account", "ID", accounts),
    }

    async def entity_set(request: Request) -> Response:
        if int(request.path_params["division"]) != division:
            return error(403, "Forbidden: no access to this division")
        if not authorized(request):
            return error(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})
        allowed, headers = limit.take()
        if not allowed:
            return error(429, "API rate limit exceeded", headers)
        early = await gate(ctx, request, b"", lambda f: error(400, "Bad request (sandbox fault)"))
        if early:
            early.headers.update(headers)
            return early
        path = f"{request.path_params['service']}/{request.path_params['entity']}"
        if path not in sets:
            return error(404, f"Resource not found for the segment '{request.path_params['entity']}'.", headers)
        entity, key, rows_of = sets[path]
        q = request.query_params
        try:
            expand = exact_odata.parse_expand(q.get("$expand", ""), entity)
            conditions = exact_odata.parse_filter(q.get("$filter", ""), entity)
            own, nested = exact_odata.parse_select(q.get("$select", ""), entity, expand)
            top = int(q["$top"]) if "$top" in q else None
        except ValueError as exc:  # QueryError too: Exact's own text
            ctx.received.add("refused", {"path": path, "reason": str(exc)}, path=request.url.path)
            return error(400, str(exc), headers)
        after = q.get("$skiptoken", "").removeprefix("guid'").removesuffix("'") or None
        rows = sorted((r for r in rows_of(time.time()) if exact_odata.matches(r, conditions)), key=lambda r: r[key])
        if after:
            rows = [r for r in rows if r[key] > after]
        if top is not None:
            rows = rows[:top]
        page, more = rows[:page_size], len(rows) > page_size
        root = f"{request.base_url}{base.lstrip('/')}/{path}"
        results = [exact_odata.project(r, own, nested, expand, f"{root}(guid'{r[key]}')", entity) for r in page]
        d: dict[str, Any] = {"results": results}
        if more:
            params = {k: v for k, v in q.items() if k != "$skiptoken"}
            params["$skiptoken"] = f"guid'{page[-1][key]}'"
            if top is not None:
                params["$top"] = str(top - len(page))
            d["__next"] = str(request.url.replace(query=urlencode(params)))
        ctx.received.add("poll", {"path": path, "filter": q.get("$filter"), "expand": q.get("$expand"),
                                  "skiptoken": after, "count": len(results),
                                  "keys": [r[key] for r in page]}, path=request.url.path)
        return JSONResponse({"d": d}, headers=headers)

    api = base.rsplit("/", 1)[0]  # /api/v1
    return Starlette(routes=control_routes(ctx) + [
        Route(token_path, token, methods=["POST"]),
        Route(f"{api}/{{division:int}}/{{service:str}}/{{entity:str}}", entity_set, methods=["GET"]),
    ])

"""Exact Online (interface 21): rotating refresh tokens and OData v2 SalesInvoiceLines.

    POST /api/oauth2/token     form: grant_type=refresh_token, refresh_token, client_id, client_secret
                               → {"access_token", "token_type": "bearer", "expires_in": "600",
                                  "refresh_token": <new>}; the old refresh token is void from then on
                               (400 {"error": "invalid_grant"} when it is used again)
    GET  /api/v1/{division}/salesinvoice/SalesInvoiceLines
         ?$filter=Modified gt datetime'2026-11-01T00:00:00'   (ge/gt/le/lt/eq, joined with ``and``;
                                                               also ``InvoiceID eq guid'...'``)
         &$select=ID,Modified,AmountDC   &$top=N   &$skiptoken=guid'<last ID>'
         → {"d": {"results": [...], "__next": "<url>"}} (``__next`` absent on the last page)

Records are ordered by ID; a page holds ``options.page_size`` (default 60) lines. Dates are
``/Date(<epoch ms>)/``. The student number is in the line's ``Notes`` (the college's
convention in this sandbox; Exact has no such field). Every API answer carries
``X-RateLimit-Minutely-Limit/-Remaining/-Reset`` (reset in epoch ms) and the daily
``X-RateLimit-Limit/-Remaining/-Reset``; more than ``options.minutely_limit`` (default 60)
calls in a clock minute get 429. Errors use Exact's body
``{"error": {"code": "", "message": {"lang": "", "value": "..."}}}``.

The refresh token the stand-in trusts at start is the one in var/sandbox/exact-refresh-token
(the runner writes one when missing: a fresh "consent").
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import synthetic
from sandbox.rest.common import same_secret, base_path, form_fields, gate, option
from sandbox.standin import StandinContext, control_routes

ITEMS = [("LESGELD", "Lesgeld", 1371.0, "VH"), ("LESMAT", "Lesmateriaal", 245.5, "VH"),
         ("EXCURSIE", "Excursie", 35.0, "VH"), ("LAPTOP", "Laptop (bruikleen)", 399.0, "VH")]
FIELDS = ("ID", "AmountDC", "AmountFC", "CostCenter", "Description", "Discount", "Division", "GLAccount",
          "InvoiceID", "Item", "ItemCode", "ItemDescription", "LineNumber", "Modified", "NetPrice", "Notes",
          "Quantity", "UnitCode", "UnitPrice", "VATAmountDC", "VATCode", "VATPercentage", "DeliveryDate")
CONDITION = re.compile(r"^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(datetime|guid)'([^']*)'\s*$")


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


def invoice_line(seed: Any, division: int, index: int, modified: float) -> dict[str, Any]:
    r = synthetic.rng(seed, "exact", index)
    code, description, price, vat = r.choice(ITEMS)
    quantity = 1.0
    invoice = synthetic.guid(synthetic.rng(seed, "invoice", index // 2))
    return {
        "ID": synthetic.guid(r),
        "AmountDC": price * quantity, "AmountFC": price * quantity, "CostCenter": "MBO", "Description": description,
        "Discount": 0.0, "Division": division, "GLAccount": synthetic.guid(synthetic.rng(seed, "gl", code)),
        "InvoiceID": invoice, "Item": synthetic.guid(synthetic.rng(seed, "item", code)), "ItemCode": code,
        "ItemDescription": description, "LineNumber": index % 2 + 1, "Modified": odata_date(modified),
        "NetPrice": price, "Notes": synthetic.student_number(r.randrange(10_000)), "Quantity": quantity,
        "UnitCode": "stuk", "UnitPrice": price, "VATAmountDC": 0.0, "VATCode": vat, "VATPercentage": 0.0,
        "DeliveryDate": odata_date(modified - modified % 86400),
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

    async def lines(request: Request) -> Response:
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
        q = request.query_params
        try:
            conditions = _parse_filter(q.get("$filter", ""))
            top = int(q["$top"]) if "$top" in q else None
        except ValueError as exc:
            return error(400, str(exc), headers)
        select = [f.strip() for f in q.get("$select", "").split(",") if f.strip()]
        unknown = [f for f in select if f not in FIELDS]
        if unknown:
            return error(400, f"Invalid $select: {', '.join(unknown)}", headers)
        after = q.get("$skiptoken", "").removeprefix("guid'").removesuffix("'") or None
        now = time.time()
        rows = [invoice_line(seed, division, i, timeline.appeared_at(i)) for i in range(timeline.visible(now))]
        rows = sorted((r for r in rows if all(_holds(r, c) for c in conditions)), key=lambda r: r["ID"])
        if after:
            rows = [r for r in rows if r["ID"] > after]
        if top is not None:
            rows = rows[:top]
        page, more = rows[:page_size], len(rows) > page_size
        results = [_project(r, select, request, base) for r in page]
        d: dict[str, Any] = {"results": results}
        if more:
            params = {k: v for k, v in q.items() if k != "$skiptoken"}
            params["$skiptoken"] = f"guid'{page[-1]['ID']}'"
            if top is not None:
                params["$top"] = str(top - len(page))
            d["__next"] = str(request.url.replace(query=urlencode(params)))
        ctx.received.add("poll", {"filter": q.get("$filter"), "skiptoken": after, "count": len(results)},
                         path=request.url.path)
        return JSONResponse({"d": d}, headers=headers)

    api = base.rsplit("/", 1)[0]  # /api/v1
    return Starlette(routes=control_routes(ctx) + [
        Route(token_path, token, methods=["POST"]),
        Route(f"{api}/{{division:int}}/salesinvoice/SalesInvoiceLines", lines, methods=["GET"]),
    ])


def _parse_filter(text: str) -> list[tuple[str, str, Any]]:
    if not text.strip():
        return []
    conditions = []
    for part in re.split(r"\s+and\s+", text.strip()):
        m = CONDITION.match(part)
        if not m:
            raise ValueError(f"Invalid $filter: '{part.strip()}' (supported: <Field> <op> datetime'...'|guid'...')")
        field, op, kind, literal = m.groups()
        if field not in FIELDS:
            raise ValueError(f"Invalid $filter: unknown property '{field}'")
        if kind == "datetime":
            try:
                value: Any = synthetic.parse_iso(literal)
            except ValueError as exc:
                raise ValueError(f"Invalid $filter: bad datetime '{literal}'") from exc
        else:
            value = literal.lower()
        conditions.append((field, op, value))
    return conditions


def _holds(row: dict[str, Any], condition: tuple[str, str, Any]) -> bool:
    field, op, value = condition
    actual: Any = row.get(field)
    if isinstance(actual, str) and actual.startswith("/Date("):
        actual = int(actual[6:-2]) / 1000
    elif isinstance(actual, str):
        actual = actual.lower()
    return {"eq": actual == value, "ne": actual != value, "gt": actual > value, "ge": actual >= value,
            "lt": actual < value, "le": actual <= value}[op]


def _project(row: dict[str, Any], select: list[str], request: Request, base: str) -> dict[str, Any]:
    uri = f"{request.base_url}{base.lstrip('/')}/salesinvoice/SalesInvoiceLines(guid'{row['ID']}')"
    meta = {"__metadata": {"uri": uri, "type": "Exact.Web.Api.Models.SalesInvoiceLine"}}
    return {**meta, **({k: row[k] for k in select} if select else row)}

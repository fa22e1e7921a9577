"""What the REST stand-ins share: base paths, authentication checks, the fault gate, paging.

Every stand-in checks credentials the way its real system does *before* anything else (a
request without credentials never reaches the fault switch or the recorder), then asks
``gate`` whether a queued fault applies, then validates and records.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.standin import Fault, StandinContext, apply_common_fault


def base_path(ctx: StandinContext, url: str | None = None) -> str:
    """The path part of the system's sandbox URL (``http://127.0.0.1:8502/ooapi`` → ``/ooapi``)."""
    return urlsplit(url or ctx.settings.url or "").path.rstrip("/")


def option(ctx: StandinContext, name: str, default: Any) -> Any:
    return (ctx.settings.options or {}).get(name, default)


def option_secret(ctx: StandinContext, name: str) -> str | None:
    """An option holding a secret reference (``${file:...}``), resolved; None when unset."""
    value = option(ctx, name, None)
    if value is None:
        return None
    from runtime.secrets import is_reference

    return ctx.secret(value) if is_reference(value) else str(value)


# -- authentication ----------------------------------------------------------------------------


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def unauthorized(message: str = "missing or invalid credentials", scheme: str = "Bearer") -> Response:
    return JSONResponse({"error": "unauthorized", "message": message}, status_code=401,
                        headers={"WWW-Authenticate": f'{scheme} realm="sandbox"'})


def bearer_checker(ctx: StandinContext) -> Callable[[Request], Response | None]:
    """A check of ``Authorization: Bearer <token>`` against the catalog's sandbox token."""
    token = ctx.secret(ctx.settings.auth.token)

    def check(request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not same_secret(header[7:].strip(), token):
            return unauthorized()
        return None

    return check


def basic_checker(ctx: StandinContext) -> Callable[[Request], Response | None]:
    username = ctx.settings.auth.username
    password = ctx.secret(ctx.settings.auth.password)

    def check(request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return unauthorized(scheme="Basic")
        try:
            user, _, given = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return unauthorized(scheme="Basic")
        if user != username or not same_secret(given, password):
            return unauthorized(scheme="Basic")
        return None

    return check


# -- faults -----------------------------------------------------------------------------------


def fault_text(request: Request, body: bytes) -> str:
    """What a fault's ``match`` is looked for in: method, path, query and body."""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.method} {request.url.path}{query}\n{body.decode('utf-8', 'replace')}"


async def admit(ctx: StandinContext, request: Request, auth: Callable[[Request], Response | None]) -> Response | None:
    """For a read endpoint: authentication first (a call without credentials is always a 401),
    then whatever fault is queued for this request; None to handle it."""
    denied = auth(request)
    if denied:
        return denied
    return await gate(ctx, request, b"", lambda f: problem(400, "request rejected (sandbox fault)"))


async def changes_since(ctx: StandinContext, request: Request, auth: Callable[[Request], Response | None],
                        param: str, items: Callable[[float | None], list]) -> Response:
    """A paged list of what changed after the exclusive watermark ``param`` (Centraal Aanmelden's
    applications, Intergrip's dossiers): credentials, faults, watermark, page, record the poll."""
    refused = await admit(ctx, request, auth)
    if refused:
        return refused
    since = since_param(request, param)
    if isinstance(since, Response):
        return since
    paging = page_params(request, default_size=20, max_size=100)
    if isinstance(paging, Response):
        return paging
    ctx.received.add("poll", {param: request.query_params.get(param), "page": paging[0]}, path=request.url.path)
    return paged_response(request, items(since), *paging)


def since_param(request: Request, name: str) -> float | Response | None:
    """An exclusive watermark query parameter (ISO 8601) as epoch seconds, or a 400 problem."""
    from sandbox.rest import synthetic

    text = request.query_params.get(name)
    try:
        return synthetic.parse_iso(text) if text else None
    except ValueError:
        return problem(400, f"{name} must be an ISO 8601 timestamp")


async def gate(
    ctx: StandinContext, request: Request, body: bytes, reject: Callable[[Fault], Response]
) -> Response | None:
    """The response a queued fault dictates (slow only waits), or None to handle the request.

    ``options.requests_per_minute`` (any stand-in) adds a rate limit: over it, a 429 with
    ``Retry-After`` until the clock minute turns, as an API gateway would answer.
    """
    limited = _over_rate_limit(ctx)
    if limited is not None:
        return limited
    fault = ctx.faults.take(fault_text(request, body))
    if fault is None:
        return None
    if fault.mode == "reject":
        ctx.received.add("rejected", _loads(body), path=request.url.path, fault="reject")
        return reject(fault)
    if fault.mode == "fault":  # a SOAP fault has no meaning over REST: the nearest is a 500
        fault = Fault(mode="500")
    return await apply_common_fault(fault)


_windows: dict[int, list[int]] = {}


def _over_rate_limit(ctx: StandinContext) -> Response | None:
    limit = option(ctx, "requests_per_minute", None)
    if not limit:
        return None
    now = time.time()
    minute = int(now // 60)
    window = _windows.setdefault(id(ctx), [minute, 0])
    if window[0] != minute:
        window[:] = [minute, 0]
    window[1] += 1
    if window[1] <= int(limit):
        return None
    wait = max(1, int((minute + 1) * 60 - now) + 1)
    return JSONResponse({"error": "too_many_requests", "message": f"more than {limit} requests a minute"},
                        status_code=429, headers={"Retry-After": str(wait)})


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "replace")


async def json_body(request: Request) -> tuple[bytes, Any, Response | None]:
    """The raw body, its JSON, or a 400 when it is not JSON."""
    body = await request.body()
    try:
        return body, json.loads(body), None
    except ValueError:
        return body, None, JSONResponse({"error": "bad_request", "message": "body is not valid JSON"}, 400)


def problem(status: int, title: str, errors: list[str] | None = None, **extra: Any) -> JSONResponse:
    """An RFC 7807 problem (the error body of OOAPI, NED OKE and our own stand-ins)."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, **extra}
    if errors:
        body["detail"] = "; ".join(errors[:5])
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


# -- paging -----------------------------------------------------------------------------------


def page_params(request: Request, default_size: int = 50, max_size: int = 250) -> tuple[int, int] | Response:
    """``pageNumber``/``page`` (1-based) and ``pageSize``; a 400 when they are not numbers."""
    q = request.query_params
    try:
        number = int(q.get("pageNumber") or q.get("page") or 1)
        size = int(q.get("pageSize") or default_size)
    except ValueError:
        return problem(400, "pageNumber and pageSize must be integers")
    if number < 1 or size < 1:
        return problem(400, "pageNumber and pageSize must be at least 1")
    return number, min(size, max_size)


def ooapi_page(items: list[Any], number: int, size: int) -> dict[str, Any]:
    """The OOAPI v5 page envelope (also used by NED OKE)."""
    total_pages = max(1, math.ceil(len(items) / size))
    start = (number - 1) * size
    return {
        "pageSize": size,
        "pageNumber": number,
        "hasPreviousPage": number > 1,
        "hasNextPage": number < total_pages,
        "totalPages": total_pages,
        "items": items[start : start + size],
    }


def simple_page(request: Request, items: list[Any], number: int, size: int) -> dict[str, Any]:
    """The envelope of the stand-ins without a public contract: items plus a ``next`` link."""
    start = (number - 1) * size
    has_next = start + size < len(items)
    next_url = None
    if has_next:
        params = dict(request.query_params)
        params.update(page=str(number + 1), pageSize=str(size))
        next_url = str(request.url.replace(query=urlencode(params)))
    return {
        "items": items[start : start + size],
        "page": number,
        "pageSize": size,
        "totalItems": len(items),
        "next": next_url,
    }


# -- the usual way of accepting a JSON message ------------------------------------------------


def default_reject(fault: Fault) -> Response:
    return problem(422, "record rejected (sandbox fault)", code=fault.code or "REJECTED")


async def receive(
    ctx: StandinContext,
    request: Request,
    *,
    auth: Callable[[Request], Response | None],
    kind: str,
    validate: Callable[[Any], list[str]] | None = None,
    reject: Callable[[Fault], Response] = default_reject,
    invalid: Callable[[list[str]], Response] | None = None,
    respond: Callable[[Any], Response] | None = None,
    **extra: Any,
) -> Response:
    """Authenticate, parse, apply a queued fault, validate, record, answer.

    A contract violation is recorded as ``refused`` (with the errors) and answered with
    ``invalid(errors)`` (default: a 400 problem); an accepted message is recorded as ``kind``.
    """
    denied = auth(request)
    if denied is not None:
        return denied
    body, data, bad = await json_body(request)
    if bad is not None:
        return bad
    early = await gate(ctx, request, body, reject)
    if early is not None:
        return early
    errors = validate(data) if validate else []
    if errors:
        ctx.received.add("refused", data, path=request.url.path, method=request.method, errors=errors, **extra)
        return invalid(errors) if invalid else problem(400, "request does not match the contract", errors)
    ctx.received.add(kind, data, path=request.url.path, method=request.method, **extra)
    return respond(data) if respond else JSONResponse({"status": "accepted"}, status_code=201)


def required_fields(*names: str) -> Callable[[Any], list[str]]:
    """The minimal own contract of a stand-in without a public one: these fields must be there."""

    def check(data: Any) -> list[str]:
        if not isinstance(data, dict):
            return ["(root): must be a JSON object"]
        return [f"(root): '{n}' is a required property" for n in names if data.get(n) in (None, "")]

    return check


def openapi_document(ctx: StandinContext, relative: str):
    """The public OpenAPI document, or None when ../shared/specs is absent."""
    path = ctx.contract(relative)
    if path is None:
        return None
    from sandbox.rest import openapi

    return openapi.load(path)


async def form_fields(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (OAuth2 token requests) as a dict."""
    from urllib.parse import parse_qsl

    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def paged_response(request: Request, items: list[Any], number: int, size: int) -> JSONResponse:
    """``simple_page`` as a response, with the next page also in an RFC 8288 ``Link`` header."""
    page = simple_page(request, items, number, size)
    headers = {"Link": f'<{page["next"]}>; rel="next"'} if page["next"] else None
    return JSONResponse(page, headers=headers)

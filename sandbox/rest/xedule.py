"""Xedule Connect (interface 22): the day timetable behind Azure API Management, tokens from Azure AD.

    POST /{tenant}/oauth2/v2.0/token   Azure AD's v2 token endpoint (the path of the catalog's
                               sandbox token_url): form grant_type=client_credentials, client_id,
                               client_secret (or HTTP Basic), scope=api://xedule-connect/.default
                               → {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                  "access_token"}. As Azure AD: no scope is 400 invalid_request
                               (AADSTS900144), another scope 400 invalid_scope (AADSTS70011), a
                               wrong secret 401 invalid_client (AADSTS7000215), another tenant 400
                               (AADSTS90002).
    GET  /api/activities?startDate=2026-11-30&endDate=2026-12-04&page=1&pageSize=100
         (or ?days=14: from startDate, default today, that many days)
         headers: Authorization: Bearer <token>, Ocp-Apim-Subscription-Key: <key>
         → {"items": [activity...], "page", "pageSize", "totalItems", "next"}; the next page's
           URL is also in a ``Link: <...>; rel="next"`` header

A missing or wrong subscription key is APIM's 401 ``{"statusCode": 401, "message": ...}``; a
missing or expired token is a 401 as well. The range is inclusive and at most 31 days (400
otherwise). Activities exist on weekdays only, ordered by start time; the same day always
gives the same activities (seeded by date), so a nightly replace-by-day is idempotent. An
activity (times in Europe/Amsterdam):

    {"id": "XED-20261130-003", "date": "2026-11-30", "start": "2026-11-30T10:30:00+01:00",
     "end": "2026-11-30T12:00:00+01:00", "type": "les", "description": "Programmeren",
     "courseCode": "PRG", "groups": ["25998-BOL-2026-A"], "teachers": ["D10003"], "rooms": ["OB-2.14"],
     "location": "Onderwijsboulevard", "crebo": "25998", "lastModified": "...Z"}

Groups are named like the seed's (``<program_code>-<year>-<letter>``): by default the first-year
groups ``<crebo>-BOL-2026-A`` of four programs, teachers are staff numbers ``D10001``-``D10006``.
``options.groups`` / ``options.teachers`` replace them (the demo can pass what its SIS holds).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import synthetic
from sandbox.rest.common import (
    admit,
    base_path,
    form_fields,
    option,
    page_params,
    paged_response,
    problem,
    same_secret,
)
from sandbox.standin import StandinContext, control_routes

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SLOTS = [(8, 30), (10, 30), (13, 0), (14, 45)]
COURSES = [("PRG", "Programmeren"), ("NED", "Nederlands"), ("ENG", "Engels"), ("REK", "Rekenen"),
           ("LOB", "Loopbaanbegeleiding"), ("BPV", "BPV-terugkomdag"), ("BRG", "Burgerschap"), ("PRJ", "Project")]
TEACHERS = [f"D{10001 + i}" for i in range(6)]  # staff numbers of the seeded college
ROOMS = ["OB-1.12", "OB-2.14", "OB-2.20", "HP-0.05", "HP-1.01"]
SCOPE = "api://xedule-connect/.default"  # the Xedule Connect app registration's scope


def aad_error(status: int, code: str, description: str) -> JSONResponse:
    """Azure AD's error body."""
    return JSONResponse({"error": code, "error_description": description, "error_codes": [int(description[6:].split(":")[0])]},
                        status_code=status)


def default_groups() -> list[str]:
    """First-year groups of four programs, named as the seed names groups."""
    return [f"{crebo}-BOL-2026-A" for crebo in sorted(synthetic.CREBOS)[:4]]


def activities_for(seed: Any, day: dt.date, groups: list[str] | None = None,
                   teachers: list[str] | None = None) -> list[dict[str, Any]]:
    if day.weekday() >= 5:
        return []
    r = synthetic.rng(seed, "xedule", day.isoformat())
    out = []
    for group in groups or default_groups():
        crebo = group.split("-", 1)[0]
        for hour, minute in r.sample(SLOTS, 2):
            code, description = r.choice(COURSES)
            start = dt.datetime.combine(day, dt.time(hour, minute), AMSTERDAM)
            out.append({
                "date": day.isoformat(), "start": start.isoformat(),
                "end": (start + dt.timedelta(minutes=90)).isoformat(), "type": "les" if code != "BPV" else "terugkomdag",
                "description": description, "courseCode": code, "groups": [group], "teachers": [r.choice(teachers or TEACHERS)],
                "rooms": [r.choice(ROOMS)], "location": "Onderwijsboulevard", "crebo": crebo,
                "lastModified": f"{(day - dt.timedelta(days=3)).isoformat()}T22:00:00.000Z",
            })
    out.sort(key=lambda a: (a["start"], a["groups"][0]))
    for number, activity in enumerate(out, start=1):
        activity["id"] = f"XED-{day.strftime('%Y%m%d')}-{number:03d}"
    return [{"id": a.pop("id"), **a} for a in out]


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    token_path = base_path(ctx, ctx.settings.auth.token_url)
    tenant = token_path.strip("/").split("/", 1)[0]  # /{tenant}/oauth2/v2.0/token
    client_id = ctx.settings.auth.client_id
    client_secret = ctx.secret(ctx.settings.auth.client_secret)
    key_header, key_ref = next(iter(ctx.settings.auth.headers.items()))
    subscription_key = ctx.secret(key_ref)
    seed = option(ctx, "seed", 22)
    groups = option(ctx, "groups", None)  # the demo may pass the groups its seeded SIS has
    teachers = option(ctx, "teachers", None)
    ttl = int(option(ctx, "access_token_ttl", 3599))
    tokens: dict[str, float] = {}

    async def token(request: Request) -> Response:
        if request.path_params["tenant"] != tenant:
            return aad_error(400, "invalid_request", f"AADSTS90002: Tenant '{request.path_params['tenant']}' not found.")
        form = await form_fields(request)
        given_id, given_secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            given_id, _, given_secret = base64.b64decode(header[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return aad_error(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        if not form.get("scope"):
            ctx.received.add("token-refused", {"reason": "no scope"}, path=request.url.path)
            return aad_error(400, "invalid_request", "AADSTS900144: The request body must contain the following "
                             "parameter: 'scope'.")
        if form["scope"].split() != [SCOPE]:
            ctx.received.add("token-refused", {"reason": f"scope {form['scope']}"}, path=request.url.path)
            return aad_error(400, "invalid_scope", f"AADSTS70011: The provided value for the input parameter 'scope' "
                             f"is not valid. The scope {form['scope']} is not valid.")
        if given_id != client_id or not same_secret(str(given_secret or ""), client_secret):
            return aad_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        access = secrets.token_urlsafe(24)
        tokens[access] = time.time() + ttl
        from runtime import redact

        redact.register_secret(access)
        ctx.received.add("token", {"scope": form["scope"]}, path=request.url.path)
        return JSONResponse({"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": access})

    def auth(request: Request) -> Response | None:
        if not same_secret(request.headers.get(key_header, ""), subscription_key):
            return JSONResponse({"statusCode": 401, "message": "Access denied due to missing subscription key. "
                                 "Make sure to include subscription key when making requests to an API."},
                                status_code=401)
        header = request.headers.get("authorization", "")
        expires = tokens.get(header[7:].strip()) if header.startswith("Bearer ") else None
        if expires is None or expires < time.time():
            return JSONResponse({"statusCode": 401, "message": "Unauthorized. Access token is missing or invalid."},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return None

    async def activities(request: Request) -> Response:
        refused = await admit(ctx, request, auth)
        if refused:
            return refused
        q = request.query_params
        try:
            first = dt.date.fromisoformat(q["startDate"]) if "startDate" in q else dt.date.today()
            if "days" in q:
                last = first + dt.timedelta(days=int(q["days"]) - 1)
            else:
                last = dt.date.fromisoformat(q.get("endDate") or first.isoformat())
        except ValueError:
            return problem(400, "startDate/endDate must be dates (YYYY-MM-DD) and days a number")
        if last < first or (last - first).days > 30:
            return problem(400, "the range must run forward and span at most 31 days")
        paging = page_params(request, default_size=100, max_size=500)
        if isinstance(paging, Response):
            return paging
        items = []
        day = first
        while day <= last:
            items += activities_for(seed, day, groups, teachers)
            day += dt.timedelta(days=1)
        ctx.received.add("poll", {"startDate": first.isoformat(), "endDate": last.isoformat(), "page": paging[0]},
                         path=request.url.path)
        return paged_response(request, items, *paging)

    return Starlette(routes=control_routes(ctx) + [
        Route("/{tenant:str}/oauth2/v2.0/token", token, methods=["POST"]),
        Route(f"{base}/activities", activities, methods=["GET"]),
    ])

"""Centraal Aanmelden MBO (interface 7): applications polled by Koppel.

The CAMBO→SIS interface is not public; this stand-in's own contract:

    GET {base}/aanmeldingen?gewijzigdSinds=<ISO 8601>&page=1&pageSize=20     bearer
    → {"items": [application...], "page": 1, "pageSize": 20, "totalItems": 31,
       "next": "/api/aanmeldingen?gewijzigdSinds=...&page=2&pageSize=20" | null}

Items are ordered by ``gewijzigdOp`` (oldest first); ``gewijzigdSinds`` is exclusive, so the
largest ``gewijzigdOp`` seen is the next watermark. An application (see applications.py):

    {"aanmeldId": "CA-2027-000001", "gewijzigdOp": "...Z", "ingediendOp": "...Z", "status": "aangemeld",
     "instelling": {"brin": "30RR"},
     "persoon": {"bsn", "voornamen", "roepnaam", "voorvoegsel", "achternaam", "geboortedatum",
                 "geslacht", "email", "telefoon", "adres": {...}},
     "opleiding": {"crebo": "25998", "naam", "niveau": 4, "leerweg": "BOL",
                   "cohortcode": "25998-BOL-2027"},       ← the RIO cohort code = SIS cohort_code
     "cohort": "2027", "startdatum": "2027-08-31", "vooropleiding": {"brin", "soort"}}

New applications appear over time (options: ``seed`` 7, ``interval`` 60 s, ``backlog`` 25).
``GET {base}/aanmeldingen/{aanmeldId}`` returns one.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import applications, synthetic
from sandbox.rest.common import base_path, bearer_checker, changes_since, option, problem
from sandbox.standin import StandinContext, control_routes


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    auth = bearer_checker(ctx)
    seed = option(ctx, "seed", 7)
    timeline = synthetic.Timeline(interval=float(option(ctx, "interval", 60)), backlog=int(option(ctx, "backlog", 25)))

    async def list_(request: Request) -> Response:
        return await changes_since(ctx, request, auth, "gewijzigdSinds",
                                   lambda since: applications.visible(seed, timeline, since))

    async def one(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        wanted = request.path_params["id"]
        for item in applications.visible(seed, timeline, None):
            if item["aanmeldId"] == wanted:
                return JSONResponse(item)
        return problem(404, "no such application")

    return Starlette(routes=control_routes(ctx) + [
        Route(f"{base}/aanmeldingen", list_, methods=["GET"]),
        Route(f"{base}/aanmeldingen/{{id:str}}", one, methods=["GET"]),
    ])

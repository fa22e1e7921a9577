"""Voorziening vroegtijdig aanmelden (interface 12): receives the five legal application statuses.

The PvE VVA message format is not public; this stand-in's own contract (replace it with the
vendor's when the college receives it):

    POST {base}/aanmeldstatussen      bearer
    {"aanmeldId": "CA-2027-000012", "bsn": "123456782", "brinMbo": "30RR", "brinVo": "20AB",
     "opleiding": "25604", "status": "aangemeld", "statusDatum": "2026-11-28"}
    → 201 {"status": "accepted", "id": "<aanmeldId>"}

``status`` must be one of the five statuses the law (WEB art. 8.0.3) requires, written as the
SIS writes them (``aangemeld``, ``onderwijsovereenkomst_aangeboden``,
``leidt_niet_tot_inschrijving``, ``ingetrokken``, ``ingeschreven``); anything else is a 422.
The applicant's BSN (passing the elfproef) or, for one without a BSN, the onderwijsnummer
(nine digits) is required, exactly one of them (422 otherwise). ``brinMbo`` and, when the
applicant comes from a vo-school, ``brinVo`` (the koppelpunt routes the status to that school)
must be BRIN codes (two digits, two capitals).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest.common import (
    base_path,
    bearer_checker,
    problem,
    receive,
    required_fields,
)
from sandbox.standin import StandinContext, control_routes

STATUSES = ("aangemeld", "onderwijsovereenkomst_aangeboden", "leidt_niet_tot_inschrijving", "ingetrokken",
            "ingeschreven")
REQUIRED = ("aanmeldId", "opleiding", "status", "statusDatum")


def validate(data: Any) -> list[str]:
    from runtime.redact import elfproef

    errors = required_fields(*REQUIRED)(data)
    if errors:
        return errors
    if data["status"] not in STATUSES:
        errors.append(f"status: '{data['status']}' is not one of the five legal statuses {list(STATUSES)}")
    # The applicant's personal number: the BSN, or the onderwijsnummer of one who has none.
    if ("bsn" in data) == ("onderwijsnummer" in data):
        errors.append("bsn / onderwijsnummer: give exactly one of them")
    elif "bsn" in data and not elfproef(str(data["bsn"])):
        errors.append("bsn: not a valid BSN (elfproef)")  # never echo the number itself
    elif "onderwijsnummer" in data and not (str(data["onderwijsnummer"]).isdigit() and len(str(data["onderwijsnummer"])) == 9):
        errors.append("onderwijsnummer: nine digits expected")
    for field in ("brinMbo", "brinVo"):
        if field in data and not re.fullmatch(r"[0-9]{2}[A-Z]{2}", str(data[field])):
            errors.append(f"{field}: not a BRIN code (two digits, two capitals)")
    return errors


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    auth = bearer_checker(ctx)

    async def post(request: Request) -> Response:
        return await receive(
            ctx, request, auth=auth, kind="aanmeldstatus", validate=validate,
            invalid=lambda errors: problem(422, "status not accepted", errors),
            respond=lambda data: JSONResponse({"status": "accepted", "id": data["aanmeldId"]}, status_code=201),
        )

    return Starlette(routes=control_routes(ctx) + [Route(f"{base}/aanmeldstatussen", post, methods=["POST"])])

"""Intergrip (interfaces 10 and 11): doorstroomdossiers and LOB documents out, MBO-check status in.

Intergrip's API is not public; this stand-in's own contract (bearer on every call):

    GET  {base}/doorstroomdossiers?gewijzigdSinds=<ISO 8601>&page=1&pageSize=20
         → {"items": [dossier...], "page", "pageSize", "totalItems", "next"}
    GET  {base}/documenten/{documentId}       the document itself (application/pdf)
    POST {base}/aanmeldingen/{aanmeldId}/status
         {"status": "aangemeld"|"onderwijsovereenkomst_aangeboden"|"leidt_niet_tot_inschrijving"|
                    "ingetrokken"|"ingeschreven", "statusDatum": "2026-11-28", "toelichting": "..."}
         → 202 {"status": "accepted"}; another status or a missing field is a 422 problem

A dossier belongs to a Centraal Aanmelden application (same ``aanmeldId`` and applicant when
the two stand-ins share ``seed``/``interval``/``backlog``; every second application has one):

    {"dossierId": "IG-CA-2027-000002", "aanmeldId": "CA-2027-000002", "bsn": "...",
     "gewijzigdOp": "...Z", "school": {"brin": "20AB", "soort": "VMBO-TL"},
     "advies": "...", "documenten": [{"documentId": "IG-CA-2027-000002-dd", "soort": "doorstroomdossier",
       "titel": "...", "mimeType": "application/pdf", "url": "http://.../api/documenten/IG-...-dd"},
       {..., "soort": "lob", ...}]}
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import applications, synthetic
from sandbox.rest.common import base_path, bearer_checker, changes_since, option, problem, receive, required_fields
from sandbox.rest.vva import STATUSES
from sandbox.standin import StandinContext, control_routes

ADVICE = ["Past goed bij de gekozen opleiding.", "Extra begeleiding bij rekenen aanbevolen.",
          "Motivatie sterk; plannen nog lastig.", "Heeft BPV-oriëntatie gedaan in de zorg."]


def dossier(application: dict[str, Any], document_url: str) -> dict[str, Any]:
    r = synthetic.rng("intergrip", application["aanmeldId"])
    dossier_id = f"IG-{application['aanmeldId']}"
    docs = [("dd", "doorstroomdossier", "Doorstroomdossier VO-MBO"), ("lob", "lob", "LOB-portfolio")]
    return {
        "dossierId": dossier_id,
        "aanmeldId": application["aanmeldId"],
        "bsn": application["persoon"]["bsn"],
        "gewijzigdOp": application["gewijzigdOp"],
        "school": application["vooropleiding"],
        "advies": r.choice(ADVICE),
        "documenten": [{"documentId": f"{dossier_id}-{suffix}", "soort": kind, "titel": title,
                        "mimeType": "application/pdf", "url": f"{document_url}/{dossier_id}-{suffix}"}
                       for suffix, kind, title in docs],
    }


def validate_status(data: Any) -> list[str]:
    errors = required_fields("status", "statusDatum")(data)
    if not errors and data["status"] not in STATUSES:
        errors.append(f"status: '{data['status']}' is not one of {list(STATUSES)}")
    return errors


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    auth = bearer_checker(ctx)
    seed = option(ctx, "seed", 7)
    timeline = synthetic.Timeline(interval=float(option(ctx, "interval", 60)), backlog=int(option(ctx, "backlog", 25)))

    def dossiers(request: Request, since: float | None) -> list[dict[str, Any]]:
        url = f"{str(request.base_url).rstrip('/')}{base}/documenten"
        apps = applications.visible(seed, timeline, since)
        return [dossier(a, url) for a in apps if int(a["aanmeldId"].rsplit("-", 1)[1]) % 2 == 0]

    async def list_(request: Request) -> Response:
        return await changes_since(ctx, request, auth, "gewijzigdSinds", lambda since: dossiers(request, since))

    async def document(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        doc_id = request.path_params["id"]
        for item in dossiers(request, None):
            for doc in item["documenten"]:
                if doc["documentId"] == doc_id:
                    return Response(synthetic.tiny_pdf(doc["titel"]), media_type="application/pdf")
        return problem(404, "no such document")

    async def status(request: Request) -> Response:
        return await receive(ctx, request, auth=auth, kind="status", validate=validate_status,
                             invalid=lambda errors: problem(422, "status not accepted", errors),
                             respond=lambda data: JSONResponse({"status": "accepted"}, status_code=202),
                             aanmeldId=request.path_params["id"])

    return Starlette(routes=control_routes(ctx) + [
        Route(f"{base}/doorstroomdossiers", list_, methods=["GET"]),
        Route(f"{base}/documenten/{{id:str}}", document, methods=["GET"]),
        Route(f"{base}/aanmeldingen/{{id:str}}/status", status, methods=["POST"]),
    ])

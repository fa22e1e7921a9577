"""Intergrip (interfaces 10 and 11): doorstroomdossiers and LOB documents out, MBO-check status in.

Intergrip's API is not public; this stand-in's own contract (bearer on every call):

    GET  {base}/doorstroomdossiers?brin=30RR&gewijzigdSinds=<ISO 8601>&page=1&pageSize=20
         → {"items": [dossier...], "page", "pageSize", "totalItems", "next"}; ``brin`` (the
           receiving mbo school, whose dossiers these are) is required: without it a 400 problem,
           another school's a 403
    GET  {base}/documenten/{documentId}       the document itself (application/pdf); an unknown id is a
                                              404 problem, a document of another school's dossier a
                                              403, no bearer a 401 (as for the list)
    POST {base}/aanmeldingen/{aanmeldId}/status
         {"status": "aangemeld"|"onderwijsovereenkomst_aangeboden"|"leidt_niet_tot_inschrijving"|
                    "ingetrokken"|"ingeschreven", "statusDatum": "2026-11-28", "toelichting": "..."}
         → 202 {"status": "accepted"}; another status or a missing field is a 422 problem

Intergrip is an overstapsysteem of its own: it does not know Centraal Aanmelden's aanmeldId. A
dossier names the student by BSN and the receiving school by BRIN (``brinMbo``), the sending VO
school under ``school``; it is that of a Centraal Aanmelden applicant (same applicant when the
two stand-ins share ``seed``/``interval``/``backlog``). Every second application's dossier is
for this college (``brinMbo`` 30RR, listed); the others' are towards another mbo school
(``OTHER_BRIN``): never listed for 30RR, and their documents are refused with a 403. A dossier
holds its doorstroomdossier (``<dossierId>-dd``) and none to three LOB documents
(``<dossierId>-lob1`` ..), the number fixed per dossier. A queued ``reject`` fault
makes a document call a 404 (the document is gone), ``500``/``429``/``slow`` as everywhere;
``match`` picks the document by its id in the path:

    {"dossierId": "IG-000002", "bsn": "...", "brinMbo": "30RR",
     "gewijzigdOp": "...Z", "school": {"brin": "20AB", "soort": "VMBO-TL"},
     "advies": "...", "documenten": [{"documentId": "IG-000002-dd", "soort": "doorstroomdossier",
       "titel": "...", "mimeType": "application/pdf", "url": "http://.../api/documenten/IG-...-dd"},
       {"documentId": "IG-000002-lob1", "soort": "lob", ...}, ...]}
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import applications, synthetic
from sandbox.rest.common import (
    admit,
    base_path,
    bearer_checker,
    changes_since,
    gate,
    option,
    problem,
    receive,
    required_fields,
)
from sandbox.rest.vva import STATUSES
from sandbox.standin import StandinContext, control_routes

ADVICE = ["Past goed bij de gekozen opleiding.", "Extra begeleiding bij rekenen aanbevolen.",
          "Motivatie sterk; plannen nog lastig.", "Heeft BPV-oriëntatie gedaan in de zorg."]


#: the mbo school of the dossiers this college's bearer may not read (a school that is not ours)
OTHER_BRIN = "25LJ"
LOB_TITLES = ["LOB-portfolio", "Loopbaanreflectie", "Verslag beroepenoriëntatie", "Keuzegesprek mentor"]


def dossier(application: dict[str, Any], document_url: str) -> dict[str, Any]:
    r = synthetic.rng("intergrip", application["aanmeldId"])
    number = application["aanmeldId"].rsplit("-", 1)[1]
    dossier_id = f"IG-{number}"
    advice = r.choice(ADVICE)
    # a dossier holds its doorstroomdossier and none, one or more LOB documents
    docs = [("dd", "doorstroomdossier", "Doorstroomdossier VO-MBO")]
    docs += [(f"lob{n}", "lob", LOB_TITLES[n - 1]) for n in range(1, r.randint(0, 3) + 1)]
    return {
        "dossierId": dossier_id,
        "bsn": application["persoon"]["bsn"],
        # every second applicant's dossier is this college's, the others go to another mbo school
        "brinMbo": application["instelling"]["brin"] if int(number) % 2 == 0 else OTHER_BRIN,
        "gewijzigdOp": application["gewijzigdOp"],
        "school": application["vooropleiding"],
        "advies": advice,
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

    def dossiers(request: Request, since: float | None, brin: str | None = applications.BRIN_MBO) -> list[dict[str, Any]]:
        """The dossiers of ``brin`` (None: of every school) that changed after ``since``."""
        url = f"{str(request.base_url).rstrip('/')}{base}/documenten"
        found = [dossier(a, url) for a in applications.visible(seed, timeline, since)]
        return [d for d in found if brin is None or d["brinMbo"] == brin]

    async def list_(request: Request) -> Response:
        refused = await admit(ctx, request, auth)  # credentials, then a queued fault
        if refused:
            return refused
        brin = request.query_params.get("brin")
        if not brin:
            ctx.received.add("refused", {"reason": "no brin"}, path=request.url.path)
            return problem(400, "brin is required: the BRIN of the receiving school")
        if brin != applications.BRIN_MBO:
            ctx.received.add("refused", {"reason": f"brin {brin}"}, path=request.url.path)
            return problem(403, f"brin {brin}: not authorised for the dossiers of this school")
        return await changes_since(ctx, request, lambda r: None, "gewijzigdSinds", lambda since: dossiers(request, since))

    async def document(request: Request) -> Response:
        # credentials first, then a queued fault ("reject": the document is gone, a 404)
        refused = await gate_document(request)
        if refused:
            return refused
        doc_id = request.path_params["id"]
        for item in dossiers(request, None, brin=None):
            for doc in item["documenten"]:
                if doc["documentId"] == doc_id:
                    if item["brinMbo"] != applications.BRIN_MBO:
                        ctx.received.add("refused", {"reason": "another school's document", "documentId": doc_id},
                                         path=request.url.path)
                        return problem(403, "not authorised for the documents of another school")
                    ctx.received.add("document", {"documentId": doc_id}, path=request.url.path)
                    return Response(synthetic.tiny_pdf(f"{doc['titel']} {item['dossierId']}"), media_type="application/pdf")
        ctx.received.add("refused", {"reason": "no such document", "documentId": doc_id}, path=request.url.path)
        return problem(404, "no such document")

    async def gate_document(request: Request) -> Response | None:
        denied = auth(request)
        if denied:
            return denied
        return await gate(ctx, request, b"", lambda fault: problem(404, "no such document"))

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

"""B3Net (interfaces 23 and 24): BPV matches pushed to Koppel, verbintenis changes received.

B3Net's API is not public; this stand-in's own contract.

Interface 24, Koppel → B3Net (bearer):

    PUT {base}/verbintenissen/{enrollmentId}
    {"enrollmentId": "S100001-1", "studentnummer": "S100001", "crebo": "25604", "leerweg": "BOL",
     "startdatum": "2026-08-24", "einddatum": null, "status": "actief"}
    → 201 created / 200 replaced; a missing field or a leerweg other than BOL/BBL is a 422 problem

Interface 23, B3Net → Koppel: ``POST /_sandbox/push {"count": 3, "start": 0}`` makes the
stand-in post that many matches to ``options.koppel_url`` + ``/hooks/b3net``, each signed with
the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``;
secret ``options.webhook_secret``; sandbox/rest/webhooks.py) and carrying ``X-B3Net-Event: bpv.match`` and ``X-B3Net-Delivery: <matchId>``. To exercise
Koppel's checks, ``"tamper": true`` signs other bytes than it sends (Koppel must refuse it),
``"repeat": 2`` delivers each match twice with the same ``webhook-id`` (Koppel must store it
once) and ``"leerbedrijf": "onbekend"`` matches at companies SBB does not know (interface 8 must
refuse them); otherwise the leerbedrijf is one SBB recognises for the match's crebo:

    {"event": "bpv.match", "matchId": "B3-000001", "studentnummer": "S100001",
     "enrollmentId": "S100001-1", "crebo": "25604",
     "leerbedrijf": {"sbbCode": "100000017", "naam": "...", "plaats": "..."},
     "startdatum": "2027-02-01", "einddatum": "2027-06-30", "uren": 640,
     "praktijkopleider": {"naam": "...", "email": "..."}, "gematchtOp": "...Z"}
"""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import synthetic, webhooks
from sandbox.rest.common import (
    base_path,
    bearer_checker,
    option,
    option_secret,
    problem,
    receive,
    required_fields,
)
from sandbox.standin import StandinContext, control_routes

COMPANIES = [("Zorggroep Maasland", "'s-Hertogenbosch"), ("Bakkerij Van Rooij", "Oss"),
             ("ICT Brabant BV", "Eindhoven"), ("Installatiebedrijf De Kempen", "Veldhoven"),
             ("Kinderopvang Het Nest", "Tilburg"), ("Autobedrijf Heesch", "Heesch")]


def match(seed: Any, index: int, *, recognised: bool = True) -> dict[str, Any]:
    """Match ``index``. B3Net offers the leerbedrijven SBB recognises (it takes them from SBB's
    register): the company is one of the SBB stand-in's, with a crebo it has an erkenning for
    (BOL when it has one). ``recognised=False`` makes a company SBB does not know, as a BPV office
    might enter by hand, for the recognition check of interface 8."""
    r = synthetic.rng(seed, "b3net", index)
    student = synthetic.student_number(r.randrange(10_000))
    contact = synthetic.name(r)
    year = synthetic.school_year_start() - 1
    if recognised:
        from sandbox.soap.sbb_register import generated

        company = r.choice(generated())
        erkenning = next((e for e in company["Erkenningen"] if e["Leerweg"] == "BOL"), company["Erkenningen"][0])
        crebo = erkenning["Crebonummer"]
        leerbedrijf = {"sbbCode": company["CodeLeerbedrijf"], "naam": company["Naam"],
                       "plaats": company["Vestigingsadres"]["Plaats"]}
    else:
        name, city = r.choice(COMPANIES)
        crebo = synthetic.crebo(r)
        leerbedrijf = {"sbbCode": f"1000{r.randint(10000, 99999)}", "naam": name, "plaats": city}
    return {
        "event": "bpv.match",
        "matchId": f"B3-{index + 1:06d}",
        "studentnummer": student,
        "enrollmentId": f"{student}-1",
        "crebo": crebo,
        "leerbedrijf": leerbedrijf,
        "startdatum": f"{year + 1}-02-01",
        "einddatum": f"{year + 1}-06-30",
        "uren": r.choice([400, 640, 800]),
        "praktijkopleider": {"naam": f"{contact['given_name']} {contact['last_name']}",
                             "email": f"bpv{index + 1}@example.nl"},
        "gematchtOp": synthetic.iso(time.time()),
    }


def validate(data: Any) -> list[str]:
    errors = required_fields("enrollmentId", "studentnummer", "crebo", "leerweg", "startdatum")(data)
    if not errors and data["leerweg"] not in ("BOL", "BBL"):
        errors.append(f"leerweg: '{data['leerweg']}' is not BOL or BBL")
    return errors


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    auth = bearer_checker(ctx)
    seed = option(ctx, "seed", 23)
    store: dict[str, Any] = {}

    async def verbintenis(request: Request) -> Response:
        key = request.path_params["id"]
        existed = key in store

        def respond(data: Any) -> Response:
            store[key] = data
            return JSONResponse(data, status_code=200 if existed else 201)

        return await receive(ctx, request, auth=auth, kind="verbintenis", validate=validate,
                             invalid=lambda errors: problem(422, "verbintenis not accepted", errors),
                             respond=respond, id=key)

    async def push(request: Request) -> Response:
        spec = await request.json() if await request.body() else {}
        secret = option_secret(ctx, "webhook_secret") or ""
        url = webhooks.koppel_url(ctx) + "/hooks/b3net"
        results = []
        for index in range(int(spec.get("start", 0)), int(spec.get("start", 0)) + int(spec.get("count", 1))):
            payload = match(seed, index, recognised=spec.get("leerbedrijf") != "onbekend")
            body = webhooks.encode(payload)
            # "tamper": sign other bytes than those sent, as a forged call would be
            signed = body + b" " if spec.get("tamper") else body
            headers = {**webhooks.standard_webhook_headers(secret, body, signed_body=signed),
                       "X-B3Net-Event": "bpv.match", "X-B3Net-Delivery": payload["matchId"]}
            for _ in range(max(1, int(spec.get("repeat", 1)))):  # at-least-once: the same delivery again
                status = await webhooks.post(ctx, url, body, headers, kind="bpv.match", payload=payload)
                results.append({"matchId": payload["matchId"], "status": status})
        return JSONResponse({"sent": results})

    return Starlette(routes=control_routes(ctx) + [
        Route(f"{base}/verbintenissen/{{id:str}}", verbintenis, methods=["PUT"]),
        Route("/_sandbox/push", push, methods=["POST"]),
    ])

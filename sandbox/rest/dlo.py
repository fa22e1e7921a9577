"""The DLO, digital learning environment (interface 27): formative results, polled.

No public contract; this stand-in's own (bearer):

    GET {base}/resultaten?gewijzigdSinds=<ISO 8601>&studentnummer=S100001&cursus=PRG&page=1&pageSize=50
    GET {base}/studenten/{studentnummer}/cursussen/{cursusCode}/resultaten      (same envelope)
    → {"items": [result...], "page", "pageSize", "totalItems", "next"}

Results appear over time (options ``seed`` 27, ``interval`` 45 s, ``backlog`` 120), ordered by
``gewijzigdOp``; ``gewijzigdSinds`` is exclusive. A result:

    {"resultaatId": "DLO-000001", "studentnummer": "S100001", "cursusCode": "PRG",
     "cursusNaam": "Programmeren", "opdracht": "Opdracht 3", "beoordeling": "V",
     "cijfer": 7.4, "beoordeeldOp": "2026-11-27", "gewijzigdOp": "...Z"}

``beoordeling`` is O (onvoldoende), V (voldoende) or G (goed); ``cijfer`` may be null.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import synthetic
from sandbox.rest.common import base_path, bearer_checker, gate, option, page_params, problem, simple_page
from sandbox.rest.xedule import COURSES
from sandbox.standin import StandinContext, control_routes


def result(seed: Any, index: int, at: float) -> dict[str, Any]:
    r = synthetic.rng(seed, "dlo", index)
    code, name = r.choice(COURSES)
    grade = round(r.uniform(3.5, 9.5), 1) if r.random() < 0.8 else None
    judgement = "O" if grade is not None and grade < 5.5 else ("G" if grade and grade >= 8 else "V")
    return {
        "resultaatId": f"DLO-{index + 1:06d}",
        "studentnummer": synthetic.student_number(r.randrange(10_000)),
        "cursusCode": code,
        "cursusNaam": name,
        "opdracht": f"Opdracht {r.randint(1, 8)}",
        "beoordeling": judgement,
        "cijfer": grade,
        "beoordeeldOp": time.strftime("%Y-%m-%d", time.gmtime(at)),
        "gewijzigdOp": synthetic.iso(at),
    }


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    auth = bearer_checker(ctx)
    seed = option(ctx, "seed", 27)
    timeline = synthetic.Timeline(interval=float(option(ctx, "interval", 45)), backlog=int(option(ctx, "backlog", 120)))

    async def results(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        early = await gate(ctx, request, b"", lambda f: problem(400, "request rejected (sandbox fault)"))
        if early:
            return early
        q = request.query_params
        try:
            since = synthetic.parse_iso(q["gewijzigdSinds"]) if q.get("gewijzigdSinds") else None
        except ValueError:
            return problem(400, "gewijzigdSinds must be an ISO 8601 timestamp")
        student = request.path_params.get("student") or q.get("studentnummer")
        course = request.path_params.get("course") or q.get("cursus")
        paging = page_params(request, default_size=50, max_size=200)
        if isinstance(paging, Response):
            return paging
        items = []
        for index in range(timeline.visible()):
            at = timeline.appeared_at(index)
            if not synthetic.changed_after(at, since):
                continue
            item = result(seed, index, at)
            if (student and item["studentnummer"] != student) or (course and item["cursusCode"] != course):
                continue
            items.append(item)
        ctx.received.add("poll", {"gewijzigdSinds": q.get("gewijzigdSinds"), "page": paging[0]}, path=request.url.path)
        return JSONResponse(simple_page(request, items, *paging))

    return Starlette(routes=control_routes(ctx) + [
        Route(f"{base}/resultaten", results, methods=["GET"]),
        Route(f"{base}/studenten/{{student:str}}/cursussen/{{course:str}}/resultaten", results, methods=["GET"]),
    ])

"""The DLO, digital learning environment (interface 27): formative results, polled.

No public contract; this stand-in's own (bearer):

    GET {base}/resultaten?sinds=<ISO 8601>&studentnummer=S100001&cursus=PRG&limit=50&cursor=<next>
    GET {base}/studenten/{studentnummer}/cursussen/{cursusCode}/resultaten      (same envelope)
    → {"items": [result...], "next": "<opaque cursor>" | null}

Cursor paging: pass the answer's ``next`` as ``cursor`` until it is null (an unknown cursor is
a 400). Results appear over time (options ``seed`` 27, ``interval`` 45 s, ``backlog`` 120),
ordered by ``gewijzigdOp``; ``sinds`` is exclusive. A result:

    {"id": "DLO-000001", "studentnummer": "S100001", "cursusCode": "PRG",
     "cursusNaam": "Programmeren", "opdracht": "Opdracht 3", "beoordeling": "V",
     "cijfer": 7.4, "beoordeeldOp": "2026-11-27", "gewijzigdOp": "...Z"}

``beoordeling`` is O (onvoldoende), V (voldoende) or G (goed); ``cijfer`` may be null.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import synthetic
from sandbox.rest.common import admit, base_path, bearer_checker, option, problem, since_param
from sandbox.rest.xedule import COURSES
from sandbox.standin import StandinContext, control_routes


def result(seed: Any, index: int, at: float) -> dict[str, Any]:
    r = synthetic.rng(seed, "dlo", index)
    code, name = r.choice(COURSES)
    grade = round(r.uniform(3.5, 9.5), 1) if r.random() < 0.8 else None
    judgement = "O" if grade is not None and grade < 5.5 else ("G" if grade and grade >= 8 else "V")
    return {
        "id": f"DLO-{index + 1:06d}",
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
        refused = await admit(ctx, request, auth)
        if refused:
            return refused
        q = request.query_params
        since = since_param(request, "sinds")
        if isinstance(since, Response):
            return since
        try:
            offset = int(base64.urlsafe_b64decode(q["cursor"].encode()).decode()) if q.get("cursor") else 0
            limit = min(200, max(1, int(q.get("limit", 50))))
        except ValueError:
            return problem(400, "cursor is not one this DLO gave out, or limit is not a number")
        student = request.path_params.get("student") or q.get("studentnummer")
        course = request.path_params.get("course") or q.get("cursus")
        items = []
        for index in range(timeline.visible()):
            at = timeline.appeared_at(index)
            if not synthetic.changed_after(at, since):
                continue
            item = result(seed, index, at)
            if (student and item["studentnummer"] != student) or (course and item["cursusCode"] != course):
                continue
            items.append(item)
        page = items[offset:offset + limit]
        more = offset + limit < len(items)
        next_cursor = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
        ctx.received.add("poll", {"sinds": q.get("sinds"), "cursor": q.get("cursor")}, path=request.url.path)
        return JSONResponse({"items": page, "next": next_cursor})

    return Starlette(routes=control_routes(ctx) + [
        Route(f"{base}/resultaten", results, methods=["GET"]),
        Route(f"{base}/studenten/{{student:str}}/cursussen/{{course:str}}/resultaten", results, methods=["GET"]),
    ])

"""The future CRM (interface 20, ``status: planned``): never called in normal runs.

Own contract, the smallest that a dry-run and a manual run can exercise:

    PUT {base}/applications/{aanmeldId}   bearer; JSON with at least aanmeldId and status
    → 201 created / 200 replaced, the stored body
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest.common import base_path, bearer_checker, receive, required_fields
from sandbox.standin import StandinContext, control_routes


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    auth = bearer_checker(ctx)
    store: dict[str, Any] = {}

    async def put(request: Request) -> Response:
        key = request.path_params["id"]
        existed = key in store

        def respond(data: Any) -> Response:
            store[key] = data
            return JSONResponse(data, status_code=200 if existed else 201)

        return await receive(ctx, request, auth=auth, kind="application",
                             validate=required_fields("aanmeldId", "status"), respond=respond, id=key)

    return Starlette(routes=control_routes(ctx) + [Route(f"{base}/applications/{{id:str}}", put, methods=["PUT"])])

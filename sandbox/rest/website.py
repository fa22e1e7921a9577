"""The college website (interface 4): receives the catalogue as OOAPI v5 Programs and Offerings.

OOAPI v5 is a provider API without write operations, so the push uses its schemas as payloads:

    PUT    {base}/programs/{programId}     an OOAPI v5 ``Program``  → 201 created / 200 replaced
    PUT    {base}/offerings/{offeringId}   an OOAPI v5 ``Offering`` (``ProgramOffering`` when
                                           offeringType is ``program``: startDate/endDate required)
    DELETE {base}/programs/{id}, {base}/offerings/{id}   withdraw from the site → 204 / 404
    GET    {base}/programs, {base}/offerings             like a provider: OOAPI page envelope
    GET    {base}/programs/{id}, {base}/offerings/{id}

Bodies are checked against ``specs/ooapi/v5/ooapi.json``; without the specs only the fields
the schemas require are checked. The id in the path must equal the body's id. A contract
violation is a 400 RFC 7807 problem listing the errors.
"""

from __future__ import annotations

import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest.common import (
    base_path,
    bearer_checker,
    ooapi_page,
    openapi_document,
    page_params,
    problem,
    receive,
    required_fields,
)
from sandbox.standin import StandinContext, control_routes

SPEC = "ooapi/v5/ooapi.json"
KINDS = {
    "programs": ("programId", "Program", ("programId", "programType", "name", "abbreviation", "description",
                                          "primaryCode", "teachingLanguage")),
    "offerings": ("offeringId", "Offering", ("offeringId", "primaryCode", "offeringType", "name", "description",
                                             "teachingLanguage", "resultExpected")),
}


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    auth = bearer_checker(ctx)
    spec = openapi_document(ctx, SPEC)
    store: dict[str, dict[str, Any]] = {"programs": {}, "offerings": {}}
    lock = threading.Lock()

    def validator(collection: str, item_id: str):
        id_field, schema, required = KINDS[collection]

        def check(data: Any) -> list[str]:
            if spec is not None:
                name = schema
                if collection == "offerings" and isinstance(data, dict) and data.get("offeringType") == "program":
                    name = "ProgramOffering"
                errors = spec.schema_errors(name, data)
            else:
                errors = required_fields(*required)(data)
            if isinstance(data, dict) and data.get(id_field) not in (None, item_id):
                errors.append(f"{id_field}: '{data.get(id_field)}' differs from the id in the path '{item_id}'")
            return errors

        return check

    async def put(request: Request) -> Response:
        collection, item_id = _collection(request), request.path_params["id"]
        existed = item_id in store[collection]

        def respond(data: Any) -> Response:
            with lock:
                store[collection][item_id] = data
            return JSONResponse(data, status_code=200 if existed else 201)

        return await receive(ctx, request, auth=auth, kind=collection[:-1], validate=validator(collection, item_id),
                             respond=respond, id=item_id)

    async def delete(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        collection, item_id = _collection(request), request.path_params["id"]
        with lock:
            gone = store[collection].pop(item_id, None)
        if gone is None:
            return problem(404, f"no such {collection[:-1]}")
        ctx.received.add(f"{collection[:-1]}-deleted", {"id": item_id}, path=request.url.path, method="DELETE")
        return Response(status_code=204)

    async def get_one(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        item = store[_collection(request)].get(request.path_params["id"])
        return JSONResponse(item) if item is not None else problem(404, "not found")

    async def get_list(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        paging = page_params(request, default_size=10)
        if isinstance(paging, Response):
            return paging
        with lock:
            items = list(store[_collection(request)].values())
        return JSONResponse(ooapi_page(items, *paging))

    routes = []
    for name in KINDS:  # one set of routes per collection: any other path is a plain 404
        routes += [
            Route(f"{base}/{name}/{{id:str}}", put, methods=["PUT"]),
            Route(f"{base}/{name}/{{id:str}}", delete, methods=["DELETE"]),
            Route(f"{base}/{name}/{{id:str}}", get_one, methods=["GET"]),
            Route(f"{base}/{name}", get_list, methods=["GET"]),
        ]
    return Starlette(routes=control_routes(ctx) + routes)


def _collection(request: Request) -> str:
    return next(name for name in KINDS if f"/{name}" in request.url.path)

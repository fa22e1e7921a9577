"""Remindo via NED OOAPI "OKE MBO-toetsafname" (interfaces 25 and 26), bearer.

Koppel → Remindo (flow 1.2b/2; bodies checked against ``specs/ned-ooapi-oke/ooapiv5_MBO.yaml``,
and each ``consumers[]`` entry with ``consumerKey: nl-test-admin`` against that spec's
``nl-test-admin-*`` schemas, which the spec itself leaves open; without the specs only the ids
are checked):

    PUT   {base}/persons/{personId}             Person (primaryCode = student number)   → 201 / 200
    PUT   {base}/offerings/{offeringId}         Offering, a "zitting" (offeringType component,
                                                consumer nl-test-admin: offeringState, duration ...)
    PATCH {base}/offerings/{offeringId}         merge-patch
    PUT   {base}/associations/{associationId}   Association of a person with an offering
                                                (``person``/``offering`` ids, consumer
                                                nl-test-admin: personalNeeds, additionalTimeInMin)
    PATCH {base}/associations/{associationId}   merge-patch (e.g. state canceled)
    PUT   {base}/groups/{groupId}, {base}/groups/{groupId}/members

Remindo → Koppel (flow 3/5, polled): ``options.result_delay`` seconds (default 2) after an
association is put with state ``associated``, it carries a ``result``:

    {"state": "completed", "pass": "passed"|"failed", "score": "7.1", "resultDate": "2026-11-28",
     "consumers": [{"consumerKey": "nl-test-admin", "attendance": "present", "rawScore": 71,
                    "maxRawScore": 100, "final": true, "testDate": "2026-11-28"}]}

    GET {base}/results?modifiedSince=<ISO 8601>&pageNumber=1&pageSize=100
         OOAPI page of every result, oldest change first (``modifiedSince`` exclusive):
         {"resultId": "<associationId>", "associationId", "offeringId", "personId",
          "studentNumber": "S100001" (the person's primaryCode when Remindo knows the person),
          "modifiedAt": "...Z", "state", "pass", "score", "resultDate", "consumers": [...]}
         (not part of NED: the flat feed a polling SIS needs; NED's own way is below)
    GET {base}/offerings                                OOAPI page of the offerings
    GET {base}/offerings/{offeringId}/associations      OOAPI page of associations with results
    GET {base}/associations/{associationId}

Besides what Koppel puts, one offering ``options.seeded_offering`` (default
``00000000-0000-4000-8000-000000000026``) exists with five associations (students S100001-5,
person ids uuid5(NAMESPACE_URL, "koppel:student:<number>")) that already have results.
Errors are RFC 7807 problems (``Problem`` in the spec).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import synthetic
from sandbox.rest.common import (
    base_path, bearer_checker, gate, ooapi_page, openapi_document, option, page_params, problem, receive,
)
from sandbox.standin import StandinContext, control_routes

SPEC = "ned-ooapi-oke/ooapiv5_MBO.yaml"
SEEDED_OFFERING = "00000000-0000-4000-8000-000000000026"
ID_FIELDS = {"persons": "personId", "offerings": "offeringId", "associations": "associationId", "groups": "groupId"}


def person_id(student_number: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"koppel:student:{student_number}"))


def make_result(seed: Any, association_id: str) -> dict[str, Any]:
    r = synthetic.rng(seed, "remindo", association_id)
    raw = r.randint(35, 98)
    today = dt.date.today().isoformat()
    return {
        "state": "completed", "pass": "passed" if raw >= 55 else "failed", "score": f"{1 + raw * 9 / 100:.1f}",
        "resultDate": today,
        "consumers": [{"consumerKey": "nl-test-admin", "attendance": "present", "rawScore": raw, "maxRawScore": 100,
                       "final": True, "testDate": today}],
    }


CONSUMER_SCHEMAS = {"persons": "nl-test-admin-Person", "offerings": "nl-test-admin-Offering",
                    "associations": "nl-test-admin-Association"}


def _consumer_errors(spec: Any, collection: str, data: dict[str, Any]) -> list[str]:
    """The bundled spec leaves ``consumers`` open; NED's nl-test-admin schemas close it."""
    errors = []
    checks = [(CONSUMER_SCHEMAS.get(collection), data.get("consumers"), "consumers")]
    if collection == "associations" and isinstance(data.get("result"), dict):
        checks.append(("nl-test-admin-Result", data["result"].get("consumers"), "result/consumers"))
    for schema, consumers, where in checks:
        if not schema or not isinstance(consumers, list):
            continue
        for i, consumer in enumerate(consumers):
            if isinstance(consumer, dict) and consumer.get("consumerKey") == "nl-test-admin":
                errors += [f"{where}/{i}/{e}" for e in spec.schema_errors(schema, consumer)]
    return errors


def _ref(value: Any, field: str) -> str | None:
    """An association's ``person``/``offering``: an id string or an expanded object."""
    if isinstance(value, dict):
        return value.get(field)
    return value if isinstance(value, str) else None


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 merge-patch: null removes, objects merge, the rest replaces (lists too)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
    return target


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    auth = bearer_checker(ctx)
    spec = openapi_document(ctx, SPEC)
    seed = option(ctx, "seed", 26)
    delay = float(option(ctx, "result_delay", 2.0))
    store: dict[str, dict[str, Any]] = {k: {} for k in ID_FIELDS}
    members: dict[str, Any] = {}
    lock = threading.Lock()
    tasks: set[asyncio.Task] = set()
    modified: dict[str, float] = {}  # associationId → when its result was set
    _seed(store, seed, str(option(ctx, "seeded_offering", SEEDED_OFFERING)))
    modified.update({a: time.time() for a in store["associations"]})

    def validator(method: str, path: str, collection: str, item_id: str, content_type: str = "application/json"):
        def check(data: Any) -> list[str]:
            errors = spec.request_errors(method, path, data, content_type) if spec else []
            if spec is not None and isinstance(data, dict):
                errors += _consumer_errors(spec, collection, data)
            id_field = ID_FIELDS.get(collection)
            if isinstance(data, dict) and id_field and data.get(id_field) not in (None, item_id):
                errors.append(f"{id_field}: differs from the id in the path")
            return errors

        return check

    async def give_result_later(association_id: str) -> None:
        await asyncio.sleep(delay)
        with lock:
            association = store["associations"].get(association_id)
            if association and association.get("state") == "associated" and "result" not in association:
                association["result"] = make_result(seed, association_id)
                modified[association_id] = time.time()

    def after_store(collection: str, item_id: str) -> None:
        if collection == "associations":
            task = asyncio.get_running_loop().create_task(give_result_later(item_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def put(request: Request) -> Response:
        collection, item_id = _collection(request), request.path_params["id"]
        existed = item_id in store[collection]
        relative = request.url.path[len(base):]

        def respond(data: Any) -> Response:
            with lock:
                store[collection][item_id] = {ID_FIELDS[collection]: item_id, **data}
            after_store(collection, item_id)
            return JSONResponse(store[collection][item_id], status_code=200 if existed else 201)

        return await receive(ctx, request, auth=auth, kind=collection[:-1],
                             validate=validator("put", relative, collection, item_id), respond=respond, id=item_id)

    async def patch(request: Request) -> Response:
        collection, item_id = _collection(request), request.path_params["id"]
        if item_id not in store[collection]:
            denied = auth(request)
            return denied or problem(404, f"no such {collection[:-1]}")
        relative = request.url.path[len(base):]

        def respond(data: Any) -> Response:
            with lock:
                merged = _merge(store[collection][item_id], data)
            after_store(collection, item_id)
            return JSONResponse(merged)

        return await receive(ctx, request, auth=auth, kind=f"{collection[:-1]}-patch",
                             validate=validator("patch", relative, collection, item_id, "application/merge-patch+json"),
                             respond=respond, id=item_id)

    async def put_members(request: Request) -> Response:
        group_id = request.path_params["id"]

        def respond(data: Any) -> Response:
            members[group_id] = data
            return JSONResponse(data)

        return await receive(ctx, request, auth=auth, kind="group-members",
                             validate=validator("put", f"/groups/{group_id}/members", "members", group_id),
                             respond=respond, id=group_id)

    async def polled(request: Request) -> Response | None:
        """Authentication and the fault switch for the GETs Koppel polls results with."""
        denied = auth(request)
        if denied:
            return denied
        return await gate(ctx, request, b"", lambda f: problem(400, "request rejected (sandbox fault)"))

    async def get_one(request: Request) -> Response:
        early = await polled(request)
        if early:
            return early
        item = store[_collection(request)].get(request.path_params["id"])
        return JSONResponse(item) if item else problem(404, "not found")

    async def list_offerings(request: Request) -> Response:
        early = await polled(request)
        if early:
            return early
        paging = page_params(request, default_size=10)
        if isinstance(paging, Response):
            return paging
        with lock:
            items = list(store["offerings"].values())
        ctx.received.add("poll", {"offerings": True, "page": paging[0]}, path=request.url.path)
        return JSONResponse(ooapi_page(items, *paging))

    async def offering_associations(request: Request) -> Response:
        early = await polled(request)
        if early:
            return early
        offering = request.path_params["id"]
        if offering not in store["offerings"]:
            return problem(404, "no such offering")
        paging = page_params(request, default_size=10)
        if isinstance(paging, Response):
            return paging
        with lock:
            items = [a for a in store["associations"].values() if _ref(a.get("offering"), "offeringId") == offering]
        ctx.received.add("poll", {"offering": offering, "page": paging[0]}, path=request.url.path)
        return JSONResponse(ooapi_page(items, *paging))

    def student_number(person: str | None) -> str | None:
        known = store["persons"].get(person or "")
        if known:
            return (known.get("primaryCode") or {}).get("code")
        return SEEDED_PERSONS.get(person or "")

    async def results(request: Request) -> Response:
        early = await polled(request)
        if early:
            return early
        q = request.query_params
        try:
            since = synthetic.parse_iso(q["modifiedSince"]) if q.get("modifiedSince") else None
        except ValueError:
            return problem(400, "modifiedSince must be an ISO 8601 timestamp")
        paging = page_params(request, default_size=100)
        if isinstance(paging, Response):
            return paging
        with lock:
            rows = sorted((modified[a], a) for a, v in store["associations"].items() if "result" in v and a in modified)
            items = [{"resultId": a, "associationId": a,
                      "offeringId": _ref(store["associations"][a].get("offering"), "offeringId"),
                      "personId": _ref(store["associations"][a].get("person"), "personId"),
                      "studentNumber": student_number(_ref(store["associations"][a].get("person"), "personId")),
                      "modifiedAt": synthetic.iso(at), **store["associations"][a]["result"]}
                     for at, a in rows if synthetic.changed_after(at, since)]
        ctx.received.add("poll", {"modifiedSince": q.get("modifiedSince"), "page": paging[0]}, path=request.url.path)
        return JSONResponse(ooapi_page(items, *paging))

    routes = [Route(f"{base}/results", results, methods=["GET"]),
              Route(f"{base}/offerings", list_offerings, methods=["GET"]),
              Route(f"{base}/offerings/{{id:str}}/associations", offering_associations, methods=["GET"]),
              Route(f"{base}/groups/{{id:str}}/members", put_members, methods=["PUT"])]
    for name in ID_FIELDS:
        routes += [Route(f"{base}/{name}/{{id:str}}", put, methods=["PUT"]),
                   Route(f"{base}/{name}/{{id:str}}", get_one, methods=["GET"])]
    routes += [Route(f"{base}/{name}/{{id:str}}", patch, methods=["PATCH"]) for name in ("offerings", "associations")]
    return Starlette(routes=control_routes(ctx) + routes)


def _collection(request: Request) -> str:
    return next(name for name in ID_FIELDS if f"/{name}/" in request.url.path)


SEEDED_PERSONS = {person_id(f"S{synthetic.FIRST_NUMBER + n}"): f"S{synthetic.FIRST_NUMBER + n}" for n in range(5)}


def _seed(store: dict[str, dict[str, Any]], seed: Any, offering_id: str) -> None:
    """One offering with five candidates that already have results (so polling works at once)."""
    store["offerings"][offering_id] = {
        "offeringId": offering_id, "primaryCode": {"codeType": "offeringCode", "code": "NED-2F-SANDBOX"},
        "offeringType": "component", "name": [{"language": "nl-NL", "value": "Nederlands 2F (sandbox)"}],
        "description": [{"language": "nl-NL", "value": "Zitting die de sandbox al kent"}],
        "teachingLanguage": "nld", "resultExpected": True,
        "consumers": [{"consumerKey": "nl-test-admin", "offeringState": "active", "duration": "PT60M"}],
    }
    for n in range(1, 6):
        student = f"S{synthetic.FIRST_NUMBER + n - 1}"
        association_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"koppel:remindo:{offering_id}:{student}"))
        store["associations"][association_id] = {
            "associationId": association_id, "associationType": "componentOfferingAssociation", "role": "student",
            "state": "associated", "person": person_id(student), "offering": offering_id,
            "result": make_result(seed, association_id),
        }

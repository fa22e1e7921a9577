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

An association is refused (409 problem) when the offering it names is unknown: the session
(zitting) comes first, as NED's flow 2 has it.

Remindo → Koppel (flow 3/5, pushed): ``options.result_delay`` seconds (default 2) after an
association is put with state ``associated`` it carries a ``result``, and Remindo PATCHes it to
Koppel's server: ``{options.koppel_url}/hooks/remindo/associations/{associationId}`` with
``Authorization: Bearer <the sandbox's inbound_auth token>`` and a merge-patch body with the
person and the offering expanded (their primaryCodes: student number, exam code):

    {"associationType": "componentOfferingAssociation", "role": "student", "state": "associated",
     "person": {"personId", "primaryCode": {"codeType": "studentNumber", "code": "S100001"}},
     "offering": {"offeringId", "primaryCode": {"codeType": "offeringCode", "code": "NL-2F"}, "name"},
     "result": {"state": "completed", "pass": "passed"|"failed", "score": "7.1", "resultDate": "2026-11-28",
                "consumers": [{"consumerKey": "nl-test-admin", "attendance": "present", "rawScore": 71,
                               "maxRawScore": 100, "final": true, "testDate": "2026-11-28"}]}}

A push answered with anything but 2xx is tried again (``options.push_retries``, default 3,
``options.push_retry_delay`` 1 s apart); each attempt is recorded as ``sent``. There is no result
feed to poll: NED has none.

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
import json
import threading
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import synthetic, webhooks
from sandbox.rest.common import (
    base_path,
    bearer_checker,
    gate,
    ooapi_page,
    openapi_document,
    option,
    page_params,
    problem,
    receive,
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
    _seed(store, seed, str(option(ctx, "seeded_offering", SEEDED_OFFERING)))
    koppel_url = webhooks.koppel_url(ctx)
    inbound = getattr(ctx.settings, "inbound_auth", None)
    push_token = ctx.secret(inbound.token) if inbound is not None and getattr(inbound, "token", None) else ""
    push_retries = int(option(ctx, "push_retries", 3))
    push_retry_delay = float(option(ctx, "push_retry_delay", 1.0))

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
            if not (association and association.get("state") == "associated" and "result" not in association):
                return
            association["result"] = make_result(seed, association_id)
            body = push_body(association)
        await push(association_id, body)

    def after_store(collection: str, item_id: str) -> None:
        if collection == "associations":
            task = asyncio.get_running_loop().create_task(give_result_later(item_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def put(request: Request) -> Response:
        collection, item_id = _collection(request), request.path_params["id"]
        existed = item_id in store[collection]
        relative = request.url.path[len(base):]
        check = validator("put", relative, collection, item_id)
        if collection == "associations":
            check = with_known_offering(check)

        def respond(data: Any) -> Response:
            with lock:
                store[collection][item_id] = {ID_FIELDS[collection]: item_id, **data}
            after_store(collection, item_id)
            return JSONResponse(store[collection][item_id], status_code=200 if existed else 201)

        return await receive(ctx, request, auth=auth, kind=collection[:-1], validate=check, respond=respond,
                             invalid=refusal, id=item_id)

    def with_known_offering(check):
        def checked(data: Any) -> list[str]:
            errors = check(data)
            offering = _ref(data.get("offering"), "offeringId") if isinstance(data, dict) else None
            if not errors and offering and offering not in store["offerings"]:
                errors.append(f"offering {offering} does not exist: create the session first (PUT /offerings/{offering})")
            return errors

        return checked

    def refusal(errors: list[str]) -> Response:
        status = 409 if any("does not exist: create the session first" in e for e in errors) else 400
        return problem(status, "request does not match the contract" if status == 400 else "unknown offering", errors)

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

    def push_body(association: dict[str, Any]) -> dict[str, Any]:
        person = _ref(association.get("person"), "personId")
        offering_id = _ref(association.get("offering"), "offeringId")
        offering = store["offerings"].get(offering_id or "") or {}
        code = student_number(person)
        return {
            "associationType": association.get("associationType", "componentOfferingAssociation"),
            "role": association.get("role", "student"), "state": association.get("state"),
            "person": {"personId": person, **({"primaryCode": {"codeType": "studentNumber", "code": code}} if code else {})},
            "offering": {"offeringId": offering_id,
                         **{k: offering[k] for k in ("primaryCode", "name") if k in offering}},
            "result": association["result"],
        }

    async def push(association_id: str, body: dict[str, Any]) -> None:
        import httpx

        url = f"{koppel_url}/hooks/remindo/associations/{association_id}"
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/merge-patch+json", "Authorization": f"Bearer {push_token}"}
        for attempt in range(push_retries + 1):
            try:
                async with httpx.AsyncClient(timeout=10) as http:
                    status: int | None = (await http.patch(url, content=data, headers=headers)).status_code
            except httpx.HTTPError:
                status = None
            ctx.received.add("sent", body, what="result", url=url, status=status, id=association_id)
            if status is not None and 200 <= status < 300:
                return
            if attempt < push_retries:
                await asyncio.sleep(push_retry_delay)

    routes = [Route(f"{base}/offerings", list_offerings, methods=["GET"]),
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

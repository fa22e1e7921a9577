"""SCIM 2.0 service provider (RFC 7644) on Koppel's server, for interfaces 1 and 3.

    GET    /Users?filter=...&startIndex=&count=   ListResponse from the SIS (scim_directory)
    GET    /Users/{id}                            the User the SIS knows, else 404
    POST   /Users                                 checked (scim_schema), stored, 201
    PUT    /Users/{id}                            replaced: checked, stored, 200 (404 if unknown)
    PATCH  /Users/{id}                            PatchOp applied to what the SIS knows, 200
    DELETE /Users/{id}                            the account closed, 204 (404 if unknown)
    likewise /Groups; and ServiceProviderConfig, ResourceTypes, Schemas on the SCIM base

What is checked before 201/200, so that the IAM never believes it provisioned what the SIS will
refuse: the schema (required ``userName``, types, ``schemas``), the key (``externalId``: the SIS
person number, the spec's ``key``), that the person exists, that a POST does not create a second
account for a person (409 ``uniqueness``: the client should PUT or PATCH) and that the account
name is not another person's (409 ``uniqueness``). Unknown attributes are dropped, not stored
and not echoed.

A DELETE never removes a person, a student or a staff member: it is stored as the resource with
``active: false`` (a User) or without members (a Group), and the interface's mappings close the
account: account name, school e-mail and the roles the IAM gave are cleared (interface 3), or the
role is emptied (interface 1). ``active: false`` in a PUT or PATCH closes the account the same way.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from runtime.engine.inbound import problem, scim_filter, scim_patch
from runtime.engine.inbound.body import (
    Refusal,
    record_key,
)
from runtime.engine.inbound.hooks import Webhook, log
from runtime.engine.inbound.scim_directory import Directory
from runtime.engine.inbound.scim_schema import (
    CORE,
    ENTERPRISE,
    clean,
    invalid,
    schema_resources,
)

SCIM_TYPE = problem.SCIM_TYPE
SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_TYPES = ("application/scim+json", "application/json")
MAX_COUNT = 200  # RFC 7644 §3.4.2.4: the provider may cap a page


def uniqueness(detail: str) -> Refusal:
    return Refusal(409, detail, scim_type="uniqueness")


class ScimHook(Webhook):
    content_types = SCIM_TYPES

    def __init__(self, *args, directory: Directory, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.directory = directory

    def refuse(self, refusal: Refusal, request: Request) -> Response:
        self.count(refusal.status)
        return problem.scim_error(refusal.status, refusal.detail, refusal.scim_type)

    def base(self, request: Request, resource: str) -> str:
        path = request.url.path
        cut = path.rfind(f"/{resource}s")
        return str(request.base_url).rstrip("/") + path[:cut]

    async def resource_body(self, request: Request) -> Any:
        """The parsed body, admitted as every call is; what does not parse is ``invalidSyntax``."""
        try:
            return (await self.admit(request))[1]
        except Refusal as refusal:
            if refusal.status == 400 and refusal.scim_type is None:
                refusal.scim_type = "invalidSyntax"
            raise

    def resource_id(self, data: dict[str, Any]) -> str:
        """Koppel's id of a new resource: the spec's key (externalId: the person number, the role)."""
        value = self.key.search(data)
        if value is None or value == "":
            raise invalid(f"{self.spec.key}: required (Koppel's id of the resource: the SIS person number or the role)")
        try:
            return record_key(value, self.spec.key)
        except Refusal as refusal:
            raise invalid(refusal.detail) from None

    # -- handlers ------------------------------------------------------------------------------

    def collection(self, resource: str):
        async def handler(request: Request) -> Response:
            try:
                self.authorise_headers(request)
                if request.method == "GET":
                    return await self.search(request, resource)
                data = clean(resource, await self.resource_body(request))
                rid = self.resource_id(data)
                self.trial(rid, data)
                await self.check(resource, rid, data, creating=True)
                await self.keep(rid, data, "upsert", resource)
                base = self.base(request, resource)
                return self.ok(201, _echo(data, rid, resource, base), SCIM_TYPE,
                               headers={"Location": f"{base}/{resource}s/{rid}"})
            except Refusal as refusal:
                return self.refuse(refusal, request)

        return handler

    def item(self, resource: str):
        async def handler(request: Request) -> Response:
            try:
                self.authorise_headers(request)
                rid = request.path_params["rid"]
                base = self.base(request, resource)
                current = await self.current(resource, rid, base)
                if request.method == "GET":
                    return self.ok(200, current, SCIM_TYPE)
                if request.method == "DELETE":
                    await self.keep(rid, _closed(resource, rid), "delete", resource)
                    return self.ok(204, None)
                body = await self.resource_body(request)
                if request.method == "PATCH":
                    body = scim_patch.apply(resource, {k: v for k, v in current.items() if k != "meta"}, body)
                data = clean(resource, body)
                if data.get("externalId", rid) != rid:
                    raise invalid(f"externalId: '{data['externalId'][:60]}' is not the id in the path")
                data["externalId"] = rid
                self.trial(rid, data)
                await self.check(resource, rid, data, creating=False)
                await self.keep(rid, data, "patch" if request.method == "PATCH" else "upsert", resource)
                return self.ok(200, _echo(data, rid, resource, base), SCIM_TYPE)
            except Refusal as refusal:
                return self.refuse(refusal, request)

        return handler

    async def current(self, resource: str, rid: str, base: str) -> dict[str, Any]:
        """What the SIS knows of ``rid``, unless a call for it is stored and not yet applied: then
        that call's resource (a PATCH right after a PUT builds on the PUT), or 404 after a DELETE."""
        waiting = await self.sis(self.pending, rid)
        if waiting is not None:
            operation, body = waiting
            if operation == "delete":
                raise Refusal(404, f"{resource} {rid[:60]} was deleted")
            return _echo({k: v for k, v in body.items() if k != "id"}, rid, resource, base)
        find = self.directory.user if resource == "User" else self.directory.group
        found = await self.sis(find, rid, base)
        if found is None:
            raise Refusal(404, f"{resource} {rid[:60]} is not known in the SIS")
        return found

    def pending(self, rid: str) -> tuple[str, dict[str, Any]] | None:
        """(operation, body) of the newest stored call for ``rid`` behind the source's cursor."""
        from sqlalchemy import select

        from runtime.engine.pipeline import source_names, sources_of
        from runtime.engine.state import crypto
        from runtime.engine.state import models as m

        specs = sources_of(self.interface)
        name = source_names(self.interface)[specs.index(self.spec) if self.spec in specs else 0]
        after = int(self.engine.store.cursor(self.interface.id, name) or 0)
        t = m.inbox.c
        q = (select(t.operation, t.body).where(t.interface_id == self.interface.id, t.channel.is_(None), t.key == rid,
                                               t.id > after).order_by(t.id.desc()).limit(1))
        with self.engine.store.engine.connect() as c:
            row = c.execute(q).first()
        body = crypto.unseal(row.body) if row is not None else None  # stored sealed (state/crypto.py)
        return (row.operation, body) if row is not None and isinstance(body, dict) else None

    async def search(self, request: Request, resource: str) -> Response:
        params = request.query_params
        flt = scim_filter.parse(params["filter"]) if params.get("filter") else None
        start, count = _int(params.get("startIndex"), 1, "startIndex"), _int(params.get("count"), MAX_COUNT, "count")
        find = self.directory.users if resource == "User" else self.directory.groups
        found = await self.sis(find, flt, self.base(request, resource))
        page = found[max(start, 1) - 1:][:max(0, min(count, MAX_COUNT))]
        return self.ok(200, {"schemas": [SCIM_LIST], "totalResults": len(found), "startIndex": max(start, 1),
                             "itemsPerPage": len(page), "Resources": page}, SCIM_TYPE)

    async def check(self, resource: str, rid: str, data: dict[str, Any], *, creating: bool) -> None:
        """What the SIS would refuse later, refused now (see the module docstring)."""
        if resource == "Group":
            members = data.get("members") or []
            for index, member in enumerate(members):
                if not isinstance(member.get("value"), str) or not member["value"]:
                    raise invalid(f"members[{index}].value: required")
            people = [m["value"] for m in members if m.get("type") in (None, "User")]
            unknown = await self.sis(self.directory.unknown_people, people)
            if unknown:
                raise invalid(f"members: no person {', '.join(unknown[:5])[:200]} in the SIS")
            waiting = await self.sis(self.pending, rid) if creating else None
            if creating and (await self.sis(self.directory.group, rid, "") or (waiting and waiting[0] != "delete")):
                raise uniqueness(f"the group {rid[:60]} exists; PUT or PATCH /Groups/{rid[:60]}")
            return
        person = await self.sis(self.directory.person, rid)
        if person is None:
            raise invalid(f"{self.spec.key}: no person {rid[:60]} in the SIS")
        waiting = await self.sis(self.pending, rid) if creating else None
        has_account = waiting[0] != "delete" if waiting is not None else person["account_name"] is not None
        if creating and has_account:  # a stored call not yet applied counts as applied
            raise uniqueness(f"person {rid[:60]} has an account; PUT or PATCH /Users/{rid[:60]}")
        if data.get("active") is not False:
            holder = await self.sis(self.directory.account_holder, data["userName"])
            if holder not in (None, rid):
                raise uniqueness("userName: another person has this account name")

    def trial(self, rid: str, data: dict[str, Any]) -> None:
        """Map the resource as the interface's run will, with every target's mapping and contract:
        what would become a dead letter after the 201 is a 400 now (``account_name`` with a space,
        a role name the SIS does not allow, an e-mail address without a domain)."""
        from runtime.errors import KoppelError

        names = {getattr(t, "mapping", None) or self.interface.mapping for t in self.interface.targets}
        for name in sorted(n for n in names if n):
            _, error = self.engine.mapping(name).map_many([{**data, "id": rid}])[0]
            if isinstance(error, KoppelError):
                raise invalid(f"the SIS cannot take this resource (mapping {name}): {error}")
            if error is not None:
                log.error("SCIM: mapping %s failed: %s", name, type(error).__name__, extra={"interface": self.interface.id})
                raise invalid(f"the SIS cannot take this resource (mapping {name})")

    async def sis(self, function, *args):
        from runtime.dberrors import database_outage
        from runtime.errors import KoppelError

        try:
            with database_outage("the SIS store"):
                return await run_in_threadpool(function, *args)
        except KoppelError as exc:  # an outage, or a SIS store not set up: the caller may retry
            log.error("SCIM: %s", exc, extra={"interface": self.interface.id})
            raise Refusal(503, "the SIS is unavailable; try again later") from None

    async def keep(self, rid: str, data: dict[str, Any], operation: str, resource: str) -> None:
        await self.store([(rid, {**data, "id": rid}, operation, resource)])

    # -- discovery (RFC 7644 §4) ---------------------------------------------------------------

    def discovery(self, what: str, resources: list[str]):
        async def handler(request: Request) -> Response:
            try:
                self.authorise_headers(request)
            except Refusal as refusal:
                return self.refuse(refusal, request)
            base = str(request.base_url).rstrip("/") + request.url.path.rsplit("/", 1)[0]
            if what == "ServiceProviderConfig":
                return self.ok(200, _provider_config(base), SCIM_TYPE)
            listed = _resource_types(base, resources) if what == "ResourceTypes" else schema_resources(base)
            return self.ok(200, {"schemas": [SCIM_LIST], "totalResults": len(listed), "startIndex": 1,
                                 "itemsPerPage": len(listed), "Resources": listed}, SCIM_TYPE)

        return handler




def _int(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise invalid(f"{name}: must be an integer") from None


def _closed(resource: str, rid: str) -> dict[str, Any]:
    if resource == "User":
        return {"schemas": [CORE["User"]], "externalId": rid, "active": False}
    return {"schemas": [CORE["Group"]], "externalId": rid, "displayName": rid, "members": []}


def _echo(data: dict[str, Any], rid: str, resource: str, base: str) -> dict[str, Any]:
    return {**data, "id": rid, "meta": {"resourceType": resource, "location": f"{base}/{resource}s/{rid}"}}


def _provider_config(base: str) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": True}, "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MAX_COUNT}, "changePassword": {"supported": False},
            "sort": {"supported": False}, "etag": {"supported": False},
            "authenticationSchemes": [{"type": "oauthbearertoken", "name": "Bearer token",
                                       "description": "The token agreed for this environment (catalog.yaml inbound_auth)."}],
            "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"}}


def _resource_types(base: str, resources: list[str]) -> list[dict[str, Any]]:
    return [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": r, "name": r,
             "endpoint": f"/{r}s", "schema": CORE[r],
             "schemaExtensions": [{"schema": ENTERPRISE, "required": False}] if r == "User" else [],
             "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{r}"}}
            for r in resources]

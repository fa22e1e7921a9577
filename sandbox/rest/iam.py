"""The IAM, Tools4ever SmartAIM (interfaces 1 and 3): pushes SCIM 2.0 Users and Groups to Koppel.

SmartAIM's own API is not public; provisioning over SCIM 2.0 (RFC 7643/7644) is the contract.
The stand-in is a SCIM *client*: ``POST /_sandbox/push`` (on its port, 8501) sends

    {"users": 5, "start": 0, "groups": true}         (the defaults)

(``"invalid": true`` adds one User without its required ``userName``, which Koppel must refuse
with a SCIM error.)

Users first, each the way provisioning clients (Entra ID, SmartAIM-style connectors) do it: search
``GET {koppel_url}/scim/v2/Users?filter=externalId eq "<person number>"``; found, ``PUT
/scim/v2/Users/{id}``; not found, ``POST /scim/v2/Users`` (Koppel answers from the SIS, so a
user is found once interface 3 has written its account). Then the Groups (roles), with the users
as members, the same way on ``/scim/v2/Groups``. ``{"delete": ["P100001"]}`` sends ``DELETE
/scim/v2/Users/{id}`` for those users instead (the account is closed, the person stays). Every call has ``Authorization: Bearer
<sandbox/secrets/iam-scim-token>`` and ``Content-Type: application/scim+json``. A User:

    {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
     "externalId": "P100001",                       ← the SIS person number
     "userName": "s100001",                         ← the account name (interface 3)
     "name": {"givenName": "Emma", "familyName": "Jansen", "formatted": "Emma Jansen"},
     "displayName": "Emma Jansen", "active": true,
     "emails": [{"value": "s100001@student.kw1c.nl", "type": "work", "primary": true}],
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
         {"employeeNumber": "S100001", "organization": "KW1C"}}

A Group (a role, interface 1): ``{"schemas": [...Group], "externalId": "student", "displayName":
"KW1C rol student", "members": [{"value": "<Koppel's user id>", "$ref": ".../Users/<id>",
"type": "User"}]}``; roles ``student`` (every user) and ``studentassistent`` (every third).

Outgoing resources are checked against ``specs/scim2`` before they are sent, and Koppel's
answers (the stored resource) too; the answer of ``/_sandbox/push`` lists each call with its
status and any contract errors. Pushes of the same ``start``/``users`` send the same people.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest import scim, synthetic, webhooks
from sandbox.rest.common import option, option_secret
from sandbox.standin import StandinContext, control_routes

TOKEN_REFERENCE = "${file:sandbox/secrets/iam-scim-token}"
ROLES = {"student": ("KW1C rol student", 1), "studentassistent": ("KW1C rol studentassistent", 3)}


def user(index: int) -> dict[str, Any]:
    student = synthetic.student_number(index)
    person = synthetic.person_number(index)
    who = synthetic.name(synthetic.rng("iam", index))
    family = f"{who['tussenvoegsel']} {who['last_name']}".strip()
    full = f"{who['given_name']} {family}"
    account = student.lower()
    return {
        "schemas": [scim.USER, scim.ENTERPRISE],
        "externalId": person,
        "userName": account,
        "name": {"givenName": who["given_name"], "familyName": family, "formatted": full},
        "displayName": full,
        "active": True,
        "emails": [{"value": f"{account}@student.kw1c.nl", "type": "work", "primary": True}],
        scim.ENTERPRISE: {"employeeNumber": student, "organization": "KW1C"},
    }


def group(role: str, member_ids: list[str], base: str) -> dict[str, Any]:
    return {
        "schemas": [scim.GROUP],
        "externalId": role,
        "displayName": ROLES[role][0],
        "members": [{"value": i, "$ref": f"{base}/Users/{i}", "type": "User"} for i in member_ids],
    }


def create_app(ctx: StandinContext) -> Starlette:
    scim_base = webhooks.koppel_url(ctx) + "/scim/v2"
    token = option_secret(ctx, "scim_token") or ctx.secret(TOKEN_REFERENCE)
    scim_dir = ctx.contract("scim2")
    known: dict[str, dict[str, str]] = {"Users": {}, "Groups": {}}  # externalId → Koppel's id

    async def send(client: Any, kind: str, resource: dict[str, Any], core: str, *, check: bool = True) -> dict[str, Any]:
        if scim_dir is not None and check:
            own = scim.errors(scim_dir, resource, core)
            if own:  # a bug in the stand-in, not in Koppel: say so loudly
                return {"externalId": resource["externalId"], "status": None, "errors": ["sandbox: " + e for e in own]}
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json",
                   "Accept": "application/scim+json"}
        import httpx

        try:
            koppel_id = await search(client, kind, resource["externalId"], headers)
            if koppel_id:
                response = await client.put(f"{scim_base}/{kind}/{koppel_id}", json=resource, headers=headers)
            else:
                response = await client.post(f"{scim_base}/{kind}", json=resource, headers=headers)
        except httpx.HTTPError as exc:
            outcome = {"externalId": resource["externalId"], "status": None, "error": type(exc).__name__}
            ctx.received.add("sent", resource, what=kind, to=scim_base, status=None, error=outcome["error"])
            return outcome
        outcome: dict[str, Any] = {"externalId": resource["externalId"], "status": response.status_code,
                                   "method": "PUT" if koppel_id else "POST"}
        if response.status_code in (200, 201):
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if isinstance(answer, dict) and answer.get("id"):
                known[kind][resource["externalId"]] = str(answer["id"])
                outcome["id"] = str(answer["id"])
            problems = scim.errors(scim_dir, answer, core) if scim_dir is not None else []
            if problems or not (isinstance(answer, dict) and answer.get("id")):
                outcome["errors"] = problems or ["the answer has no 'id'"]
        ctx.received.add("sent", resource, what=kind, to=scim_base, status=response.status_code)
        return outcome

    async def search(client: Any, kind: str, external_id: str, headers: dict[str, str]) -> str | None:
        """Koppel's id of the resource with this externalId, or None (RFC 7644 §3.4.2 filter)."""
        query = {"filter": f'externalId eq "{external_id}"'}
        response = await client.get(f"{scim_base}/{kind}", params=query, headers=headers)
        if response.status_code != 200:
            return None
        found = response.json().get("Resources") or []
        if found:
            known[kind][external_id] = str(found[0]["id"])
            return str(found[0]["id"])
        return None

    async def close(client: Any, external_id: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/scim+json"}
        koppel_id = await search(client, "Users", external_id, headers) or external_id
        response = await client.delete(f"{scim_base}/Users/{koppel_id}", headers=headers)
        ctx.received.add("sent", {"externalId": external_id}, what="Users", to=scim_base, status=response.status_code)
        return {"externalId": external_id, "status": response.status_code, "method": "DELETE"}

    async def push(request: Request) -> Response:
        import httpx

        spec = (await request.json()) if await request.body() else {}
        start, count = int(spec.get("start", 0)), int(spec.get("users", 5))
        results: dict[str, list[dict[str, Any]]] = {"Users": [], "Groups": []}
        async with httpx.AsyncClient(timeout=float(option(ctx, "timeout", 10))) as client:
            if spec.get("delete"):
                results["Users"] = [await close(client, str(number)) for number in spec["delete"]]
                return JSONResponse(results)
            users = [user(i) for i in range(start, start + count)]
            for resource in users:
                results["Users"].append(await send(client, "Users", resource, scim.USER))
            if spec.get("invalid"):  # a User without its required userName: Koppel must refuse it
                broken = {k: v for k, v in user(start + count).items() if k != "userName"}
                results["Users"].append(await send(client, "Users", broken, scim.USER, check=False))
            if spec.get("groups", True):
                ids = [known["Users"][u["externalId"]] for u in users if u["externalId"] in known["Users"]]
                for role, (_, every) in ROLES.items():
                    results["Groups"].append(await send(client, "Groups", group(role, ids[::every], scim_base),
                                                        scim.GROUP))
        return JSONResponse(results)

    return Starlette(routes=control_routes(ctx) + [Route("/_sandbox/push", push, methods=["POST"])])

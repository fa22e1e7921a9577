"""Signhost (interface 14): the real REST API of ``specs/signhost/openapi.yaml``, in memory.

    POST /api/transaction                        CreateTransactionRequest → 200 Transaction (Status 5)
    PUT  /api/transaction/{id}/file/{fileId}     application/pdf (raw bytes, optional ``Digest:
                                                 SHA-256=<base64>``) → 201 / 200; or
                                                 application/json FileMetadata → 202 / 200
    PUT  /api/transaction/{id}/start             → 204; 400 without a file
    GET  /api/transaction/{id}                   → 200 Transaction; 404 unknown
    DELETE /api/transaction/{id}                 → 200; status 60 (cancelled)
    GET  /api/transaction/{id}/file/{fileId}     the signed PDF (403 before status 30)
    GET  /api/file/receipt/{transactionId}       the receipt, a PDF (404 before status 30)

Headers on every call: ``Application: APPKey <app key>`` and ``Authorization: APIKey <user
token>`` (401 otherwise). Bodies are validated against the OpenAPI document (400 with an RFC
7807 problem); without the specs only ``Seal`` and each signer's ``Email`` are required.

The college's signing policy (what its Signhost account is set up for; Signhost itself knows no
ages): every transaction names its document in ``Context.documentKind`` and whether the student
is a minor in ``Context.studentIsMinor``, and each signer its role in ``Context.role``. Refused
with 400: no documentKind; an onderwijsovereenkomst of a minor without a signer of role
``wettelijk_vertegenwoordiger``; a BPV agreement (``bpvo``) without ``student``, ``leerbedrijf``
and ``school`` (and the representative for a minor); the student not signing first. The public
contract has no signing-order field: signers sign in the order of ``Signers[]`` (with
``SignRequestMode`` 2, each gets the request when the previous one signed).

After start the signers act one after another, each ``options.sign_delay`` seconds (default 1.0)
after the previous: the transaction goes to 20 (in progress) after the first of several, to 30
(Signed) after the last, or to 40 (Rejected) when a signer's e-mail contains ``+reject``. The
signed PDF is the uploaded one with a trailer naming the signers; the receipt is a one-page PDF.
Every status change (10 on start, 20, then 30/40, 60 on delete) is posted to Koppel:
to the global postback URL ``options.koppel_url`` + ``/hooks/signhost`` (with a ``Checksum``
header) and to the transaction's own ``PostbackUrl`` when set. The body is the Transaction
JSON plus ``Checksum`` = sha1(id || status | postback secret). A postback answered with
anything but 2xx is retried (``options.postback_retries``, default 3,
``options.postback_retry_delay`` 1 s apart).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.sis.seed.documents import pdf_bytes
from sandbox.rest import webhooks
from sandbox.rest.common import (
    base_path,
    gate,
    openapi_document,
    option,
    option_secret,
    same_secret,
)
from sandbox.standin import Fault, StandinContext, control_routes

SPEC = "signhost/openapi.yaml"
MAX_FILE = 50 * 1024 * 1024


def _now() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat()


def error(status: int, message: str, errors: list[str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "https://api.signhost.com/problems/" + str(status), "title": message,
                            "status": status}
    if errors:
        body["detail"] = "; ".join(errors[:5])
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def legacy_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"Message": message}, status_code=status)


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    spec = openapi_document(ctx, SPEC)
    headers = ctx.settings.auth.headers
    prefixes = ctx.settings.auth.prefixes
    expected = {name: prefixes.get(name, "") + ctx.secret(ref) for name, ref in headers.items()}
    secret = option_secret(ctx, "postback_secret") or ""
    delay = float(option(ctx, "sign_delay", 1.0))
    retries = int(option(ctx, "postback_retries", 3))
    retry_delay = float(option(ctx, "postback_retry_delay", 1.0))
    global_url = webhooks.koppel_url(ctx) + "/hooks/signhost"
    transactions: dict[str, dict[str, Any]] = {}
    files: dict[tuple[str, str], bytes] = {}
    tasks: set[asyncio.Task] = set()
    queue_lock = asyncio.Lock()  # one postback at a time, delivered serially

    def auth(request: Request) -> Response | None:
        for name, value in expected.items():
            if not same_secret(request.headers.get(name, ""), value):
                return legacy_error(401, f"Invalid or missing {name} header")
        return None

    def reject(fault: Fault) -> Response:
        return error(400, "The request was rejected (sandbox fault)")

    async def create(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        body = await request.body()
        try:
            data = json.loads(body)
        except ValueError:
            return error(400, "The request body is not valid JSON")
        early = await gate(ctx, request, body, reject)
        if early:
            return early
        errors = _validate_create(spec, data) or signing_policy(data)
        if errors:
            ctx.received.add("refused", data, path=request.url.path, errors=errors)
            return error(400, "The request is invalid", errors)
        tid = str(uuid.uuid4())
        now = _now()
        signers = []
        for s in data.get("Signers") or []:
            sid = s.get("Id") or str(uuid.uuid4())
            signers.append({**s, "Id": sid, "Activities": [], "SignUrl": f"https://sandbox.signhost.local/sign/{sid}",
                            "SignedDateTime": None, "RejectDateTime": None, "CreatedDateTime": now,
                            "ModifiedDateTime": now})
        transaction = {**data, "Id": tid, "Status": 5, "Files": {}, "Signers": signers,
                       "Receivers": data.get("Receivers") or [], "CreatedDateTime": now, "ModifiedDateTime": now}
        transactions[tid] = transaction
        ctx.received.add("transaction", data, path=request.url.path, id=tid)
        return JSONResponse(transaction)

    def find(request: Request) -> dict[str, Any] | Response:
        """The transaction the path names, after the credentials: or the answer that refuses."""
        denied = auth(request)
        if denied:
            return denied
        transaction = transactions.get(request.path_params["id"])
        return error(404, "Transaction not found") if transaction is None else transaction

    async def upload(request: Request) -> Response:
        transaction = find(request)
        if isinstance(transaction, Response):
            return transaction
        body = await request.body()
        early = await gate(ctx, request, body[:2000], reject)
        if early:
            return early
        file_id = request.path_params["file_id"]
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        link = f"{ctx.settings.url}/transaction/{transaction['Id']}/file/{file_id}"

        def entry() -> dict[str, Any]:  # listed in Files only once the upload was accepted
            return transaction["Files"].setdefault(file_id, {
                "DisplayName": file_id, "Links": [{"Rel": "file", "Type": "application/pdf", "Link": link}]})

        if kind == "application/pdf":
            if len(body) > MAX_FILE:
                return error(413, "The file is larger than 50 MB")
            if not body.startswith(b"%PDF-"):
                return error(400, "The file is not a PDF")
            digest = request.headers.get("digest")
            if digest and not _digest_matches(digest, body):
                return error(400, "The Digest header does not match the file")
            existed = (transaction["Id"], file_id) in files
            files[(transaction["Id"], file_id)] = body
            entry()
            ctx.received.add("file", {"fileId": file_id, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()},
                             path=request.url.path, id=transaction["Id"])
            return Response(status_code=200 if existed else 201)
        if kind == "application/json":
            try:
                meta = json.loads(body)
            except ValueError:
                return error(400, "The request body is not valid JSON")
            errors = spec.request_errors("put", "/api/transaction/x/file/y", meta) if spec else []
            if errors:
                return error(400, "The file metadata is invalid", errors)
            if isinstance(meta, dict) and meta.get("DisplayName"):
                entry()["DisplayName"] = meta["DisplayName"]
            ctx.received.add("file-metadata", meta, path=request.url.path, id=transaction["Id"])
            return Response(status_code=200 if (transaction["Id"], file_id) in files else 202)
        return error(400, f"Unsupported Content-Type '{kind}'")

    async def start(request: Request) -> Response:
        transaction = find(request)
        if isinstance(transaction, Response):
            return transaction
        early = await gate(ctx, request, transaction["Id"].encode(), reject)
        if early:
            return early
        if transaction["Status"] != 5:
            return error(400, "The transaction has already been started")
        if not any(key[0] == transaction["Id"] for key in files):
            return error(400, "The transaction has no file to sign")
        ctx.received.add("start", {"Id": transaction["Id"]}, path=request.url.path, id=transaction["Id"])
        _set_status(transaction, 10)
        _spawn(_sign_later(transaction))
        return Response(status_code=204)

    async def get(request: Request) -> Response:
        transaction = find(request)
        return transaction if isinstance(transaction, Response) else JSONResponse(transaction)

    async def delete(request: Request) -> Response:
        transaction = find(request)
        if isinstance(transaction, Response):
            return transaction
        if transaction["Status"] < 30:
            transaction["CanceledDateTime"] = _now()
            _set_status(transaction, 60)
        return JSONResponse(transaction)

    async def download(request: Request) -> Response:
        transaction = find(request)
        if isinstance(transaction, Response):
            return transaction
        data = files.get((request.path_params["id"], request.path_params["file_id"]))
        if data is None:
            return error(404, "File not found")
        if transaction["Status"] != 30:
            return error(403, "The document is not signed")
        return Response(data, media_type="application/pdf")

    # -- the signer, and postbacks ----------------------------------------------------------

    def _spawn(coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _set_status(transaction: dict[str, Any], status: int) -> None:
        transaction["Status"] = status
        transaction["ModifiedDateTime"] = _now()
        _spawn(_postback(copy.deepcopy(transaction)))

    async def _sign_later(transaction: dict[str, Any]) -> None:
        signers = transaction["Signers"]
        for n, signer in enumerate(signers):
            await asyncio.sleep(delay)
            if transaction["Status"] not in (10, 20):
                return
            rejects = "+reject" in (signer.get("Email") or "")
            now = _now()
            signer["Activities"] += [
                {"Id": str(uuid.uuid4()), "Code": 103, "Activity": "Opened", "CreatedDateTime": now},
                {"Id": str(uuid.uuid4()), "Code": 202 if rejects else 203,
                 "Activity": "Rejected" if rejects else "Signed", "CreatedDateTime": now},
            ]
            signer["RejectDateTime" if rejects else "SignedDateTime"] = now
            if rejects:
                _set_status(transaction, 40)
                return
            if n == len(signers) - 1:
                for file_id in transaction["Files"]:
                    key = (transaction["Id"], file_id)
                    files[key] = _signed(files[key], signers)
                _set_status(transaction, 30)
            elif transaction["Status"] == 10:
                _set_status(transaction, 20)

    async def receipt(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        transaction = transactions.get(request.path_params["id"])
        if transaction is None or transaction["Status"] != 30:
            return legacy_error(404, "receipt not found.")
        lines = [f"Transactie {transaction['Id']}", f"Referentie {transaction.get('Reference') or '-'}"]
        lines += [f"{(s.get('Context') or {}).get('role', 'ondertekenaar')}: ondertekend {s['SignedDateTime']}"
                  for s in transaction["Signers"]]
        return Response(pdf_bytes("Ontvangstbewijs Signhost", "receipt", lines), media_type="application/pdf")

    async def _postback(transaction: dict[str, Any]) -> None:
        checksum = webhooks.signhost_checksum(transaction["Id"], transaction["Status"], secret)
        body = webhooks.encode({**transaction, "Checksum": checksum})
        targets = [(global_url, {"Checksum": checksum})]
        if transaction.get("PostbackUrl") and transaction["PostbackUrl"] != global_url:
            targets.append((transaction["PostbackUrl"], {}))
        async with queue_lock:
            for url, extra in targets:
                for attempt in range(retries + 1):
                    status = await webhooks.post(ctx, url, body, extra, kind="postback",
                                                 payload={"Id": transaction["Id"], "Status": transaction["Status"],
                                                          "Checksum": checksum})
                    if status is not None and 200 <= status < 300:
                        break
                    if attempt < retries:
                        await asyncio.sleep(retry_delay)

    t = f"{base}/transaction/{{id:str}}"
    return Starlette(routes=control_routes(ctx) + [
        Route(f"{base}/transaction", create, methods=["POST"]),
        Route(f"{t}/file/{{file_id:str}}", upload, methods=["PUT"]),
        Route(f"{t}/file/{{file_id:str}}", download, methods=["GET"]),
        Route(f"{t}/start", start, methods=["PUT"]),
        Route(f"{base}/file/receipt/{{id:str}}", receipt, methods=["GET"]),
        Route(t, get, methods=["GET"]),
        Route(t, delete, methods=["DELETE"]),
    ])


ROLES_REQUIRED = {"onderwijsovereenkomst": ["student"], "bpvo": ["student", "leerbedrijf", "school"]}
REPRESENTATIVE = "wettelijk_vertegenwoordiger"


def signing_policy(data: Any) -> list[str]:
    """What the college's signing policy refuses (see the module doc); [] when the signers fit."""
    if not isinstance(data, dict):
        return []
    context = data.get("Context") if isinstance(data.get("Context"), dict) else {}
    kind = context.get("documentKind")
    if not kind:
        return ["Context.documentKind: every transaction names the kind of document it signs"]
    roles = [(s.get("Context") or {}).get("role") if isinstance(s, dict) else None for s in data.get("Signers") or []]
    required = list(ROLES_REQUIRED.get(kind, ["student"]))
    if context.get("studentIsMinor") is True and kind in ROLES_REQUIRED:
        required.append(REPRESENTATIVE)
    missing = [role for role in required if role not in roles]
    errors = [f"Signers: a {kind}{' of a minor' if REPRESENTATIVE in required else ''} must also be signed by "
              f"the {role} (Signers[].Context.role)" for role in missing]
    if roles and roles[0] != "student" and "student" in roles:
        errors.append("Signers: the student signs first")
    if len(set(roles)) != len(roles):
        errors.append("Signers: each role signs once")
    return errors


def _signed(pdf: bytes, signers: list[dict[str, Any]]) -> bytes:
    """The uploaded PDF with a trailer comment naming who signed when (a reader ignores it)."""
    names = "; ".join(f"{(s.get('Context') or {}).get('role', '?')} {s.get('SignedDateTime')}" for s in signers)
    return pdf + f"\n% Signhost sandbox: signed by {names}\n".encode("latin-1", "replace")


def _validate_create(spec: Any, data: Any) -> list[str]:
    if spec is not None:
        return spec.request_errors("post", "/api/transaction", data)
    if not isinstance(data, dict):
        return ["(root): must be a JSON object"]
    errors = [] if "Seal" in data else ["(root): 'Seal' is a required property"]
    for i, signer in enumerate(data.get("Signers") or []):
        if not isinstance(signer, dict) or not signer.get("Email"):
            errors.append(f"Signers/{i}: 'Email' is a required property")
    return errors


def _digest_matches(header: str, body: bytes) -> bool:
    algorithm, _, value = header.partition("=")
    if algorithm.strip().upper() != "SHA-256":
        return True  # other algorithms are not checked by the stand-in
    return base64.b64encode(hashlib.sha256(body).digest()).decode() == value.strip()

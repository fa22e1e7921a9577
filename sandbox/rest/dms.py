"""DMS, Canon Therefore (interface 19): ``CreateDocument`` with index fields, HTTP Basic.

Therefore's Web API is WCF "restun": every operation is ``POST {base}/<Operation>`` with JSON.

    POST {base}/CreateDocument
    {"CategoryNo": 2,
     "IndexDataItems": [{"StringIndexData": {"FieldName": "Studentnummer", "DataValue": "S100001"}},
                        {"DateIndexData": {"FieldName": "Documentdatum", "DataValue": "2026-11-28"}}],
     "Streams": [{"FileName": "ook-S100001.pdf", "FileDataBase64JSON": "<base64>"}],
     "DoFillDependentFields": true}
    → 200 {"DocNo": 1001, "VersionNo": 1}
    POST {base}/GetDocument {"DocNo": 1001}  → the stored index data and file names

Categories (``options.categories`` may replace them): 1 Verblijfsdocumenten, 2 OOK
(onderwijsovereenkomst), 3 Opleidingsbladen, 4 BPVO; each requires the index field
``Studentnummer``. The college archives an onderwijsovereenkomst and a BPV agreement only as
the signed file (categories in ``options.signed_categories``, default 2 and 4): a CreateDocument in
those categories without a PDF stream is refused (the stand-in cannot check a signature; the
tests look at the bytes it kept, ``received``). An index item is one of StringIndexData, IntIndexData, DateIndexData,
MoneyIndexData, LogicalIndexData, SingleKeywordData with ``FieldNo`` or ``FieldName`` and
``DataValue``. A stream's ``FileData`` is a byte array, ``FileDataBase64JSON`` base64. Errors are
400 ``{"ErrorCode": -2147467259, "ErrorCodeString": "...", "ErrorMessage": "..."}``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.rest.common import base_path, basic_checker, option, receive
from sandbox.standin import StandinContext, control_routes

CATEGORIES = {1: "Verblijfsdocumenten", 2: "OOK", 3: "Opleidingsbladen", 4: "BPVO"}
INDEX_TYPES = ("StringIndexData", "IntIndexData", "DateIndexData", "MoneyIndexData", "LogicalIndexData",
               "SingleKeywordData", "MultipleKeywordData", "TableData")
REQUIRED_FIELD = "Studentnummer"
SIGNED_CATEGORIES = (2, 4)


def error(message: str, code: str = "InvalidParameter", status: int = 400) -> JSONResponse:
    return JSONResponse({"ErrorCode": -2147467259, "ErrorCodeString": code, "ErrorMessage": message},
                        status_code=status)


def validate(data: Any, categories: dict[int, str], signed: tuple[int, ...] = SIGNED_CATEGORIES) -> list[str]:
    if not isinstance(data, dict):
        return ["body must be a JSON object"]
    errors = []
    category = data.get("CategoryNo")
    if not isinstance(category, int) or isinstance(category, bool) or category not in categories:
        errors.append(f"CategoryNo: unknown category {data.get('CategoryNo')!r}; known: {sorted(categories)}")
    names = set()
    for i, item in enumerate(data.get("IndexDataItems") or []):
        kinds = [k for k in item if k in INDEX_TYPES] if isinstance(item, dict) else []
        if len(kinds) != 1:
            errors.append(f"IndexDataItems/{i}: must hold exactly one of {', '.join(INDEX_TYPES)}")
            continue
        value = item[kinds[0]]
        if not isinstance(value, dict) or ("FieldNo" not in value and "FieldName" not in value):
            errors.append(f"IndexDataItems/{i}/{kinds[0]}: FieldNo or FieldName is required")
            continue
        if "DataValue" not in value and kinds[0] not in ("MultipleKeywordData", "TableData"):
            errors.append(f"IndexDataItems/{i}/{kinds[0]}: DataValue is required")
        names.add(value.get("FieldName"))
    if REQUIRED_FIELD not in names:
        errors.append(f"IndexDataItems: the index field '{REQUIRED_FIELD}' is required")
    if category in signed and not any(isinstance(s, dict) and str(s.get("FileName", "")).lower().endswith(".pdf")
                                      for s in data.get("Streams") or []):
        errors.append(f"Streams: a document of category {categories.get(category, category)} is archived only with "
                      "its signed PDF")
    for i, stream in enumerate(data.get("Streams") or []):
        if not isinstance(stream, dict) or not stream.get("FileName"):
            errors.append(f"Streams/{i}: FileName is required")
            continue
        if "FileDataBase64JSON" in stream:
            try:
                base64.b64decode(stream["FileDataBase64JSON"], validate=True)
            except (binascii.Error, TypeError):
                errors.append(f"Streams/{i}: FileDataBase64JSON is not base64")
        elif not isinstance(stream.get("FileData"), list):
            errors.append(f"Streams/{i}: FileData (byte array) or FileDataBase64JSON is required")
    return errors


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)
    auth = basic_checker(ctx)
    categories = {int(k): v for k, v in option(ctx, "categories", CATEGORIES).items()}
    signed = tuple(int(c) for c in option(ctx, "signed_categories", SIGNED_CATEGORIES))
    numbers = itertools.count(1001)
    documents: dict[int, dict[str, Any]] = {}

    def respond(data: dict[str, Any]) -> Response:
        doc_no = next(numbers)
        documents[doc_no] = {"CategoryNo": data["CategoryNo"], "IndexDataItems": data.get("IndexDataItems", []),
                             "FileNames": [s["FileName"] for s in data.get("Streams") or []]}
        return JSONResponse({"DocNo": doc_no, "VersionNo": 1})

    async def create(request: Request) -> Response:
        return await receive(ctx, request, auth=auth, kind="document", validate=lambda d: validate(d, categories, signed),
                             reject=lambda f: error("The document was refused (sandbox fault)", "AccessDenied"),
                             invalid=lambda errors: error("; ".join(errors)), respond=respond)

    async def get(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        data = await request.json()
        doc = documents.get(data.get("DocNo") if isinstance(data, dict) else None)
        return JSONResponse({"DocNo": data["DocNo"], "VersionNo": 1, **doc}) if doc else error(
            "The document does not exist", "DocumentNotFound", 404)

    return Starlette(routes=control_routes(ctx) + [
        Route(f"{base}/CreateDocument", create, methods=["POST"]),
        Route(f"{base}/GetDocument", get, methods=["POST"]),
    ])

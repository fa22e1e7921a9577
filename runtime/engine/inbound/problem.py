"""Refusals as the caller's protocol expects them.

Webhook routes answer RFC 9457 problem details (``application/problem+json``): ``type`` is
``about:blank`` (the status says it all), ``title`` the status phrase, ``detail`` what was wrong
and where, never a value from the body. SCIM routes answer RFC 7644 §3.12 errors
(``application/scim+json``) with ``status`` as a string and ``scimType`` where the RFC names one.
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import JSONResponse

PROBLEM_TYPE = "application/problem+json"
SCIM_TYPE = "application/scim+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def _headers(status: int) -> dict[str, str]:
    # a refused upload may still be streaming in: close the connection rather than read it all
    return {"Connection": "close"} if status in (413, 415) else {}


def problem(status: int, detail: str, *, instance: str | None = None) -> JSONResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=_headers(status))


def scim_error(status: int, detail: str, scim_type: str | None = None) -> JSONResponse:
    body: dict = {"schemas": [SCIM_ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return JSONResponse(body, status_code=status, media_type=SCIM_TYPE, headers=_headers(status))

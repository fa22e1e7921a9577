"""Reading and parsing a call's body within fixed bounds.

The size limit is enforced while the body streams in: the server reads at most ``limit`` bytes
and refuses at the first byte past it, so a 200 MB chunked body costs one chunk of memory, not
200 MB, and N such calls cost N chunks. A declared ``Content-Length`` past the limit is refused
before anything is read.

JSON is parsed with the standard library and then walked without recursion to check the depth;
the C parser itself stops a pathologically deep document with RecursionError, which is caught
here. Duplicate keys are refused (two parsers could read a different ``Id`` from one body), and
so are ``NaN`` and ``Infinity`` (not JSON, and not storable in PostgreSQL).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

JSON_TYPES = ("application/json",)
MAX_DEPTH = 32


class Refusal(Exception):
    """A call refused before anything was stored: the HTTP status and what was wrong."""

    def __init__(self, status: int, detail: str, *, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def check_content_type(request: Request, allowed: tuple[str, ...] = JSON_TYPES) -> None:
    """415 for a declared type that is not JSON. A call without a Content-Type is read as JSON:
    the body must still parse, and some senders (curl -d, test tools) leave the header out."""
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media = declared.split(";", 1)[0].strip().lower()
    if media not in allowed and not media.endswith("+json"):
        raise Refusal(415, f"content type '{media[:80]}' is not accepted; send {' or '.join(allowed)}")


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, at most ``limit`` bytes; 413 before buffering more."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise Refusal(413, f"the body is larger than {limit} bytes")
        except ValueError:
            raise Refusal(400, "the Content-Length header is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise Refusal(400, f"the key '{twice[:60]}' appears twice in one object")
    return data


def _constant(name: str) -> Any:
    raise Refusal(400, f"{name} is not a JSON number")


def parse_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body, or Refusal(400) saying what is wrong with it."""
    if not body.strip():
        raise Refusal(400, "the body is empty")
    try:
        data = json.loads(body, object_pairs_hook=_pairs, parse_constant=_constant)
    except RecursionError:
        raise Refusal(400, f"the JSON is nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise Refusal(400, f"the body is not JSON{where}") from None
    if depth_exceeds(data, max_depth):
        raise Refusal(400, f"the JSON is nested deeper than {max_depth} levels")
    return data


def depth_exceeds(data: Any, max_depth: int) -> bool:
    """True when ``data`` nests lists/objects deeper than ``max_depth`` (iterative: no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > max_depth:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def record_key(value: Any, where: str) -> str:
    """A record's key as text: a non-empty string or an integer, nothing else (an object as key
    would be stored as its Python repr and match nothing). Missing: 422, the body itself is fine."""
    if value is None or value == "":
        raise Refusal(422, f"a record has no key at '{where}'")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Refusal(400, f"the record key at '{where}' is a JSON {_kind(value)}, not a string or number")
    text = str(value)
    if len(text) > 500:
        raise Refusal(400, f"the record key at '{where}' is longer than 500 characters")
    return text


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", bool: "boolean", float: "number"}.get(type(value), type(value).__name__)

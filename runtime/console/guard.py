"""Every console route is one of three kinds, and says so with a decorator:

``public``   the sign-in pages and the static files;
``page``     needs a session: without one an HTML client is sent to sign-in (303), anything else
             gets 401 with a JSON body;
``action``   a POST that needs a session, the ``operator`` role (a viewer gets 403) and the CSRF
             token of that session in the form (``csrf``; else 403). A cross-origin ``Origin``
             header is refused as well, whatever the token.

The CSRF token is random per session (synchronizer token), compared in constant time.
tests/console/test_console_http.py walks every route of the app and checks the kind holds.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import time
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse

from runtime.engine.audit import Actor

KIND = "_console_kind"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def current_actor(request: Request) -> Actor | None:
    user = request.session.get("user")
    if not user:
        return None
    if time.time() > user.get("expires", 0):
        request.session.clear()
        return None
    return Actor(user["name"], user["role"])


def sign_in(request: Request, actor: Actor, hours: float) -> None:
    request.session.clear()  # a new session id and token on sign-in: no session fixation
    request.session["user"] = {"name": actor.name, "role": actor.role, "expires": time.time() + hours * 3600}
    csrf_token(request)


def public(endpoint):
    @functools.wraps(endpoint)
    async def open_to_all(request: Request):
        return await endpoint(request)

    setattr(open_to_all, KIND, "public")
    return open_to_all


def page(endpoint):
    return _guarded(endpoint, "page")


def action(endpoint):
    return _guarded(endpoint, "action")


def _guarded(endpoint, kind: str):
    @functools.wraps(endpoint)
    async def guarded(request: Request):
        actor = current_actor(request)
        if actor is None:
            return _unauthenticated(request)
        if kind == "action":
            refusal = await _refuse_action(request, actor)
            if refusal is not None:
                return refusal
        request.state.actor = actor
        return await endpoint(request)

    setattr(guarded, KIND, kind)
    return guarded


async def _refuse_action(request: Request, actor: Actor):
    """403 with the reason, or None when this POST may go ahead (its form kept on request.state)."""
    if not _same_origin(request):
        return PlainTextResponse("refused: this form was posted from another site", status_code=403)
    form = await request.form()
    sent = str(form.get("csrf") or "")
    expected = request.session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return PlainTextResponse("refused: the form's CSRF token is missing or wrong; reload the page and try again",
                                 status_code=403)
    if actor.role != "operator":
        return PlainTextResponse(f"refused: {actor.name} is a viewer; running, replaying and discarding need "
                                 "the operator role", status_code=403)
    request.state.form = form
    return None


def _unauthenticated(request: Request):
    if "text/html" in request.headers.get("accept", "") and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{_root(request)}/login?next={quote(target)}", status_code=303)
    return JSONResponse({"error": "sign in first", "sign_in": f"{_root(request)}/login"}, status_code=401)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin:  # not every client sends one; the token still has to match
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def safe_next(value: str | None, root: str) -> str:
    """Where to go after sign-in: only a path of this console, never another site."""
    if value and value.startswith(root + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return root + "/"

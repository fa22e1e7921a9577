"""The console's Starlette app (mounted at /ui by runtime/engine/server.py).

    GET  /                     overview: every interface, its state, last and next run, backlog, dead letters
    GET  /interfaces/{id}      definition (masked), recent runs with trace ids, deliveries per run
    POST /interfaces/{id}/run | /dry-run          operator: run now, or show the masked messages
    GET  /runs/{id}            one run: counts, trace id, what it delivered
    GET  /deadletters          filters (interface, error class, since); GET /deadletters/{id}: detail
    POST /deadletters/replay | /deadletters/discard   operator: selected ones or all matching, with a reason
    GET  /lineage?q=           every delivery of a record, newest first
    GET  /audit                the audit trail
    GET/POST /login, GET /auth/oidc, GET /auth/callback, POST /logout

Without ``console:`` settings for the environment every path answers 404 saying how to set it up.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from runtime import redact
from runtime.console import actions, views
from runtime.console.auth import LocalAccounts, console_settings, oidc_client, role_from_claims
from runtime.console.guard import action, csrf_token, page, public, safe_next, sign_in
from runtime.console.picture import architecture_svg
from runtime.console.rendering import Templates
from runtime.engine import audit
from runtime.engine.audit import Actor
from runtime.errors import ConfigError, KoppelError
from runtime.secrets import resolve

HERE = Path(__file__).parent
log = logging.getLogger("koppel.console")
COOKIE = "koppel_console"


def console_app(engine, state=None) -> Starlette:
    settings = console_settings(engine.project, engine.environment)
    if settings is None:
        return _not_configured(engine.environment, f"add console.{engine.environment} to catalog.yaml "
                                                    "(runtime/console/settings.py)")
    root = engine.project.root
    try:  # a console that cannot start must not stop the daemon's webhooks: it says why instead
        secret = resolve(settings.session_secret, base=root)
        if len(secret) < 32:
            raise ConfigError("console.session_secret: the key must be at least 32 characters")
        sign = settings.sign_in
        local = LocalAccounts(root / sign.users) if sign.type == "local" else None
        oidc = oidc_client(sign, resolve(sign.client_secret, base=root)) if sign.type == "oidc" else None
    except ConfigError as exc:
        log.error("console not served: %s", exc)
        return _not_configured(engine.environment, str(exc))
    ui = Console(engine, state, settings, local, oidc)
    middleware = [Middleware(SessionMiddleware, secret_key=secret, session_cookie=COOKIE, same_site="lax",
                             https_only=settings.secure_cookies, max_age=int(settings.session_hours * 3600))]
    return Starlette(routes=ui.routes(), middleware=middleware)


def _not_configured(environment: str, why: str) -> Starlette:
    message = redact.text(f"the console is not available in environment '{environment}': {why}")

    async def missing(request: Request):
        return PlainTextResponse(message, status_code=404)

    return Starlette(routes=[Route("/{path:path}", public(missing), methods=["GET", "POST"])])


class Console:
    def __init__(self, engine, state, settings, local, oidc) -> None:
        self.engine, self.state, self.settings = engine, state, settings
        self.local, self.oidc = local, oidc
        self.templates = Templates(HERE / "templates")

    def routes(self) -> list:
        return [
            Route("/", page(self.overview)),
            Route("/interfaces/{iid:int}", page(self.interface)),
            Route("/interfaces/{iid:int}/run", action(self.run), methods=["POST"]),
            Route("/interfaces/{iid:int}/dry-run", action(self.dry_run), methods=["POST"]),
            Route("/runs/{rid:int}", page(self.run_detail)),
            Route("/deadletters", page(self.deadletters)),
            Route("/deadletters/{did:int}", page(self.deadletter)),
            Route("/deadletters/replay", action(self.replay), methods=["POST"]),
            Route("/deadletters/discard", action(self.discard), methods=["POST"]),
            Route("/lineage", page(self.lineage)),
            Route("/audit", page(self.audit)),
            Route("/login", public(self.login_form), methods=["GET"]),
            Route("/login", public(self.login), methods=["POST"]),
            Route("/auth/oidc", public(self.oidc_start)),
            Route("/auth/callback", public(self.oidc_callback)),
            Route("/logout", page(self.logout), methods=["POST"]),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ]

    def render(self, request: Request, name: str, code: int = 200, **context) -> HTMLResponse:
        context.update(request=request, root=request.scope.get("root_path", "").rstrip("/"),
                       actor=getattr(request.state, "actor", None), csrf=csrf_token(request),
                       environment=self.engine.environment)
        return HTMLResponse(self.templates.render(name, context), status_code=code)

    # -- pages ---------------------------------------------------------------------------------

    async def overview(self, request: Request):
        rows = views.overview(self.engine, self.state)
        totals = {c: sum(r["rag"] == c for r in rows) for c in ("green", "amber", "red", "grey")}
        systems = views.systems(self.engine.project, rows)
        return self.render(request, "overview.html", rows=rows, totals=totals, systems=systems,
                           picture=Markup(redact.text(architecture_svg(self.engine.project, systems))),  # noqa: S704 - our own SVG, escaped
                           mermaid=views.coloured_mermaid(self.engine.project, systems))

    async def interface(self, request: Request, **extra):
        iid = request.path_params["iid"]
        if iid not in self.engine.project.interfaces:
            return self.render(request, "message.html", 404, title="Not found", message=f"there is no interface {iid}")
        return self.render(request, "interface.html", **views.interface_page(self.engine, iid), **extra)

    async def run_detail(self, request: Request):
        found = views.run_page(self.engine, request.path_params["rid"])
        if found is None:
            return self.render(request, "message.html", 404, title="Not found",
                               message=f"there is no run {request.path_params['rid']}")
        return self.render(request, "run.html", **found)

    async def deadletters(self, request: Request, **extra):
        filters = _filters(request.query_params)
        status = request.query_params.get("status") or "open"
        letters = self.engine.store.dead_letters(interface_id=filters.interface_id, error_class=filters.error_class,
                                                 since=filters.since, status=None if status == "all" else status,
                                                 limit=500)
        return self.render(request, "deadletters.html", letters=letters, filters=filters, status=status,
                           query=request.query_params, interfaces=sorted(self.engine.project.interfaces), **extra)

    async def deadletter(self, request: Request):
        from runtime.engine.deadletters import masked

        letter = self.engine.store.dead_letter(request.path_params["did"])
        if letter is None:
            return self.render(request, "message.html", 404, title="Not found",
                               message=f"there is no dead letter {request.path_params['did']}")
        return self.render(request, "deadletter.html", letter=masked(letter))

    async def lineage(self, request: Request):
        query = request.query_params.get("q", "")
        return self.render(request, "lineage.html", q=query, rows=views.lineage_search(self.engine.store, query))

    async def audit(self, request: Request):
        return self.render(request, "audit.html", entries=audit.entries(self.engine.store, limit=500))

    # -- actions -------------------------------------------------------------------------------

    async def run(self, request: Request):
        from starlette.concurrency import run_in_threadpool

        iid, form = request.path_params["iid"], request.state.form
        try:
            summary = await run_in_threadpool(actions.run_now, self.engine, request.state.actor, iid, form.get("reason"))
        except KoppelError as exc:
            return await self.interface(request, notice=f"not run: {exc}", notice_class="bad")
        if summary.run_id:
            return RedirectResponse(f"{_root(request)}/runs/{summary.run_id}", status_code=303)
        return await self.interface(request, notice=f"{summary.outcome}: {summary.message or 'nothing to do'}")

    async def dry_run(self, request: Request):
        from starlette.concurrency import run_in_threadpool

        iid, form = request.path_params["iid"], request.state.form
        limit = max(1, min(_int(form.get("limit")) or 5, 100))
        try:
            items = await run_in_threadpool(actions.dry_run_now, self.engine, request.state.actor, iid, limit,
                                            form.get("reason"))
        except KoppelError as exc:
            return await self.interface(request, notice=f"dry-run failed: {exc}", notice_class="bad")
        return await self.interface(request, dry_run=items)

    async def replay(self, request: Request):
        from starlette.concurrency import run_in_threadpool

        selection, form = _selection(request.state.form), request.state.form
        try:
            results = await run_in_threadpool(actions.replay, self.engine, request.state.actor, selection, form.get("reason"))
        except (actions.ActionRefused, KoppelError) as exc:
            return await self.deadletters(request, notice=f"not replayed: {exc}", notice_class="bad")
        summary = ", ".join(f"{r.id}: {r.status}" + (f" ({r.message})" if r.message else "") for r in results)
        return await self.deadletters(request, notice=f"replayed {len(results)}: {summary or 'none open'}")

    async def discard(self, request: Request):
        selection, form = _selection(request.state.form), request.state.form
        try:
            n = actions.discard(self.engine, request.state.actor, selection, form.get("reason"))
        except actions.ActionRefused as exc:
            return await self.deadletters(request, notice=f"not discarded: {exc}", notice_class="bad")
        return await self.deadletters(request, notice=f"discarded {n} dead letter(s)")

    # -- signing in ----------------------------------------------------------------------------

    async def login_form(self, request: Request, error: str | None = None, code: int = 200):
        return self.render(request, "login.html", code, error=error, next=request.query_params.get("next", ""),
                           method=self.settings.sign_in.type)

    async def login(self, request: Request):
        form = await request.form()
        if not hmac_equal(str(form.get("csrf") or ""), request.session.get("csrf") or ""):
            return await self.login_form(request, "the sign-in form expired; try again", 403)
        if self.local is None:
            return await self.login_form(request, "this environment signs in with the identity provider", 400)
        name = str(form.get("name") or "")
        actor = self.local.sign_in(name, str(form.get("password") or ""))
        if actor is None:
            why = "too many wrong passwords; wait 15 minutes" if self.local.locked(name) else "wrong name or password"
            return await self.login_form(request, why, 401)
        sign_in(request, actor, self.settings.session_hours)
        return RedirectResponse(safe_next(str(form.get("next") or ""), _root(request)), status_code=303)

    async def logout(self, request: Request):
        request.session.clear()
        return RedirectResponse(f"{_root(request)}/login", status_code=303)

    async def oidc_start(self, request: Request):
        if self.oidc is None:
            return PlainTextResponse("this environment signs in with a local account", status_code=404)
        request.session["next"] = safe_next(request.query_params.get("next"), _root(request))
        return await self.oidc.authorize_redirect(request, self.settings.sign_in.redirect_url)

    async def oidc_callback(self, request: Request):
        from authlib.integrations.base_client import OAuthError

        if self.oidc is None:
            return PlainTextResponse("this environment signs in with a local account", status_code=404)
        try:
            token = await self.oidc.authorize_access_token(request)
        except OAuthError as exc:
            return await self.login_form(request, f"the identity provider refused: {exc.error}", 401)
        claims = token.get("userinfo") or {}
        role = role_from_claims(self.settings.sign_in, claims)
        if role is None:
            return await self.login_form(request, "your account has no Koppel role (ask for koppel-viewer or "
                                                  "koppel-operator)", 403)
        name = claims.get("preferred_username") or claims.get("email") or claims.get("sub")
        target = request.session.get("next")
        sign_in(request, Actor(str(name), role), self.settings.session_hours)
        return RedirectResponse(safe_next(target, _root(request)), status_code=303)


def hmac_equal(a: str, b: str) -> bool:
    import hmac

    return bool(b) and hmac.compare_digest(a.encode(), b.encode())


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def _int(value) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _since(value) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # the form's datetime-local: the college's own clock, as the pages show it
        from zoneinfo import ZoneInfo

        parsed = parsed.replace(tzinfo=ZoneInfo("Europe/Amsterdam"))
    return parsed.astimezone(dt.UTC)  # the state stores UTC (SQLite compares the text)


def _filters(params) -> actions.Selection:
    return actions.Selection(ids=[], interface_id=_int(params.get("interface")),
                             error_class=params.get("error_class") or None, since=_since(params.get("since")))


def _selection(form) -> actions.Selection:
    selection = _filters(form)
    selection.ids = [i for i in (_int(v) for v in form.getlist("id")) if i is not None]
    selection.every_matching = form.get("scope") == "matching"
    return selection

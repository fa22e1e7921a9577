"""OpenID Connect sign-in (acceptatie, productie): no identity provider runs here, so the test
starts a minimal one on 127.0.0.1 (discovery document, JWKS, token endpoint, an RS256-signed ID
token) and walks the authorisation code flow through the console: the redirect it builds, the
callback with code and state, the ID token verified, the role taken from the ``roles`` claim.
What a real provider adds (consent, its own sessions, MFA) is not exercised."""

from __future__ import annotations

import time
import warnings
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Mount, Route

from tests.liveserver import AppServer as Server
from tests.liveserver import free_port
from tests.e2e.conftest import copy_project

CLIENT_ID, CLIENT_SECRET = "koppel-console-acc", "oidc-client-secret-for-the-test"


class Provider:
    """Just enough of an OpenID provider for one code flow."""

    def __init__(self, port: int, roles: list[str]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.jose import JsonWebKey
        self.base, self.roles = f"http://127.0.0.1:{port}", roles
        self.key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
        self.codes: dict[str, dict] = {}
        self.token_requests: list[dict] = []
        self.app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
            Route("/jwks", lambda r: JSONResponse({"keys": [self.key.as_dict(is_private=False)]})),
        ])

    async def discovery(self, request: Request):
        return JSONResponse({"issuer": self.base, "authorization_endpoint": f"{self.base}/authorize",
                             "token_endpoint": f"{self.base}/token", "jwks_uri": f"{self.base}/jwks",
                             "response_types_supported": ["code"], "subject_types_supported": ["public"],
                             "id_token_signing_alg_values_supported": ["RS256"]})

    async def authorize(self, request: Request):
        q = request.query_params
        code = f"code-{len(self.codes)}"
        self.codes[code] = {"nonce": q.get("nonce"), "redirect_uri": q["redirect_uri"]}
        return RedirectResponse(f"{q['redirect_uri']}?code={code}&state={q['state']}", status_code=302)

    async def token(self, request: Request):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.jose import jwt
        form = dict(await request.form())
        self.token_requests.append({**form, "authorization": request.headers.get("authorization", "")})
        grant = self.codes.pop(form.get("code"), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {"iss": self.base, "aud": CLIENT_ID, "sub": "f3c1", "preferred_username": "j.jansen",
                  "nonce": grant["nonce"], "iat": now, "exp": now + 300, "roles": self.roles}
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.as_dict()["kid"]}, claims, self.key).decode()
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})


@pytest.fixture
def acceptatie(tmp_path, monkeypatch):
    """The console of the acceptatie environment, its provider replaced by the one above."""
    def make(roles: list[str]):
        from starlette.testclient import TestClient

        from runtime.console.app import console_app
        from runtime.engine.state.store import StateStore
        from runtime.project import load_project

        port = free_port()
        provider = Provider(port, roles)
        copy_project(tmp_path)
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(catalog.read_text(encoding="utf-8").replace(
            "https://login.kw1c.nl/realms/medewerkers-acc", provider.base).replace(
            "https://koppel-acc.kw1c.local/ui/auth/callback", "https://testserver/ui/auth/callback"), encoding="utf-8")
        monkeypatch.setenv("KOPPEL_CONSOLE_OIDC_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("KOPPEL_CONSOLE_SESSION_KEY", "k" * 48)
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        engine = type("E", (), {"project": load_project(tmp_path).require_valid(), "environment": "acceptatie",
                                "store": store})()
        app = Starlette(routes=[Mount("/ui", app=console_app(engine))])
        client = TestClient(app, base_url="https://testserver")
        client.engine_for_test = engine
        return provider, client

    yield make


def test_the_code_flow_signs_in_with_the_role_from_the_id_token(acceptatie):
    provider, client = acceptatie(["medewerker", "koppel-operator"])
    with Server(provider.app, int(provider.base.rsplit(":", 1)[1])):
        start = client.get("/ui/auth/oidc?next=/ui/audit", follow_redirects=False)
        assert start.status_code == 302
        url = urlsplit(start.headers["location"])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider.base}/authorize"
        assert (query["response_type"], query["client_id"], query["redirect_uri"], query["scope"]) == \
            ("code", CLIENT_ID, "https://testserver/ui/auth/callback", "openid profile email")
        assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20
        back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        done = client.get(back.replace("https://testserver", ""), follow_redirects=False)
        assert (done.status_code, done.headers["location"]) == (303, "/ui/audit")
        cookie = done.headers["set-cookie"].lower()
        assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie  # outside the sandbox
        page = client.get("/ui/audit")
        assert page.status_code == 200 and "j.jansen · operator · acceptatie" in page.text
        (token_request,) = provider.token_requests
        assert token_request["grant_type"] == "authorization_code"
        assert token_request["authorization"].startswith("Basic ")  # client_secret_basic
        # the same state cannot be used twice
        again = client.get(back.replace("https://testserver", ""), follow_redirects=False)
        assert again.status_code == 401 and "the identity provider refused: mismatching_state" in again.text


def test_someone_without_a_koppel_role_is_refused(acceptatie):
    provider, client = acceptatie(["medewerker"])
    with Server(provider.app, int(provider.base.rsplit(":", 1)[1])):
        start = client.get("/ui/auth/oidc", follow_redirects=False)
        back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        refused = client.get(back.replace("https://testserver", ""), follow_redirects=False)
        assert refused.status_code == 403
        assert "your account has no Koppel role" in refused.text
        assert client.get("/ui/", headers={"accept": "application/json"}).status_code == 401


def test_local_sign_in_is_not_offered_where_the_provider_signs_in(acceptatie):
    _provider, client = acceptatie(["koppel-viewer"])
    page = client.get("/ui/login")
    assert "Sign in with the college account" in page.text and 'name="password"' not in page.text


def test_a_console_whose_secrets_are_missing_says_so_and_does_not_stop_the_server(acceptatie, monkeypatch):
    _provider, client = acceptatie(["koppel-viewer"])
    monkeypatch.delenv("KOPPEL_CONSOLE_SESSION_KEY", raising=False)
    from starlette.testclient import TestClient

    from runtime.console.app import console_app

    project_engine = client.engine_for_test  # the fixture built its app with the key set: again without
    answer = TestClient(Starlette(routes=[Mount("/ui", app=console_app(project_engine))])).get("/ui/")
    assert answer.status_code == 404
    assert answer.text == ("the console is not available in environment 'acceptatie': secret "
                           "${env:KOPPEL_CONSOLE_SESSION_KEY}: environment variable KOPPEL_CONSOLE_SESSION_KEY is not set")

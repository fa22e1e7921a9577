"""Outbound authentication against real token endpoints and APIs on 127.0.0.1."""

from __future__ import annotations

import base64
import itertools
import time
from pathlib import Path

import pytest

from plugins.rest import plugin
from runtime.errors import ConfigError
from runtime.plugin import Item

from .conftest import context


def _send_one(url: str, *, root: Path | None = None, **system):
    spec = plugin.target_spec.model_validate({"type": "rest", "path": "records"})
    kwargs = {"root": root} if root else {}
    target = plugin.create_target(spec, context(url, **kwargs, **system))
    outcomes = target.write([Item(key="k1", payload={"id": 1}, source_key="k1")])
    return target, outcomes


@pytest.fixture
def echo(peer):
    @peer.route("POST", "/records")
    def records(request):
        return 201, {"ok": True}

    return peer


def test_api_key_headers_with_prefixes_signhost_style(echo, monkeypatch) -> None:
    monkeypatch.setenv("T_APP_KEY", "app-key-123")
    monkeypatch.setenv("T_USER_TOKEN", "user-token-456")
    _send_one(
        echo.url,
        auth={
            "type": "api_key",
            "headers": {"Application": "${env:T_APP_KEY}", "Authorization": "${env:T_USER_TOKEN}"},
            "prefixes": {"Application": "APPKey ", "Authorization": "APIKey "},
        },
    )
    headers = echo.requests[0].headers
    assert headers["application"] == "APPKey app-key-123"
    assert headers["authorization"] == "APIKey user-token-456"


def test_bearer_and_basic(echo, monkeypatch) -> None:
    monkeypatch.setenv("T_TOKEN", "bearer-token-789")
    _send_one(echo.url, auth={"type": "bearer", "token": "${env:T_TOKEN}"})
    assert echo.requests[-1].headers["authorization"] == "Bearer bearer-token-789"
    monkeypatch.setenv("T_PASSWORD", "geheim-wachtwoord")
    _send_one(echo.url, auth={"type": "basic", "username": "koppel", "password": "${env:T_PASSWORD}"})
    expected = base64.b64encode(b"koppel:geheim-wachtwoord").decode()
    assert echo.requests[-1].headers["authorization"] == f"Basic {expected}"


class TokenEndpoint:
    """An OAuth2 token endpoint that hands out short-lived tokens and checks them on the API."""

    def __init__(self, peer, *, expires_in: float = 3600, refresh: str | None = None) -> None:
        self.peer = peer
        self.expires_in = expires_in
        self.issued: dict[str, float] = {}
        self.token_calls: list[dict] = []
        self.refresh = refresh  # the one valid refresh token (rotation)
        self._n = itertools.count(1)
        peer.route("POST", "/oauth/token")(self.token)
        peer.route("POST", "/records")(self.api)

    def token(self, request):
        form = request.form()
        self.token_calls.append(form)
        if form.get("client_secret") != "client-secret-abc":
            return 401, {"error": "invalid_client"}
        n = next(self._n)
        answer = {"access_token": f"access-{n}", "token_type": "bearer", "expires_in": self.expires_in}
        if form["grant_type"] == "refresh_token":
            if form.get("refresh_token") != self.refresh:
                return 400, {"error": "invalid_grant", "error_description": "refresh token is void"}
            self.refresh = f"refresh-{n}"
            answer["refresh_token"] = self.refresh
        self.issued[answer["access_token"]] = time.time() + self.expires_in
        return 200, answer

    def api(self, request):
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.issued.get(token, 0) < time.time():
            return 401, {"message": "token expired"}
        return 201, {"ok": True, "key": request.headers.get("ocp-apim-subscription-key")}


def _client_credentials(url: str, **extra) -> dict:
    return {
        "type": "oauth2_client_credentials",
        "token_url": f"{url}/oauth/token",
        "client_id": "koppel",
        "client_secret": "${env:T_CLIENT_SECRET}",
        "scope": "api://xedule-connect/.default",
        **extra,
    }


def test_client_credentials_token_is_cached_shared_and_sent_with_extra_headers(peer, monkeypatch) -> None:
    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret-abc")
    monkeypatch.setenv("T_SUBSCRIPTION", "sub-key-1")
    endpoint = TokenEndpoint(peer)
    auth = _client_credentials(peer.url, headers={"Ocp-Apim-Subscription-Key": "${env:T_SUBSCRIPTION}"})
    for _ in range(3):  # three targets of the same system: one token
        _, outcomes = _send_one(peer.url, auth=auth)
        assert outcomes[0].ok and outcomes[0].response["key"] == "sub-key-1"
    assert len(endpoint.token_calls) == 1
    assert endpoint.token_calls[0]["grant_type"] == "client_credentials"
    assert endpoint.token_calls[0]["scope"] == "api://xedule-connect/.default"


def test_client_credentials_token_is_renewed_before_it_expires(peer, monkeypatch) -> None:
    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret-abc")
    endpoint = TokenEndpoint(peer, expires_in=1.2)
    target, outcomes = _send_one(peer.url, auth=_client_credentials(peer.url, renew_before=0.5))
    time.sleep(0.8)  # inside renew_before of the expiry, still valid at the peer
    outcomes += target.write([Item(key="k2", payload={"id": 2}, source_key="k2")])
    assert all(o.ok for o in outcomes)
    assert len(endpoint.token_calls) == 2
    assert not [r for r in peer.requests if r.path == "/records" and r.headers["authorization"] == "Bearer access-1"][1:]


def test_a_401_renews_the_token_once_and_retries(peer, monkeypatch) -> None:
    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret-abc")
    endpoint = TokenEndpoint(peer)
    target, _ = _send_one(peer.url, auth=_client_credentials(peer.url))
    endpoint.issued.clear()  # the API revokes every token
    outcomes = target.write([Item(key="k2", payload={"id": 2}, source_key="k2")])
    assert outcomes[0].ok and len(endpoint.token_calls) == 2


def test_wrong_client_secret_is_a_config_error_without_the_secret(peer, monkeypatch) -> None:
    monkeypatch.setenv("T_CLIENT_SECRET", "wrong-secret-xyz")
    TokenEndpoint(peer)
    with pytest.raises(ConfigError) as caught:
        _send_one(peer.url, auth=_client_credentials(peer.url))
    assert "invalid_client" in str(caught.value) and "wrong-secret-xyz" not in str(caught.value)


def _exact_auth(url: str, reference: str) -> dict:
    return {
        "type": "oauth2_refresh_token",
        "token_url": f"{url}/oauth/token",
        "client_id": "koppel",
        "client_secret": "${env:T_CLIENT_SECRET}",
        "refresh_token": reference,
        "renew_before": 0.5,
    }


def test_rotated_refresh_token_is_written_back_and_survives_a_restart(peer, monkeypatch, tmp_path) -> None:
    from plugins.rest.auth import forget_tokens

    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret-abc")
    endpoint = TokenEndpoint(peer, expires_in=1.0, refresh="refresh-0")
    token_file = tmp_path / "var" / "exact-refresh-token"
    token_file.parent.mkdir()
    token_file.write_text("refresh-0\n")
    auth = _exact_auth(peer.url, "${file:var/exact-refresh-token}")

    target, outcomes = _send_one(peer.url, root=tmp_path, auth=auth)
    assert outcomes[0].ok
    assert token_file.read_text().strip() == "refresh-1" == endpoint.refresh
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    time.sleep(0.6)  # the access token is now within renew_before: renewed with the rotated token
    assert target.write([Item(key="k2", payload={"id": 2}, source_key="k2")])[0].ok
    assert token_file.read_text().strip() == "refresh-2"
    assert [c["refresh_token"] for c in endpoint.token_calls] == ["refresh-0", "refresh-1"]

    forget_tokens()  # a restart: nothing in memory, only the file
    _, outcomes = _send_one(peer.url, root=tmp_path, auth=auth)
    assert outcomes[0].ok and token_file.read_text().strip() == "refresh-3"
    assert list(token_file.parent.iterdir()) == [token_file], "temporary files left behind"


def test_void_refresh_token_is_a_config_error(peer, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret-abc")
    TokenEndpoint(peer, refresh="refresh-live")
    (tmp_path / "rt").write_text("refresh-old")
    with pytest.raises(ConfigError) as caught:
        _send_one(peer.url, root=tmp_path, auth=_exact_auth(peer.url, "${file:rt}"))
    assert "invalid_grant" in str(caught.value) and "consent" in str(caught.value)


def test_refresh_token_from_environment_rotates_in_memory(peer, monkeypatch) -> None:
    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret-abc")
    monkeypatch.setenv("T_REFRESH", "refresh-0")
    endpoint = TokenEndpoint(peer, expires_in=1.0, refresh="refresh-0")
    target, outcomes = _send_one(peer.url, auth=_exact_auth(peer.url, "${env:T_REFRESH}"))
    time.sleep(0.6)
    outcomes += target.write([Item(key="k2", payload={"id": 2}, source_key="k2")])
    assert all(o.ok for o in outcomes)
    assert [c["refresh_token"] for c in endpoint.token_calls] == ["refresh-0", "refresh-1"]


def test_unwritable_token_file_keeps_the_rotated_token_in_memory(peer, monkeypatch, tmp_path) -> None:
    from plugins.rest import auth as auth_module

    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret-abc")
    endpoint = TokenEndpoint(peer, expires_in=1.0, refresh="refresh-0")
    (tmp_path / "rt").write_text("refresh-0")

    def refuse(path, text):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(auth_module, "write_atomically", refuse)
    target, outcomes = _send_one(peer.url, root=tmp_path, auth=_exact_auth(peer.url, "${file:rt}"))
    time.sleep(0.6)
    outcomes += target.write([Item(key="k2", payload={"id": 2}, source_key="k2")])
    assert all(o.ok for o in outcomes)
    assert [c["refresh_token"] for c in endpoint.token_calls] == ["refresh-0", "refresh-1"]


def test_concurrent_calls_share_one_rotation(peer, monkeypatch, tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("T_CLIENT_SECRET", "client-secret-abc")
    endpoint = TokenEndpoint(peer, refresh="refresh-0")
    (tmp_path / "rt").write_text("refresh-0")
    auth = _exact_auth(peer.url, "${file:rt}")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _send_one(peer.url, root=tmp_path, auth=auth)[1][0].ok, range(8)))
    assert all(results)
    assert len(endpoint.token_calls) == 1, "two threads rotated the same refresh token"
    assert (tmp_path / "rt").read_text().strip() == "refresh-1"

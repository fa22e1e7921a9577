"""Outbound authentication as ``httpx.Auth`` objects, one per kind in ``runtime/models/auth.py``.

- ``none``, ``bearer``, ``api_key`` (header + prefix, e.g. Signhost's ``Application: APPKey …`` and
  ``Authorization: APIKey …``), ``basic``: fixed headers.
- ``oauth2_client_credentials`` (Xedule, NED/OOAPI): a token from the token endpoint, cached until
  ``renew_before`` seconds before it expires, renewed once on a 401; extra headers (Xedule's
  ``Ocp-Apim-Subscription-Key``) go on every API call.
- ``oauth2_refresh_token`` (Exact Online): every renewal returns a *new* refresh token and voids
  the old one. The new one is written back, atomically (temp file + rename, mode 0600), to the
  file its ``${file:...}`` reference points at, *before* the access token is used, so a restart
  or a second process reads the live token. An ``${env:...}`` reference cannot be written back:
  the rotated token is then kept in memory only and a warning says a restart will need a new one.

Tokens live in a process-wide cache keyed by token URL, client and credential, so a source and a
target of the same system share one token (and, for Exact, never race two rotations: renewals
hold a lock and re-check after acquiring it).

Token requests go through the plugin's own ``httpx.Client`` (TLS settings, timeouts), without auth. Token endpoint answers map to the taxonomy: 400/401 (invalid_grant, invalid_client)
→ ConfigError (someone must fix the credentials or consent again); 5xx/429/timeouts →
TransientError. Token values are registered with ``runtime.redact`` so they are masked everywhere.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from runtime import redact, secrets
from runtime.errors import ConfigError, TransientError
from runtime.models import auth as models

from . import errors

log = logging.getLogger(__name__)


def resolve(ref: str, base: Path) -> str:
    return secrets.resolve(ref, base=base)


def build_auth(auth: object | None, project_root: Path, options: dict | None = None) -> httpx.Auth | None:
    """The httpx.Auth for a system's ``auth`` settings (None: no authentication)."""
    options = options or {}
    if auth is None or isinstance(auth, models.NoAuth):
        return None
    if isinstance(auth, models.BearerAuth):
        return HeaderAuth({"Authorization": f"Bearer {resolve(auth.token, project_root)}"})
    if isinstance(auth, models.ApiKeyAuth):
        return HeaderAuth(
            {name: auth.prefixes.get(name, "") + resolve(ref, project_root) for name, ref in auth.headers.items()}
        )
    if isinstance(auth, models.BasicAuth):
        return httpx.BasicAuth(auth.username, resolve(auth.password, project_root))
    if isinstance(auth, models.OAuth2ClientCredentials):
        return OAuth2Auth(ClientCredentialsGrant(auth, project_root, options.get("token_auth_method", "post")))
    if isinstance(auth, models.OAuth2RefreshToken):
        return OAuth2Auth(RefreshTokenGrant(auth, project_root))
    raise ConfigError(f"auth type '{getattr(auth, 'type', auth)}' is not supported by the rest plugin")


class HeaderAuth(httpx.Auth):
    """Fixed headers on every request."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.headers)
        yield request


@dataclass
class TokenState:
    access_token: str | None = None
    expires_at: float = 0.0  # epoch seconds
    refresh_token: str | None = None  # the rotated one, when it cannot be written back
    unsaved: bool = False  # writing the rotated refresh token to its file failed
    lock: threading.RLock = field(default_factory=threading.RLock)

    def fresh(self, renew_before: float) -> bool:
        return bool(self.access_token) and time.time() < self.expires_at - renew_before


_STATES: dict[tuple, TokenState] = {}
_STATES_LOCK = threading.Lock()


def _state(key: tuple) -> TokenState:
    with _STATES_LOCK:
        return _STATES.setdefault(key, TokenState())


def forget_tokens() -> None:
    """Drop every cached token (tests; a reload of the settings)."""
    with _STATES_LOCK:
        _STATES.clear()


class Grant:
    """How to ask the token endpoint for an access token."""

    token_url: str
    renew_before: float
    key: tuple

    def token_request(self, state: TokenState) -> httpx.Request:
        raise NotImplementedError

    def accept(self, state: TokenState, body: dict) -> None:
        """Store what the token endpoint answered (and persist rotated credentials)."""
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise errors.malformed(f"token endpoint {self.token_url}", "no access_token in the answer")
        redact.register_secret(token)
        try:
            expires_in = float(body.get("expires_in", 300))
        except (TypeError, ValueError):
            expires_in = 300.0
        state.access_token = token
        state.expires_at = time.time() + expires_in


class ClientCredentialsGrant(Grant):
    def __init__(self, auth: models.OAuth2ClientCredentials, root: Path, method: str) -> None:
        self.auth = auth
        self.token_url = auth.token_url
        self.renew_before = auth.renew_before
        self.secret = resolve(auth.client_secret, root)
        self.method = method
        self.extra_headers = {name: resolve(ref, root) for name, ref in auth.headers.items()}
        self.key = ("cc", auth.token_url, auth.client_id, auth.client_secret, auth.scope)

    def token_request(self, state: TokenState) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.auth.scope:
            form["scope"] = self.auth.scope
        headers = {"Accept": "application/json"}
        if self.method == "basic":
            headers["Authorization"] = httpx.BasicAuth(self.auth.client_id, self.secret)._auth_header
        else:
            form.update(client_id=self.auth.client_id, client_secret=self.secret)
        return httpx.Request("POST", self.token_url, data=form, headers=headers)


class RefreshTokenGrant(Grant):
    def __init__(self, auth: models.OAuth2RefreshToken, root: Path) -> None:
        self.auth = auth
        self.root = root
        self.token_url = auth.token_url
        self.renew_before = auth.renew_before
        self.secret = resolve(auth.client_secret, root)
        self.extra_headers: dict[str, str] = {}
        self.key = ("rt", auth.token_url, auth.client_id, auth.refresh_token)
        self.file = _file_of(auth.refresh_token, root)
        resolve(auth.refresh_token, root)  # fail at open, not at the first call, if it is missing

    def current_refresh_token(self, state: TokenState) -> str:
        # The file is the truth (another process may have rotated it); memory only for ${env:}
        # references and when writing the file failed.
        if (self.file is None or state.unsaved) and state.refresh_token:
            return state.refresh_token
        return resolve(self.auth.refresh_token, self.root)

    def token_request(self, state: TokenState) -> httpx.Request:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.current_refresh_token(state),
            "client_id": self.auth.client_id,
            "client_secret": self.secret,
        }
        return httpx.Request("POST", self.token_url, data=form, headers={"Accept": "application/json"})

    def accept(self, state: TokenState, body: dict) -> None:
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            redact.register_secret(rotated)
            if self.file is not None:
                try:
                    write_atomically(self.file, rotated + "\n")
                    state.unsaved = False
                except OSError as exc:
                    # The old token is void already: keep the new one in memory so this process
                    # goes on working, and say loudly that a restart will need a new consent.
                    log.error(
                        "cannot write the rotated refresh token to %s (%s): kept in memory only; "
                        "a restart will need a new consent",
                        self.file,
                        exc.strerror,
                    )
                    state.unsaved = True
                state.refresh_token = rotated
            else:
                if state.refresh_token is None:
                    log.warning(
                        "refresh token %s is an environment variable: the rotated token is kept in "
                        "memory only, and a restart will need a new one",
                        self.auth.refresh_token,
                    )
                state.refresh_token = rotated
        super().accept(state, body)


def _file_of(reference: str, root: Path) -> Path | None:
    match = secrets.REFERENCE.match(reference)
    if not match or match.group(1) != "file":
        return None
    path = Path(os.path.expanduser(match.group(2)))
    return path if path.is_absolute() else root / path


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` so that a reader sees the old or the new content, never a half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class OAuth2Auth(httpx.Auth):
    """Bearer token from a Grant, cached process-wide, renewed early and once more on a 401.

    The token call is made directly (``http.send(..., auth=None)`` on the plugin's own client,
    so the TLS settings and timeouts apply) while holding the credential's lock, rather than
    yielded through httpx's auth-flow generator: a generator suspended inside the lock could keep
    it held for as long as an exception's traceback lives, and block other threads.
    """

    requires_response_body = True

    def __init__(self, grant: Grant) -> None:
        self.grant = grant
        self.state = _state(grant.key)
        self.http: httpx.Client | None = None  # set by RestClient once its client exists

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token(stale=None)
        request.headers.update(self.grant.extra_headers)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            # Revoked or expired early: renew once (unless another call already did) and retry.
            token = self._token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def _token(self, stale: str | None) -> str:
        state = self.state
        if stale is None and state.fresh(self.grant.renew_before):
            return state.access_token  # type: ignore[return-value]
        with state.lock:  # one renewal at a time per credential (rotation must never race)
            if state.access_token and state.access_token != stale and state.fresh(self.grant.renew_before):
                return state.access_token
            if self.http is None:
                raise RuntimeError("OAuth2Auth.http is not set")
            try:
                response = self.http.send(self.grant.token_request(state), auth=None)
            except httpx.HTTPError as exc:
                raise errors.for_exception(exc, f"token endpoint {self.grant.token_url}") from None
            self._accept(response)
            return state.access_token  # type: ignore[return-value]

    def _accept(self, response: httpx.Response) -> None:
        what = f"token endpoint {self.grant.token_url}"
        status = response.status_code
        if status in (400, 401, 403):
            raise ConfigError(
                f"{what} refused the credentials: HTTP {status}: {errors.error_text(response)} "
                "(check client id and secret; for a refresh token: consent again)",
                code=str(status),
            )
        error = errors.for_status(response, what)
        if error is not None:
            raise error if isinstance(error, (TransientError, ConfigError)) else TransientError(str(error))
        try:
            body = response.json()
        except ValueError:
            raise errors.malformed(what, "not JSON") from None
        if not isinstance(body, dict):
            raise errors.malformed(what, "not a JSON object")
        self.grant.accept(self.state, body)

"""One ``httpx.Client`` per plugin instance, built from the system's settings for the environment.

Sync client with keep-alive (measured ~3× faster than AsyncClient here). TLS verification is
always on unless the catalog says ``tls.verify: false``; ``tls.ca_file`` and mutual TLS with
``tls.client_cert`` + ``tls.client_key`` (a secret reference to the key file) are supported.

``send()`` paces calls (``ratelimit``), retries a 429/503 *inside* the plugin when the peer asks
for a short wait (``Retry-After`` ≤ ``options.retry_after_max_wait``, default 5 s, at most
``options.retry_after_attempts`` times, default 3), and otherwise raises the mapped error from
``errors``: a run is never failed by a brief rate limit, and a long one goes back to the engine
as a TransientError carrying ``retry_after``.
"""

from __future__ import annotations

import ssl
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx

from runtime import paths, redact, secrets
from runtime.errors import ConfigError, KoppelError
from runtime.plugin import PluginContext

from . import errors
from .auth import build_auth
from .ratelimit import RateLimiter

USER_AGENT = "koppel/0.1 (+rest plugin)"


class RestClient:
    def __init__(self, ctx: PluginContext) -> None:
        system = ctx.system
        if system is None or not system.url:
            raise ConfigError(f"system '{ctx.system_name}' has no url for environment '{ctx.environment}'")
        self.ctx = ctx
        self.base_url = system.url.rstrip("/")
        options = system.options or {}
        self.retry_after_max_wait = float(options.get("retry_after_max_wait", 5.0))
        self.retry_after_attempts = int(options.get("retry_after_attempts", 3))
        self.limiter = RateLimiter(system.rate_limit, max_header_wait=float(options.get("rate_limit_max_wait", 60.0)))
        self.auth = build_auth(system.auth, ctx.project_root, options)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update({k: str(v) for k, v in (options.get("headers") or {}).items()})
        self.http = httpx.Client(
            auth=self.auth,
            timeout=httpx.Timeout(system.timeout),
            verify=_tls_context(system.tls, ctx.project_root),
            headers=headers,
            follow_redirects=True,
        )
        if hasattr(self.auth, "http"):  # OAuth2: token calls use this client (TLS, timeouts)
            self.auth.http = self.http  # type: ignore[union-attr]

    def url(self, path: str) -> str:
        """An absolute URL for ``path``; full URLs (an OData ``__next``) are kept as they are."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        what: str | None = None,
    ) -> httpx.Response:
        """Send one call; return a 2xx response or raise the mapped KoppelError."""
        attempt = 0
        while True:
            self.limiter.wait()
            try:
                response = self.http.request(method, url, params=params, content=content, headers=headers)
            except KoppelError:
                raise  # from the auth flow (token endpoint refused, ...)
            except httpx.HTTPError as exc:
                raise errors.for_exception(exc, what or _what(method, url)) from None
            except ssl.SSLError as exc:
                raise errors.for_exception(httpx.ConnectError(str(exc)), what or _what(method, url)) from None
            self.limiter.observe(response)
            if response.status_code < 300:
                return response
            error = errors.for_status(response, what or _what(method, url))
            assert error is not None
            wait = getattr(error, "retry_after", None)
            if (
                response.status_code in (429, 503)
                and wait is not None
                and wait <= self.retry_after_max_wait
                and attempt < self.retry_after_attempts
            ):
                attempt += 1
                time.sleep(wait)
                continue
            error.detail = {"status": response.status_code}
            raise error

    def close(self) -> None:
        self.http.close()


def _what(method: str, url: str) -> str:
    # Query strings may carry filters with personal data; error messages name the path only.
    return f"{method} {redact.text(url.split('?', 1)[0])}"


@lru_cache(maxsize=1)
def _default_tls() -> ssl.SSLContext:
    # Building an SSL context (loading the CA bundle) costs tens of ms; one is enough per process.
    return httpx.create_ssl_context()


def _tls_context(tls: Any, root: Path) -> ssl.SSLContext | bool:
    if tls is None or (tls.verify and not tls.ca_file and not tls.client_cert):
        return _default_tls()
    if not tls.verify and not tls.client_cert:
        return False
    if tls.ca_file:
        context = ssl.create_default_context(cafile=str(paths.expand(tls.ca_file, root)))
    else:
        context = ssl.create_default_context()
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.client_cert:
        cert = str(paths.expand(tls.client_cert, root))
        key = None
        if tls.client_key:
            # The reference points at the key *file*; resolve it to check it is readable and to
            # register its content for masking, then hand the path to the TLS layer.
            secrets.resolve(tls.client_key, base=root)
            match = secrets.REFERENCE.match(tls.client_key)
            if not match or match.group(1) != "file":
                raise ConfigError("tls.client_key must be a ${file:...} reference to the key file")
            key = str(paths.expand(match.group(2), root))
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"client certificate {cert}: cannot load ({exc})") from None
    return context


class OwnsRestClient:
    """For a source or target of this plugin: the RestClient opened at ``open()`` (the first
    time) and closed at ``close()``; needs ``self.ctx``."""

    client: RestClient | None = None
    ctx: PluginContext

    def open(self) -> None:
        if self.client is None:
            self.client = RestClient(self.ctx)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

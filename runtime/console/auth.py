"""Who may use the console: local accounts (argon2 hashes) or OpenID Connect, and two roles.

viewer   reads every page;
operator also runs, dry-runs, replays and discards (each recorded in the audit trail).

Local accounts (the sandbox, or a college without an identity provider) live in a YAML file
named by catalog.yaml (``console.<env>.sign_in.users``) that holds argon2id hashes only. An
unknown name costs as much as a wrong password (a dummy hash is checked), so the answer's timing
does not tell which names exist; after ``MAX_FAILURES`` wrong passwords for one name within
``LOCKOUT`` seconds that name is refused for the rest of the window.

OpenID Connect (acceptatie, productie) uses authlib's Starlette client: the authorisation code
flow with state and nonce kept in the session, the ID token verified against the provider's
keys, and the role taken from the ``roles_claim`` (``operator_roles`` / ``viewer_roles``);
someone with neither is refused.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from runtime.console.settings import ConsoleEnvironment, OidcSignIn
from runtime.engine.audit import Actor
from runtime.errors import ConfigError
from runtime.models.common import Model

MAX_FAILURES = 5
LOCKOUT = 15 * 60


class Account(Model):
    name: str = Field(min_length=1)
    role: Literal["viewer", "operator"]
    password_hash: str = Field(pattern=r"^\$argon2(id|i|d)\$")


class _UsersFile(Model):
    users: list[Account]


class LocalAccounts:
    def __init__(self, path: Path, *, clock=time.monotonic) -> None:
        from argon2 import PasswordHasher

        self._hasher = PasswordHasher()
        self.accounts = {a.name: a for a in load_accounts(path)}
        self._dummy: str | None = None  # made at the first unknown name: argon2 is slow on purpose
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def sign_in(self, name: str, password: str) -> Actor | None:
        """The account's actor when name and password match; None otherwise (or while locked)."""
        from argon2.exceptions import VerificationError

        if self.locked(name):
            return None
        account = self.accounts.get(name)
        if account is None and self._dummy is None:
            self._dummy = self._hasher.hash("no such user")
        try:
            self._hasher.verify(account.password_hash if account else str(self._dummy), password)
            ok = account is not None
        except VerificationError:
            ok = False
        if not ok or account is None:
            with self._lock:
                self._failures.setdefault(name, []).append(self._clock())
            return None
        with self._lock:
            self._failures.pop(name, None)
        return Actor(account.name, account.role)

    def locked(self, name: str) -> bool:
        now = self._clock()
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < LOCKOUT]
            self._failures[name] = recent
            return len(recent) >= MAX_FAILURES


def load_accounts(path: Path) -> list[Account]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"console users file {path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"console users file {path}: not valid YAML ({exc})") from None
    try:
        return _UsersFile.model_validate(raw).users
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"console users file {path}: {where}: {first['msg']}") from None


def role_from_claims(settings: OidcSignIn, claims: dict) -> str | None:
    """operator, viewer or None (refused) from the ID token's roles claim."""
    value = claims.get(settings.roles_claim) or []
    held = {value} if isinstance(value, str) else set(value)
    if held & set(settings.operator_roles):
        return "operator"
    if held & set(settings.viewer_roles):
        return "viewer"
    return None


def oidc_client(settings: OidcSignIn, client_secret: str):
    """authlib's Starlette client for the provider (metadata read from the issuer on first use)."""
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        name="idp",
        client_id=settings.client_id,
        client_secret=client_secret,
        server_metadata_url=settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.scope},
    )
    return oauth.create_client("idp")


def console_settings(project, environment: str) -> ConsoleEnvironment | None:
    console = getattr(project.catalog, "console", None) or {}
    return console.get(environment)

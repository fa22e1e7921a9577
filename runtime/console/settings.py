"""``console:`` in catalog.yaml: how operators sign in to the console, per environment.

    console:
      sandbox:
        sign_in: {type: local, users: sandbox/secrets/console-users.yaml}
        session_secret: ${file:sandbox/secrets/console-session-key}
        secure_cookies: false
      productie:
        sign_in: {type: oidc, issuer: https://idp.example/, client_id: koppel,
                  client_secret: ${env:KOPPEL_CONSOLE_OIDC_SECRET},
                  redirect_url: https://koppel.kw1c.local/ui/auth/callback}
        session_secret: ${env:KOPPEL_CONSOLE_SESSION_KEY}

Decisions: local accounts are for the sandbox and for a college without an identity provider;
their file holds argon2 hashes only. Without ``console:`` for the environment the console is not
served (``/ui`` answers 404 saying so): no console with a default password ever.
Cookies are ``Secure`` unless ``secure_cookies: false`` (the sandbox on http://127.0.0.1).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from runtime.models.common import Model
from runtime.secrets import SecretRef


class LocalSignIn(Model):
    type: Literal["local"]
    users: str = Field(description="YAML file (relative to the project) of users: name, role, argon2 hash.")


class OidcSignIn(Model):
    type: Literal["oidc"]
    issuer: str = Field(description="The identity provider's issuer URL; its /.well-known/openid-configuration is read.")
    client_id: str
    client_secret: SecretRef
    redirect_url: str = Field(description="This console's callback as registered at the provider: <base>/ui/auth/callback.")
    scope: str = "openid profile email"
    roles_claim: str = Field("roles", description="The ID token claim that lists the user's groups or roles.")
    operator_roles: list[str] = Field(default_factory=lambda: ["koppel-operator"],
                                      description="Values of the roles claim that make an operator.")
    viewer_roles: list[str] = Field(default_factory=lambda: ["koppel-viewer"],
                                    description="Values that make a viewer; anyone else is refused.")


SignIn = Annotated[LocalSignIn | OidcSignIn, Field(discriminator="type")]


class ConsoleEnvironment(Model):
    sign_in: SignIn
    session_secret: SecretRef = Field(description="Key that signs the session cookie (at least 32 bytes).")
    secure_cookies: bool = Field(True, description="Send the session cookie over HTTPS only.")
    session_hours: float = Field(8.0, gt=0, le=24, description="A session ends this long after sign-in.")
